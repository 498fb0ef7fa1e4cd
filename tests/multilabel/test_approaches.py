"""Must show: every approach learns planted findings; a pure-noise label stays at 0.5.

Synthetic images carry three planted patterns (bright square, stripes, dark
square; two of them co-occur) and a fourth label that is a coin flip. Each
approach of the review - frozen features with hybrid heads, the frozen
network's own head (``feature_extractor``), ``fine_tune`` and ``gradual`` - is
fitted on 240 images and scored on 300 others, label by label.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from skmedtl import make_hybrid
from skmedtl.finetune import FineTuneClassifier
from tests._helpers import slow_except

from ._synthetic import LABELS, make_multilabel

PLANTED = [0, 1, 2]
NOISE = LABELS.index("noise")


@pytest.fixture(scope="module")
def data():
    X, Y = make_multilabel(240, seed=0)
    X_test, Y_test = make_multilabel(300, seed=1)
    return X, Y, X_test, Y_test


def _aucs(Y, proba) -> np.ndarray:
    # Independent of skmedtl.metrics: scikit-learn, column by column.
    return np.array([roc_auc_score(Y[:, j], proba[:, j]) for j in range(Y.shape[1])])


def _check(aucs: np.ndarray, floor: float) -> None:
    assert (aucs[PLANTED] > floor).all(), aucs
    # 300 test images, prevalence 0.5: the AUC's standard error is about 0.033.
    assert abs(aucs[NOISE] - 0.5) < 0.12, aucs


@pytest.mark.parametrize("head", slow_except("logreg", ["logreg", "svm"]))
def test_hybrid_heads(data, head):
    X, Y, X_test, Y_test = data
    pipe = make_hybrid(
        "lenet5", head, weights=None, input_size=32, verbose=0, random_state=0
    ).fit(X, Y)
    proba = pipe.predict_proba(X_test)
    assert proba.shape == (300, 4)
    _check(_aucs(Y_test, proba), 0.8)


@pytest.mark.parametrize(
    "strategy, params, floor",
    [
        # A linear head on raw (unscaled) random LeNet features learns slowly.
        ("feature_extractor", {"lr": 0.1, "max_epochs": 40, "patience": 5}, 0.75),
        ("fine_tune", {"trainable_blocks": 2, "lr": 0.03, "max_epochs": 10}, 0.75),
        # Few epochs per stage (patience 2) keep the test fast; the deeper
        # blocks train at half the rate: the stripes come out weakest.
        ("gradual", {"lr": 0.03, "max_epochs": 12}, 0.7),
    ],
)
@pytest.mark.slow  # tests/multilabel/test_finetune_multilabel.py is the quick one
def test_finetune_strategies(data, strategy, params, floor):
    X, Y, X_test, Y_test = data
    params = dict(params)
    clf = FineTuneClassifier(
        "lenet5",
        weights=None,
        strategy=strategy,
        input_size=32,
        patience=params.pop("patience", 2),
        class_weight="balanced",
        monitor="roc_auc",
        threshold="youden",
        random_state=0,
        verbose=0,
        **params,
    ).fit(X, Y)
    proba = clf.predict_proba(X_test)
    assert proba.shape == (300, 4)
    _check(_aucs(Y_test, proba), floor)
    if strategy == "gradual":  # the schedule really unfroze blocks
        assert len(clf.history_[-1]["trainable"]) > 1
    pred = clf.predict(X_test)
    assert set(np.unique(pred)) <= {0, 1}
    np.testing.assert_array_equal(pred, (proba >= clf.thresholds_).astype(int))
