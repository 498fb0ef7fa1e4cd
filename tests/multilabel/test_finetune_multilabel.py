"""FineTuneClassifier with a multi-label indicator y: conventions, loss, errors."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.metrics import get_scorer
from torch.nn import functional as F

from skmedtl.finetune import FineTuneClassifier
from skmedtl.finetune._multilabel import (
    MultiLabelTrainer,
    multilabel_pos_weight,
    multilabel_validation_metrics,
    multilabel_validation_split,
)

from ._synthetic import make_multilabel


def _clf(**params):
    defaults = dict(
        weights=None,
        strategy="feature_extractor",
        input_size=32,
        max_epochs=3,
        lr=0.05,
        random_state=0,
        verbose=0,
    )
    defaults.update(params)
    return FineTuneClassifier("lenet5", **defaults)


@pytest.fixture(scope="module")
def fitted():
    X, Y = make_multilabel(60, seed=0)
    return _clf(threshold="youden", class_weight="balanced").fit(X, Y), X, Y


def test_conventions(fitted):
    clf, X, Y = fitted
    assert isinstance(clf.classes_, list) and len(clf.classes_) == 4
    for c in clf.classes_:
        np.testing.assert_array_equal(c, [0, 1])
    proba = clf.predict_proba(X[:7])
    assert proba.shape == (7, 4)
    assert ((proba >= 0) & (proba <= 1)).all()
    # Per-label sigmoids, not a softmax: the rows need not sum to one.
    assert not np.allclose(proba.sum(axis=1), 1.0)
    logits = clf.decision_function(X[:7])
    np.testing.assert_allclose(torch.sigmoid(torch.from_numpy(logits)), proba, 1e-6)
    assert clf.thresholds_.shape == (4,)
    pred = clf.predict(X[:7])
    np.testing.assert_array_equal(pred, (proba >= clf.thresholds_).astype(int))
    assert clf.model_.head.out_features == 4
    assert {"valid_roc_auc", "valid_loss"} <= set(clf.history_[0])
    assert 0 <= clf.history_[-1]["valid_roc_auc"] <= 1


def test_sklearn_scorers_and_pickle(fitted):
    clf, X, Y = fitted
    auc = get_scorer("roc_auc")(clf, X, Y)  # macro over labels
    from sklearn.metrics import roc_auc_score

    assert auc == pytest.approx(roc_auc_score(Y, clf.predict_proba(X)))
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(again.predict_proba(X[:5]), clf.predict_proba(X[:5]))
    assert clone(clf).get_params() == clf.get_params()


def test_fixed_threshold_and_no_validation():
    X, Y = make_multilabel(40, seed=2)
    clf = _clf(
        threshold=0.3, validation_fraction=None, early_stopping=False, max_epochs=1
    ).fit(X, Y)
    np.testing.assert_array_equal(clf.thresholds_, [0.3] * 4)
    with pytest.raises(ValueError, match="validation_fraction is None"):
        _clf(
            threshold="youden",
            validation_fraction=None,
            early_stopping=False,
            max_epochs=1,
        ).fit(X, Y)


def test_trained_backbone_path():
    """strategy='full' trains the network on images (not embeddings)."""
    X, Y = make_multilabel(40, seed=3)
    clf = _clf(strategy="full", max_epochs=2).fit(X, Y)
    assert clf.features_ is None
    assert clf.predict_proba(X[:3]).shape == (3, 4)


def test_pos_weight_and_loss():
    Y = np.array([[1, 0], [0, 0], [0, 1], [0, 1], [1, 1], [0, 1]])
    w = multilabel_pos_weight("balanced", Y, "cpu")
    np.testing.assert_allclose(w.numpy(), [4 / 2, 2 / 4])
    assert multilabel_pos_weight(None, Y, "cpu") is None
    with pytest.raises(ValueError, match="'balanced'"):
        multilabel_pos_weight({0: 1, 1: 2}, Y, "cpu")
    # The loss the trainer minimises: BCE with pos_weight, written out.
    logits = torch.tensor([[0.3, -1.0], [2.0, 0.5]])
    y = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    trainer = MultiLabelTrainer.__new__(MultiLabelTrainer)
    trainer.class_weight = w
    p = torch.sigmoid(logits)
    manual = -(w * y * torch.log(p) + (1 - y) * torch.log(1 - p)).mean()
    assert float(trainer.loss(logits, y)) == pytest.approx(float(manual), rel=1e-5)
    assert float(trainer.loss(logits, y)) == pytest.approx(
        float(F.binary_cross_entropy_with_logits(logits, y, pos_weight=w))
    )


def test_validation_metrics():
    Y = np.array([[1, 0], [0, 1], [1, 1], [0, 0]])
    proba = np.array([[0.9, 0.2], [0.1, 0.7], [0.8, 0.4], [0.3, 0.6]])
    m = multilabel_validation_metrics(Y, proba, 0.25)
    assert m["roc_auc"] == pytest.approx((1.0 + 0.75) / 2)
    # At 0.5: label 0 all right; label 1 wrong on rows 2 and 3.
    assert m["accuracy"] == pytest.approx((1.0 + 0.5) / 2)
    assert m["loss"] == 0.25


def test_validation_split_keeps_patients_together():
    rng = np.random.default_rng(0)
    Y = (rng.random((120, 3)) < 0.3).astype(int)
    groups = np.repeat(np.arange(40), 3)
    train, valid = multilabel_validation_split(
        Y, 0.25, np.random.RandomState(0), groups
    )
    assert not set(groups[train]) & set(groups[valid])
    assert len(train) + len(valid) == 120


@pytest.mark.parametrize(
    "Y, params, match",
    [
        (np.array([[0, 2], [1, 0]] * 10), {}, "0/1 indicator matrix"),
        (np.array([[0, 1], [0, 0]] * 10), {}, "Label column 0 of y is never"),
        (np.array([[0, 1], [1, 0]] * 10), {"class_weight": {0: 1.0}}, "multi-label"),
        (np.array([[0, 1], [1, 0]] * 10), {"threshold": 1.5}, "threshold must be"),
        (np.array([[0, 1], [1, 0]] * 5), {}, "X has 20 images but y has 10 rows"),
    ],
)
def test_errors(Y, params, match):
    X = np.zeros((20, 16, 16), np.uint8)
    with pytest.raises(ValueError, match=match):
        _clf(**params).fit(X, Y)


def test_warm_start_needs_the_same_labels():
    X, Y = make_multilabel(40, seed=4)
    clf = _clf(max_epochs=1, warm_start=True).fit(X, Y)
    with pytest.raises(ValueError, match="warm_start=True needs the classes"):
        clf.fit(X, Y[:, :3])
    with pytest.raises(ValueError, match="warm_start=True needs the classes"):
        clf.fit(X, Y[:, 0])
