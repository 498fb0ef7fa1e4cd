"""make_hybrid with a multi-label y: one head per label, one shared embedding."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.multioutput import MultiOutputClassifier
from sklearn.pipeline import Pipeline

from skmedtl import CNNFeatures, make_hybrid
from skmedtl.hybrid import HybridPipeline

from ._synthetic import make_multilabel


def _hybrid(head="logreg", **params):
    return make_hybrid(
        "lenet5", head, weights=None, input_size=32, verbose=0, random_state=0, **params
    )


@pytest.fixture(scope="module")
def data():
    return make_multilabel(80, seed=0)


@pytest.mark.slow
def test_one_head_per_label_one_embedding(data, monkeypatch):
    X, Y = data
    calls = []
    original = CNNFeatures.transform

    def counting(self, images):
        calls.append(len(images))
        return original(self, images)

    monkeypatch.setattr(CNNFeatures, "transform", counting)
    pipe = _hybrid()
    params = pipe.get_params(deep=False)
    pipe.fit(X, Y)
    assert calls == [len(X)]  # every image embedded once for all 4 heads
    assert isinstance(pipe, Pipeline)
    assert len(pipe.multilabel_head_.estimators_) == 4
    assert pipe.get_params(deep=False).keys() == params.keys()
    assert pipe.named_steps["clf"] is params["steps"][-1][1]  # template untouched
    # predict_proba equals each label's head on the shared scaled embedding.
    features = pipe.named_steps["scale"].transform(
        pipe.named_steps["features"].transform(X[:9])
    )
    expected = np.column_stack(
        [e.predict_proba(features)[:, 1] for e in pipe.multilabel_head_.estimators_]
    )
    proba = pipe.predict_proba(X[:9])
    np.testing.assert_allclose(proba, expected)
    all_features = pipe.named_steps["scale"].transform(
        pipe.named_steps["features"].transform(X)
    )
    for j, est in enumerate(pipe.multilabel_head_.estimators_):
        # Each head is the pipeline's head fitted on label j alone.
        ref = clone(pipe.named_steps["clf"]).fit(all_features, Y[:, j])
        np.testing.assert_allclose(
            est.predict_proba(features), ref.predict_proba(features), atol=1e-6
        )
    assert pipe.predict(X[:9]).shape == (9, 4)
    assert pipe.decision_function(X[:9]).shape == (9, 4)
    assert [c.tolist() for c in pipe.classes_] == [[0, 1]] * 4
    assert 0 <= pipe.score(X, Y) <= 1


@pytest.mark.slow
def test_single_label_is_a_plain_pipeline_fit(data):
    X, Y = data
    pipe = _hybrid().fit(X, Y[:, 0])
    assert not hasattr(pipe, "multilabel_head_")
    assert pipe.named_steps["clf"].classes_.tolist() == [0, 1]
    assert pipe.predict_proba(X[:3]).shape == (3, 2)
    # Refitting the same object on multi-label data, then single-label again.
    pipe.fit(X, Y)
    assert pipe.predict_proba(X[:3]).shape == (3, 4)
    pipe.fit(X, Y[:, 1])
    assert pipe.predict_proba(X[:3]).shape == (3, 2)
    assert pipe.classes_.tolist() == [0, 1]


def test_clone_and_native_multilabel_head(data):
    X, Y = data
    pipe = _hybrid(head=MultiOutputClassifier(LogisticRegression(max_iter=500)))
    fitted = pipe.fit(X, Y)
    assert not hasattr(fitted, "multilabel_head_")  # the head handles Y itself
    assert isinstance(clone(pipe), HybridPipeline)
    assert len(fitted.predict_proba(X[:3])) == 4  # scikit-learn's list convention


def test_errors(data):
    X, Y = data
    bad = Y.copy()
    bad[:, 2] = 0
    with pytest.raises(ValueError, match="Label column 2 of y has a single value"):
        _hybrid().fit(X, bad)
    with pytest.raises(ValueError, match="multiclass-multioutput"):
        _hybrid().fit(X, Y * 2 + (Y[:, :1] == 0))
