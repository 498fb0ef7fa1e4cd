"""Self-tuning heads: C chosen by internal, stratified, group-aware CV."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.utils.estimator_checks import parametrize_with_checks

from skmedtl import make_hybrid
from skmedtl.hybrid import TUNE_GRIDS, TunedClassifier, hybrid_head
from tests._helpers import slow_except


@pytest.fixture(scope="module")
def blobs():
    rng = np.random.default_rng(0)
    y = np.arange(90) % 3
    X = rng.normal(size=(90, 20)) + 0.6 * np.eye(20)[y * 5]
    return X, y


@pytest.mark.parametrize("search", slow_except("path", ["path", "grid"]))
def test_choice_equals_a_hand_written_grid_search(blobs, search):
    X, y = blobs
    grid = {"C": [1e-3, 1e-2, 1e-1, 1.0, 10.0]}
    tuned = TunedClassifier(
        LogisticRegression(max_iter=5000), grid, random_state=0, search=search
    ).fit(X, y)
    hand = GridSearchCV(
        LogisticRegression(max_iter=5000),
        grid,
        cv=StratifiedKFold(5, shuffle=True, random_state=0),
        scoring="neg_log_loss",
    ).fit(X, y)
    assert tuned.best_params_ == hand.best_params_
    # The path's warm-started fits stop at lbfgs's tolerance from another start.
    rel = 1e-4 if search == "path" else 1e-6
    assert tuned.best_score_ == pytest.approx(hand.best_score_, rel=rel)
    assert (tuned.path_ is None) == (search == "grid")
    assert tuned.n_splits_ == 5
    # The same refit (the path's on one thread: summation order only).
    np.testing.assert_allclose(tuned.predict_proba(X), hand.predict_proba(X), rtol=1e-5)
    assert list(tuned.classes_) == [0, 1, 2]


def test_folds_keep_groups_whole_and_classes_stratified(blobs):
    X, y = blobs
    groups = np.arange(90) // 3 % 15  # 15 patients, 6 images each, mixed classes
    tuned = TunedClassifier(LogisticRegression(), {"C": [0.1, 1.0]}, random_state=0)
    splits = tuned._splits(X, y, groups)
    assert len(splits) == 5
    for train, valid in splits:
        assert not set(groups[train]) & set(groups[valid])
        assert set(y[valid]) == {0, 1, 2}
    tuned.fit(X, y, groups=groups)
    assert tuned.best_params_["C"] in (0.1, 1.0)
    with pytest.raises(ValueError, match="groups has 3 entries"):
        tuned.fit(X, y, groups=[1, 2, 3])


def test_too_few_samples_fall_back_to_the_untuned_head():
    X = np.arange(6, dtype=float).reshape(3, 2)
    y = np.array([0, 1, 1])
    with pytest.warns(UserWarning, match="Too few samples"):
        tuned = TunedClassifier(LogisticRegression(), {"C": [0.1, 1.0]}).fit(X, y)
    assert tuned.best_params_ == {} and tuned.n_splits_ == 0
    assert tuned.best_estimator_.C == 1.0


def test_bad_grids_are_reported():
    X, y = np.zeros((10, 2)), np.arange(10) % 2
    with pytest.raises(ValueError, match="does not have"):
        TunedClassifier(LogisticRegression(), {"gamma": [1]}).fit(X, y)
    with pytest.raises(ValueError, match="non-empty dict"):
        TunedClassifier(LogisticRegression(), {}).fit(X, y)
    with pytest.raises(ValueError, match="cv must be"):
        TunedClassifier(LogisticRegression(), {"C": [1]}, cv=1).fit(X, y)


def test_make_hybrid_tunes_logreg_and_svm_by_default():
    logreg = make_hybrid("resnet18", "logreg", weights=None).named_steps["clf"]
    assert isinstance(logreg, TunedClassifier)
    assert isinstance(logreg.estimator, LogisticRegression)
    assert logreg.param_grid == TUNE_GRIDS["logreg"]
    svm = make_hybrid("resnet18", "svm", weights=None).named_steps["clf"]
    assert isinstance(svm.estimator, CalibratedClassifierCV)
    assert "estimator__C" in svm.param_grid
    assert isinstance(
        make_hybrid("resnet18", "logreg", tune=False).named_steps["clf"],
        LogisticRegression,
    )
    # Trees are not tuned; hybrid_head stays untuned unless asked.
    assert not isinstance(make_hybrid(head="rf").named_steps["clf"], TunedClassifier)
    assert isinstance(hybrid_head("logreg"), LogisticRegression)


def test_pipeline_routes_groups_to_the_tuned_head(gray_images):
    X = np.concatenate([gray_images] * 3)[:24]
    y = np.arange(len(X)) % 2
    groups = np.arange(len(X)) // 2
    pipe = make_hybrid(
        "resnet18", "svm", random_state=0, weights=None, input_size=32, verbose=0
    )
    pipe.fit(X, y, clf__groups=groups)
    assert pipe.named_steps["clf"].n_splits_ == 5
    assert pipe.predict_proba(X).shape == (len(X), 2)


@parametrize_with_checks(
    [TunedClassifier(LogisticRegression(), {"C": [0.1, 1.0]}, cv=2, random_state=0)]
)
def test_tuned_classifier_is_a_scikit_learn_estimator(estimator, check):
    check(estimator)
