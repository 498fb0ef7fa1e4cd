"""Inner folds of the training images and the choice by their mean score."""

from __future__ import annotations

import numpy as np

from skmedtl.study._tuning import inner_folds, tune_by_cv


def test_folds_partition_the_training_images_stratified():
    y = np.repeat([0, 1], [30, 20])
    folds = inner_folds(y, n_splits=5, seed=3)
    assert folds.n_splits == 5 and folds.note is None and not folds.grouped
    held = np.concatenate([te for _, te in folds.splits])
    assert sorted(held.tolist()) == list(range(50))  # each image held out once
    for tr, te in folds.splits:
        assert not set(tr) & set(te)
        assert np.bincount(y[te]).tolist() == [6, 4]  # the class balance kept
    again = inner_folds(y, n_splits=5, seed=3)  # seeded: the same folds
    assert all(
        np.array_equal(a[1], b[1])
        for a, b in zip(folds.splits, again.splits, strict=True)
    )


def test_folds_keep_patients_whole_and_shrink_for_small_classes():
    y = np.repeat([0, 1], [20, 6])
    groups = np.arange(26) // 2  # two images per patient: 3 patients of class 1
    folds = inner_folds(y, groups, n_splits=5, seed=0)
    assert folds.grouped and folds.n_splits == 3
    assert "3 inner folds instead of 5" in folds.note and "patients" in folds.note
    for tr, te in folds.splits:
        assert not set(groups[tr]) & set(groups[te])
    none = inner_folds(np.repeat([0, 1], [10, 1]), n_splits=5)
    assert none.splits == [] and none.n_splits == 0 and "not tuned" in none.note


def test_multilabel_folds_are_iteratively_stratified():
    rng = np.random.default_rng(0)
    Y = (rng.random((60, 3)) < [0.5, 0.3, 0.1]).astype(int)
    folds = inner_folds(Y, n_splits=4, seed=0)
    assert folds.n_splits == min(4, int(Y.sum(axis=0).min()))
    held = np.concatenate([te for _, te in folds.splits])
    assert sorted(held.tolist()) == list(range(60))


def test_tune_by_cv_takes_the_best_mean_first_among_equals():
    y = np.repeat([0, 1], 10)
    folds = inner_folds(y, n_splits=2, seed=0)
    fitted = []

    def fit(candidate, index):
        fitted.append((candidate, len(index)))
        return candidate

    means = {"a": 0.6, "b": 0.8, "c": 0.8}
    chosen, value = tune_by_cv(["a", "b", "c"], fit, lambda m, te: means[m], folds)
    assert chosen == "b" and value == 0.8
    assert len(fitted) == 6 and all(n == 10 for _, n in fitted)  # on fold trains
    untuned = inner_folds(np.repeat([0, 1], [5, 1]), n_splits=3)
    chosen, value = tune_by_cv(["a", "b"], fit, lambda m, te: 1.0, untuned)
    assert chosen == "a" and np.isnan(value)
