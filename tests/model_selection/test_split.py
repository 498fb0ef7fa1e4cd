"""Patient-level splitting keeps every patient's images on one side."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedGroupKFold

from skmedtl.model_selection import (
    check_group_separation,
    make_cv,
    train_test_split_by_group,
)


def _patients(n_patients=40, seed=0):
    """Several images per patient; the label is a property of the patient."""
    rng = np.random.default_rng(seed)
    images_per_patient = rng.integers(1, 6, n_patients)
    groups = np.repeat([f"person{i}" for i in range(n_patients)], images_per_patient)
    patient_label = rng.random(n_patients) < 0.35
    y = np.repeat(patient_label.astype(int), images_per_patient)
    return y, groups


def test_hold_out_split_keeps_patients_on_one_side():
    y, groups = _patients()
    train, test = train_test_split_by_group(
        y, groups=groups, test_size=0.25, random_state=0
    )
    assert len(np.intersect1d(train, test)) == 0
    assert len(train) + len(test) == len(y)
    assert not set(groups[train]) & set(groups[test])
    # both classes on both sides, roughly the requested share held out
    assert set(y[test]) == {0, 1} and set(y[train]) == {0, 1}
    assert 0.1 < len(test) / len(y) < 0.4


def test_hold_out_split_without_groups_is_stratified():
    y, _ = _patients()
    train, test = train_test_split_by_group(y, test_size=0.25, random_state=0)
    assert abs(y[test].mean() - y.mean()) < 0.05


def test_few_patients_fall_back_to_group_shuffle_split():
    y = np.array([0, 0, 1, 1, 0, 1])
    groups = np.array(["a", "a", "b", "b", "c", "c"])
    train, test = train_test_split_by_group(
        y, groups=groups, test_size=0.3, random_state=0
    )
    assert not set(groups[train]) & set(groups[test])


def test_cross_validation_folds_are_patient_level_in_grid_search():
    y, groups = _patients(seed=1)
    X = np.random.default_rng(1).normal(size=(len(y), 4)) + y[:, None]
    cv = make_cv(4, groups=groups, random_state=0)
    assert isinstance(cv, StratifiedGroupKFold)
    for train, test in cv.split(X, y, groups):
        check_group_separation(groups[train], groups[test])
    search = GridSearchCV(LogisticRegression(), {"C": [0.1, 1]}, cv=cv)
    search.fit(X, y, groups=groups)
    assert search.best_score_ > 0.5


def test_image_level_splitting_would_leak_and_is_detected():
    y, groups = _patients()
    rng = np.random.default_rng(0)
    order = rng.permutation(len(y))
    train, test = order[: len(y) // 2], order[len(y) // 2 :]
    with pytest.raises(ValueError, match="appear in both splits"):
        check_group_separation(groups[train], groups[test])


def test_bad_arguments():
    with pytest.raises(ValueError, match="test_size"):
        train_test_split_by_group([0, 1], test_size=1.5)
    with pytest.raises(ValueError, match="groups has 1 entries"):
        train_test_split_by_group([0, 1, 0, 1], groups=["a"])
