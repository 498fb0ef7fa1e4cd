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


def test_the_default_svm_head_fits_six_images_per_class():
    """Was "Requesting 5-fold cross-validation but provided less than 5 examples
    for at least one class": the tuning folds left too few for the SVM's own
    5-fold calibration."""
    pipe = make_hybrid("lenet5", weights=None, input_size=32, verbose=0)
    with pytest.warns(UserWarning, match="Too few samples to tune"):
        pipe.fit(X, np.array([0, 1] * 6))
    assert pipe.predict_proba(X).shape == (12, 2)
    assert pipe.named_steps["clf"].n_splits_ == 0  # 5-fold tuning would leave 4


def test_the_svm_head_with_too_few_images_per_class_says_what_to_do():
    pipe = make_hybrid("lenet5", weights=None, input_size=32, verbose=0)
    with pytest.raises(ValueError, match=r"at least 5 images of every class.*'logreg'"):
        pipe.fit(X[:8], np.array([0, 1] * 4))


def test_make_hybrid_n_jobs_0_is_refused():
    """Was accepted, then joblib's error once the forest was fitted."""
    with pytest.raises(ValueError, match=r"n_jobs must be .*; got 0"):
        make_hybrid("lenet5", "rf", n_jobs=0, weights=None)
