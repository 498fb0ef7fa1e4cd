"""Approximate leave-one-out along C: checked against refitting without each image."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.utils.class_weight import compute_sample_weight

from skmedtl.hybrid import TunedClassifier
from skmedtl.hybrid._loo import loo_search, supports_loo

GRID = {"C": [1e-3, 1e-2, 1e-1, 1.0]}


def _binary(n, d, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = np.where(X[:, 0] + X[:, 1] + rng.normal(size=n) > 0.3, "b", "a")
    return X, y


def _exact_loo_log_loss(X, y, C, folds, **params):
    """Leave each fold out, refit from scratch, score its images: the real thing."""
    proba = np.empty(len(y))
    for held in folds:
        keep = np.ones(len(y), bool)
        keep[held] = False
        ref = LogisticRegression(C=C, tol=1e-12, max_iter=20_000, **params)
        ref.fit(X[keep], y[keep])
        proba[held] = ref.predict_proba(X[held])[:, 1]
    return -log_loss(y == "b", proba)


@pytest.mark.parametrize(
    "n, d, params",
    [
        (40, 120, {}),  # fewer images than features: the row-space fit
        (80, 12, {}),  # more images than features (the search allows it)
        (50, 10, {"fit_intercept": False}),
    ],
)
def test_scores_equal_refitting_without_each_image(n, d, params):
    X, y = _binary(n, d)
    result, _ = loo_search(LogisticRegression(**params), GRID, X, y, patience=0)
    singles = [[i] for i in range(n)]
    exact = [_exact_loo_log_loss(X, y, C, singles, **params) for C in GRID["C"]]
    # one Newton step: second-order accurate, least so for the weakest penalty
    np.testing.assert_allclose(result.mean_scores[:3], exact[:3], rtol=1e-3)
    np.testing.assert_allclose(result.mean_scores[3], exact[3], rtol=3e-2)
    assert result.best_value == GRID["C"][int(np.argmax(exact))]
    assert result.values == GRID["C"]


def test_class_weights_are_the_loss_weights():
    """With class_weight, the images keep the weights of the whole set (a refit
    without image i would rebalance them slightly: that choice is the same)."""
    X, y = _binary(60, 30)
    result, _ = loo_search(
        LogisticRegression(class_weight="balanced"), GRID, X, y, patience=0
    )
    weights = compute_sample_weight("balanced", y)
    exact = []
    for C in GRID["C"]:
        proba = np.empty(len(y))
        for i in range(len(y)):
            keep = np.arange(len(y)) != i
            ref = LogisticRegression(C=C, tol=1e-12, max_iter=20_000)
            ref.fit(X[keep], y[keep], sample_weight=weights[keep])
            proba[i] = ref.predict_proba(X[i : i + 1])[0, 1]
        exact.append(-log_loss(y == "b", proba))
    np.testing.assert_allclose(result.mean_scores[:3], exact[:3], rtol=1e-3)
    np.testing.assert_allclose(result.mean_scores[3], exact[3], rtol=3e-2)
    rebalanced = [
        _exact_loo_log_loss(X, y, C, [[i] for i in range(60)], class_weight="balanced")
        for C in GRID["C"]
    ]
    assert result.best_value == GRID["C"][int(np.argmax(rebalanced))]
    unweighted, _ = loo_search(LogisticRegression(), GRID, X, y, patience=0)
    assert not np.allclose(unweighted.mean_scores, result.mean_scores, rtol=1e-3)


def test_groups_are_left_out_whole():
    X, y = _binary(60, 40, seed=1)
    groups = np.arange(60) // 4  # 15 patients of 4 images
    result, _ = loo_search(LogisticRegression(), GRID, X, y, groups=groups, patience=0)
    blocks = [np.flatnonzero(groups == g) for g in range(15)]
    exact = [_exact_loo_log_loss(X, y, C, blocks) for C in GRID["C"]]
    np.testing.assert_allclose(result.mean_scores, exact, rtol=5e-3)
    # leaving single images out scores differently: the groups were used
    singles, _ = loo_search(LogisticRegression(), GRID, X, y, patience=0)
    assert not np.allclose(singles.mean_scores, result.mean_scores, rtol=1e-3)


def test_tuned_classifier_uses_it_for_binary_logistic_regression():
    X, y = _binary(60, 100, seed=3)
    tuned = TunedClassifier(LogisticRegression(), GRID, random_state=0).fit(X, y)
    assert tuned.search_ == "loo" and tuned.n_splits_ == 60
    assert tuned.best_params_["C"] == tuned.path_.best_value
    # the final model is scikit-learn's fit at the chosen C (warm-started)
    cold = LogisticRegression(C=tuned.best_params_["C"], tol=1e-10, max_iter=10_000)
    cold.fit(X, y)
    np.testing.assert_allclose(tuned.predict_proba(X), cold.predict_proba(X), atol=1e-5)
    assert tuned.best_estimator_.get_params()["warm_start"] is False
    groups = np.arange(60) // 3
    grouped = TunedClassifier(LogisticRegression(), GRID).fit(X, y, groups=groups)
    assert grouped.search_ == "loo" and grouped.n_splits_ == 20


def test_other_heads_scores_and_classes_fall_back():
    X, y = _binary(30, 40)
    y3 = np.arange(30) % 3
    assert supports_loo(LogisticRegression(), GRID, X, y, "neg_log_loss")
    many = np.vstack([X, X])  # more images than features: the K-fold path
    assert not supports_loo(
        LogisticRegression(), GRID, many, np.tile(y, 2), "neg_log_loss"
    )
    assert not supports_loo(LogisticRegression(), GRID, X, y3, "neg_log_loss")
    assert not supports_loo(LogisticRegression(), GRID, X, y, "roc_auc")
    assert not supports_loo(
        LogisticRegression(penalty="l1", solver="saga"), GRID, X, y, "neg_log_loss"
    )

    def kind(estimator, grid, target, **kw):
        tuned = TunedClassifier(estimator, grid, cv=3, random_state=0, **kw)
        return tuned.fit(X, target).search_

    assert kind(LogisticRegression(), GRID, y3) == "path"
    assert kind(LogisticRegression(), GRID, y, scoring="roc_auc") == "path"
    assert kind(LogisticRegression(), GRID, y, search="path") == "path"
    assert kind(LogisticRegression(), GRID, y, search="grid") == "grid"
    rf = RandomForestClassifier(n_estimators=5, random_state=0)
    assert kind(rf, {"min_samples_leaf": [1, 5]}, y, search="loo") == "grid"
    with pytest.raises(ValueError, match="search must be 'auto', 'loo'"):
        TunedClassifier(LogisticRegression(), GRID, search="fast").fit(X, y)


def test_choice_agrees_with_five_fold_cv_on_separable_embeddings_like_data():
    """The use it was built for: more features than images, nearly separable;
    the chosen C is the grid's or its neighbour, and the fitted models agree."""
    rng = np.random.default_rng(4)
    n, d = 120, 300
    y = np.arange(n) % 2
    X = rng.normal(size=(n, d)) + 0.35 * y[:, None] * (np.arange(d) < 30)
    grid = {"C": [float(c) for c in 10.0 ** np.arange(-4.0, 2.5, 0.5)]}
    loo = TunedClassifier(LogisticRegression(), grid, random_state=0).fit(X, y)
    cv = TunedClassifier(LogisticRegression(), grid, random_state=0, search="grid").fit(
        X, y
    )
    steps = abs(
        grid["C"].index(loo.best_params_["C"]) - grid["C"].index(cv.best_params_["C"])
    )
    assert steps <= 1
