"""The regularisation-path search of the self-tuning heads against GridSearchCV."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.svm import SVC
from threadpoolctl import threadpool_limits

from skmedtl.hybrid import TUNE_GRIDS, TunedClassifier, hybrid_head
from skmedtl.hybrid._cv_path import path_search, supports_path

LOGREG_GRID = {"C": [float(c) for c in 10.0 ** np.arange(-3.0, 1.5, 0.5)]}


def _data(n, d, seed=0, classes=2):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % classes
    X = rng.normal(size=(n, d))
    X[:, :classes] += 0.8 * np.eye(classes)[y]
    return X, y


def _splits(y, seed=0):
    return list(StratifiedKFold(5, shuffle=True, random_state=seed).split(y, y))


def _grid(estimator, grid, X, y, scoring="neg_log_loss"):
    with threadpool_limits(1):  # small fits: threads only wait on each other
        return GridSearchCV(
            estimator, grid, cv=_splits(y), scoring=scoring, error_score="raise"
        ).fit(X, y)


@pytest.mark.parametrize(
    ("n", "d", "classes"),
    [(80, 200, 2), (150, 10, 2), (90, 120, 3)],
    ids=["wide (row space)", "tall", "wide multinomial"],
)
def test_logreg_path_scores_every_value_like_grid_search(n, d, classes):
    X, y = _data(n, d, classes=classes)
    est = LogisticRegression(max_iter=5000)
    full = path_search(est, LOGREG_GRID, X, y, _splits(y), patience=0)
    hand = _grid(est, LOGREG_GRID, X, y)
    # Same values, same folds, same scorer: up to two values past the best
    # (where the path stops), the mean scores agree to the tolerance of lbfgs
    # (warm-started, and in the fold's row space when wide). Past them, weakly
    # regularised fits of separable data stop at lbfgs's tolerance far from
    # their optimum, differently from two starts; both score below the best.
    assert full.values == LOGREG_GRID["C"]
    best = LOGREG_GRID["C"].index(hand.best_params_["C"])
    assert full.best_value == hand.best_params_["C"]
    hand_scores = hand.cv_results_["mean_test_score"]
    np.testing.assert_allclose(
        full.mean_scores[: best + 3], hand_scores[: best + 3], rtol=1e-3
    )
    assert max(full.mean_scores[best + 1 :]) < full.best_score
    assert max(hand_scores[best + 1 :]) < hand.best_score_
    assert full.best_score == pytest.approx(hand.best_score_, rel=1e-3)


def test_logreg_path_stops_past_the_optimum_with_the_same_choice():
    X, y = _data(80, 200)
    est = LogisticRegression(max_iter=5000)
    hand = _grid(est, LOGREG_GRID, X, y)
    short = path_search(est, LOGREG_GRID, X, y, _splits(y))
    assert short.best_value == hand.best_params_["C"]
    # The curve is unimodal here: two values past the best, then stop.
    best = short.values.index(short.best_value)
    assert len(short.values) == best + 3 < len(LOGREG_GRID["C"])
    assert all(s < short.best_score for s in short.mean_scores[best + 1 :])


def test_svm_path_equals_grid_search_on_the_same_kernel():
    # An uncalibrated SVC scored by AUC: the precomputed kernel is the kernel
    # SVC computes (the fold's own gamma="scale"), so the scores agree closely.
    X, y = _data(80, 30)
    grid = {"C": [0.1, 1.0, 10.0, 100.0]}
    full = path_search(SVC(), grid, X, y, _splits(y), scoring="roc_auc", patience=0)
    hand = _grid(SVC(), grid, X, y, scoring="roc_auc")
    np.testing.assert_allclose(
        full.mean_scores, hand.cv_results_["mean_test_score"], atol=1e-6
    )
    assert full.best_value == hand.best_params_["C"]


@pytest.mark.slow
def test_calibrated_svm_path_chooses_like_grid_search():
    # The calibration's inner folds reuse the outer fold's gamma (not their
    # own): log-losses agree to ~1e-3, the choice is the same here.
    X, y = _data(100, 40, seed=1)
    est = hybrid_head("svm")
    grid = TUNE_GRIDS["svm"]
    full = path_search(est, grid, X, y, _splits(y), patience=0)
    hand = _grid(est, grid, X, y)
    np.testing.assert_allclose(
        full.mean_scores, hand.cv_results_["mean_test_score"], atol=5e-3
    )
    assert full.best_value == hand.best_params_["estimator__C"]


def test_tuned_classifier_uses_the_path_and_refits_the_plain_head():
    X, y = _data(80, 200)
    tuned = hybrid_head("logreg", tune=True, random_state=0)
    tuned = tuned.set_params(search="path").fit(X, y)
    assert tuned.search_ == "path" and tuned.path_ is not None
    with threadpool_limits(1):
        old = clone(tuned).set_params(search="grid").fit(X, y)
    assert tuned.best_params_ == old.best_params_
    # Both refit the untouched head on all the data with the chosen C.
    assert type(tuned.best_estimator_) is LogisticRegression
    assert not tuned.best_estimator_.warm_start
    np.testing.assert_allclose(tuned.predict_proba(X), old.predict_proba(X), rtol=1e-5)


def test_path_is_deterministic_and_clone_safe():
    X, y = _data(80, 200)
    head = hybrid_head("svm", tune=True, random_state=0)
    a = clone(head).fit(X, y)
    b = clone(head).fit(X, y)
    assert a.best_params_ == b.best_params_
    assert a.path_ == b.path_
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    # The template is untouched: no fitted state, its grid unchanged.
    assert not hasattr(head, "path_") and head.param_grid == TUNE_GRIDS["svm"]
    assert a.search_ == "path" and clone(a).get_params()["search"] == "auto"
    assert not hasattr(clone(a), "best_estimator_")
    # The fitted head's SVC still computes its own RBF kernel.
    assert a.best_estimator_.estimator.kernel == "rbf"


@pytest.mark.slow
def test_parallel_folds_give_the_same_choice():
    X, y = _data(80, 200)
    est = LogisticRegression(max_iter=5000)
    one = path_search(est, LOGREG_GRID, X, y, _splits(y))
    two = path_search(est, LOGREG_GRID, X, y, _splits(y), n_jobs=2)
    assert one.best_value == two.best_value
    np.testing.assert_allclose(one.mean_scores, two.mean_scores)


def test_unsupported_heads_fall_back_to_grid_search():
    assert not supports_path(LogisticRegression(solver="liblinear"), {"C": [1]})
    assert not supports_path(
        LogisticRegression(l1_ratio=1.0, solver="saga"), {"C": [1]}
    )
    assert not supports_path(SVC(kernel="linear"), {"C": [1]})
    assert not supports_path(LogisticRegression(), {"C": [1], "tol": [1e-4]})
    assert not supports_path(
        CalibratedClassifierCV(SVC(), method="isotonic"), {"estimator__C": [1]}
    )
    X, y = _data(60, 5)
    forest = TunedClassifier(
        RandomForestClassifier(n_estimators=5, random_state=0),
        {"max_depth": [2, 3]},
        random_state=0,
    ).fit(X, y)
    assert forest.path_ is None and forest.best_params_["max_depth"] in (2, 3)
    with pytest.raises(ValueError, match="No regularisation path"):
        path_search(SVC(kernel="linear"), {"C": [1]}, X, y, _splits(y))


def test_bad_search_is_reported():
    X, y = _data(60, 5)
    with pytest.raises(ValueError, match="search must be 'auto', 'loo', 'path' or"):
        TunedClassifier(LogisticRegression(), {"C": [1.0]}, search="fast").fit(X, y)


def test_a_tuned_head_saves_and_loads_with_its_path(tmp_path):
    import skmedtl

    X, y = _data(80, 200)
    tuned = hybrid_head("logreg", tune=True, random_state=0).fit(X, y)
    skmedtl.save(tuned, tmp_path / "m")
    loaded = skmedtl.load(tmp_path / "m")
    assert loaded.path_ == tuned.path_  # what the tuning tried, kept as data
    np.testing.assert_array_equal(loaded.predict_proba(X), tuned.predict_proba(X))
