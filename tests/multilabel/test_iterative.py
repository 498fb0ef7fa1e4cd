"""Iterative stratification (Sechidis et al., 2011), with and without patients."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.model_selection import KFold

from skmedtl.model_selection import (
    IterativeStratifiedKFold,
    iterative_stratification,
    iterative_train_test_split,
    train_test_split_by_group,
)


def _labels(n=300, k=8, seed=0):
    rng = np.random.default_rng(seed)
    prevalence = np.array([0.5, 0.3, 0.2, 0.1, 0.05, 0.04, 0.03, 0.02])[:k]
    return (rng.random((n, k)) < prevalence).astype(int)


def _label_distribution(Y, folds_list):
    """Sechidis et al.'s LD: mean over labels and folds of |p_fold - p_all|."""
    p_all = Y.mean(axis=0)
    return np.mean([np.abs(Y[test].mean(axis=0) - p_all) for test in folds_list])


def test_beats_random_folds_on_label_balance():
    Y = _labels()
    cv = IterativeStratifiedKFold(5, random_state=0)
    iterative = [test for _, test in cv.split(np.zeros(len(Y)), Y)]
    random_ld = np.mean(
        [
            _label_distribution(
                Y,
                [t for _, t in KFold(5, shuffle=True, random_state=s).split(Y)],
            )
            for s in range(10)
        ]
    )
    assert _label_distribution(Y, iterative) < 0.5 * random_ld
    # Each label's positives are spread within one of the ideal count.
    for j in range(Y.shape[1]):
        counts = [Y[t, j].sum() for t in iterative]
        assert max(counts) - min(counts) <= 1, (j, counts)
    # A partition of all samples, of nearly equal sizes.
    together = np.sort(np.concatenate(iterative))
    np.testing.assert_array_equal(together, np.arange(len(Y)))
    sizes = [len(t) for t in iterative]
    assert max(sizes) - min(sizes) <= 2


def test_proportions_and_determinism():
    Y = _labels(200)
    a = iterative_stratification(Y, [0.8, 0.2], random_state=1)
    b = iterative_stratification(Y, [4, 1], random_state=1)
    np.testing.assert_array_equal(a, b)
    assert abs((a == 1).sum() - 40) <= 2
    train, test = iterative_train_test_split(Y, test_size=0.2, random_state=1)
    np.testing.assert_array_equal(test, np.flatnonzero(a == 1))
    np.testing.assert_allclose(Y[test].mean(0), Y.mean(0), atol=0.03)


def test_patients_stay_on_one_side():
    rng = np.random.default_rng(0)
    groups = rng.integers(0, 60, 300)
    Y = _labels(300)
    folds = iterative_stratification(Y, [1, 1, 1], groups=groups, random_state=0)
    for g in np.unique(groups):
        assert len(np.unique(folds[groups == g])) == 1
    train, test = train_test_split_by_group(
        Y, groups=groups, test_size=0.25, random_state=0
    )
    assert not set(groups[train]) & set(groups[test])
    assert abs(len(test) / len(Y) - 0.25) < 0.05
    np.testing.assert_allclose(Y[test].mean(0), Y.mean(0), atol=0.06)
    cv = IterativeStratifiedKFold(3, random_state=0)
    for tr, te in cv.split(np.zeros(300), Y, groups):
        assert not set(groups[tr]) & set(groups[te])


def test_single_label_split_is_unchanged():
    y = np.array([0, 1] * 20)
    a = train_test_split_by_group(y, test_size=0.25, random_state=0)
    b = train_test_split_by_group(y[:, None], test_size=0.25, random_state=0)
    np.testing.assert_array_equal(a[0], b[0])


def test_samples_without_labels_are_placed():
    Y = np.zeros((20, 3), dtype=int)
    Y[:4, 0] = 1
    folds = iterative_stratification(Y, [0.5, 0.5], random_state=0)
    assert (folds >= 0).all()
    assert (folds == 0).sum() == 10
    assert Y[folds == 0, 0].sum() == 2


@pytest.mark.parametrize(
    "Y, kwargs, match",
    [
        ([0, 1, 1], {}, "2-D label indicator"),
        ([[0, 2], [1, 0]], {}, "only 0 and 1"),
        ([[0, 1], [1, 0]], {"test_size": 1.5}, "test_size"),
        ([[0, 1], [1, 0]], {"groups": [1, 2, 3]}, "one patient id per sample"),
    ],
)
def test_errors(Y, kwargs, match):
    with pytest.raises(ValueError, match=match):
        iterative_train_test_split(Y, **kwargs)


def test_kfold_errors():
    with pytest.raises(ValueError, match="n_splits"):
        list(IterativeStratifiedKFold(1).split(None, [[0, 1], [1, 0]]))
    with pytest.raises(ValueError, match=r"left fold \d empty"):
        list(IterativeStratifiedKFold(3).split(None, [[0, 1], [1, 0]]))
