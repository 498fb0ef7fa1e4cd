"""Bad targets for make_hybrid found by probing: refused before any embedding."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from skmedtl import make_hybrid


def _pipe():
    return make_hybrid("lenet5", "logreg", weights=None, input_size=32, verbose=0)


X = np.random.default_rng(0).integers(0, 256, (12, 16, 16), dtype=np.uint8)


@pytest.mark.parametrize(
    "y, match",
    [
        (np.array([0, 1] * 5), r"X has 12 images but y has 10 labels"),
        (np.zeros(12, dtype=int), r"y holds one class only \(0\)"),
        (np.linspace(0, 1, 12), r"Unknown label type"),
    ],
)
def test_bad_y_is_refused_before_the_images_are_embedded(y, match):
    """Were caught by the head only after the (possibly hours-long) extraction."""
    pipe = _pipe()
    with pytest.raises(ValueError, match=match):
        pipe.fit(X, y)
    with pytest.raises(NotFittedError):
        check_is_fitted(pipe.named_steps["features"])


def test_a_dataframe_column_y_still_fits():
    pd = pytest.importorskip("pandas")
    y = pd.DataFrame({"label": ["a", "b"] * 6})
    with pytest.warns(UserWarning, match="column-vector y"):
        pipe = _pipe().fit(X, y)
    assert list(pipe.classes_) == ["a", "b"]
