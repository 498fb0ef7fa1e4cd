"""Iterative stratification of multi-label data (Sechidis et al., 2011).

Stratifying a multi-label data set by its label *combinations* fails as soon as
there are more combinations than images per fold (ChestMNIST has hundreds).
Iterative stratification (Sechidis, Tsoumakas and Vlahavas, "On the
stratification of multi-label data", ECML PKDD 2011, Algorithm 1) keeps the
prevalence of every single label close to the same in every fold instead: it
repeatedly takes the label with the fewest images still to place, and gives each
of its images to the fold that needs that label most (ties: the fold that needs
the most images, then at random).

With patient ids the unit that is placed is the patient, not the image: a
patient carries the label counts of all its images, so every split stays
patient-level. As a patient usually holds several labels, it goes to the fold
whose remaining need for *all* its labels (and images), relative to that fold's
targets, is largest, rather than by the current label alone.
"""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import BaseCrossValidator
from sklearn.utils import check_random_state

from ..utils._validation import check_int

__all__ = [
    "IterativeStratifiedKFold",
    "iterative_stratification",
    "iterative_train_test_split",
]


def _check_indicator(Y) -> np.ndarray:
    Y = np.asarray(Y)
    if Y.ndim != 2:
        raise ValueError(
            f"Y must be a 2-D label indicator matrix (n_samples, n_labels); got "
            f"shape {Y.shape}. For one label per image use "
            "skmedtl.model_selection.train_test_split_by_group."
        )
    if not np.isin(Y, (0, 1)).all():
        raise ValueError(
            "Y must hold only 0 and 1 (one column per label, 1 = label present)."
        )
    return Y.astype(np.int64)


def iterative_stratification(
    Y, proportions, *, groups=None, random_state=None
) -> np.ndarray:
    """Assign each sample to a fold, keeping every label's prevalence per fold.

    Parameters
    ----------
    Y : array-like of shape (n_samples, n_labels)
        Label indicator matrix (0/1).
    proportions : sequence of float
        Desired share of the samples in each fold (normalised to sum to 1).
    groups : array-like of shape (n_samples,), optional
        Patient ids: whole patients are placed (a patient counts all the labels
        of its images), so no patient is in two folds.
    random_state : int, RandomState instance or None
        Breaks ties.

    Returns
    -------
    ndarray of shape (n_samples,)
        The fold (index into ``proportions``) of each sample.

    Examples
    --------
    >>> import numpy as np
    >>> from skmedtl.model_selection import iterative_stratification
    >>> Y = np.array([[1, 0], [1, 0], [0, 1], [0, 1], [1, 1], [1, 1]])
    >>> folds = iterative_stratification(Y, [0.5, 0.5], random_state=0)
    >>> [Y[folds == k].sum(axis=0).tolist() for k in (0, 1)]
    [[2, 2], [2, 2]]
    """
    Y = _check_indicator(Y)
    n = len(Y)
    proportions = np.asarray(proportions, dtype=float)
    if proportions.ndim != 1 or len(proportions) < 2 or (proportions <= 0).any():
        raise ValueError(
            f"proportions must be at least two positive shares; got {proportions!r}."
        )
    proportions = proportions / proportions.sum()
    rng = check_random_state(random_state)
    if groups is None:
        unit_of = np.arange(n)
        counts, sizes = Y, np.ones(n)
    else:
        groups = np.asarray(groups)
        if groups.shape != (n,):
            raise ValueError(
                f"groups must give one patient id per sample: shape ({n},), got "
                f"{groups.shape}."
            )
        _, unit_of = np.unique(groups, return_inverse=True)
        n_units = unit_of.max() + 1
        counts = np.zeros((n_units, Y.shape[1]), dtype=np.int64)
        np.add.at(counts, unit_of, Y)
        sizes = np.bincount(unit_of, minlength=n_units).astype(float)
    fold_of_unit = _place(counts, sizes, proportions, rng)
    return fold_of_unit[unit_of]


def _place(counts, sizes, proportions, rng) -> np.ndarray:
    """Algorithm 1 of Sechidis et al., over units with label counts and sizes."""
    n_units, n_labels = counts.shape
    desired = proportions * sizes.sum()  # samples each fold still wants
    desired_label = np.outer(counts.sum(axis=0), proportions)  # (labels, folds)
    target, target_label = desired.copy(), np.maximum(desired_label, 1e-12)
    grouped = bool((sizes > 1).any())
    fold = np.full(n_units, -1)
    remaining = counts.astype(float).copy()
    unplaced = np.ones(n_units, dtype=bool)
    while unplaced.any():
        left = remaining[unplaced].sum(axis=0)
        candidates = np.flatnonzero(left > 0)
        if len(candidates) == 0:
            # Units without any label: to the folds that want the most samples.
            for u in rng.permutation(np.flatnonzero(unplaced)):
                f = _argmax_random(desired, rng)
                fold[u] = f
                desired[f] -= sizes[u]
            break
        fewest = left[candidates].min()
        label = rng.choice(candidates[left[candidates] == fewest])
        units = np.flatnonzero(unplaced & (counts[:, label] > 0))
        for u in rng.permutation(units):
            if grouped:
                # A patient carries several labels (and images): the fold that
                # needs all of them most, relative to its target counts.
                want = counts[u] @ (desired_label / target_label) + sizes[
                    u
                ] * desired / np.maximum(target, 1e-12)
            else:
                want = desired_label[label]
            best = np.flatnonzero(want == want.max())
            if len(best) > 1:
                sub = desired[best]
                best = best[sub == sub.max()]
            f = best[rng.randint(len(best))] if len(best) > 1 else best[0]
            fold[u] = f
            unplaced[u] = False
            desired_label[:, f] -= counts[u]
            desired[f] -= sizes[u]
        remaining[units] = 0
    return fold


def _argmax_random(values: np.ndarray, rng) -> int:
    best = np.flatnonzero(values == values.max())
    return int(best[rng.randint(len(best))])


def iterative_train_test_split(
    Y, *, groups=None, test_size: float = 0.2, random_state=None
) -> tuple[np.ndarray, np.ndarray]:
    """Indices of a multi-label stratified hold-out split (patient-level with groups).

    Parameters
    ----------
    Y : array-like of shape (n_samples, n_labels)
        Label indicator matrix.
    groups : array-like of shape (n_samples,), optional
        Patient ids; whole patients go to one side.
    test_size : float, default=0.2
    random_state : int or None

    Returns
    -------
    train_index, test_index : ndarray, sorted

    Examples
    --------
    >>> import numpy as np
    >>> from skmedtl.model_selection import iterative_train_test_split
    >>> Y = np.tile([[1, 0], [0, 1], [1, 1], [0, 0], [1, 0]], (4, 1))
    >>> train, test = iterative_train_test_split(Y, test_size=0.25, random_state=0)
    >>> len(test), Y[test].sum(axis=0).tolist()
    (5, [3, 2])
    """
    if not 0 < test_size < 1:
        raise ValueError(f"test_size must be in (0, 1); got {test_size!r}.")
    folds = iterative_stratification(
        Y, [1 - test_size, test_size], groups=groups, random_state=random_state
    )
    train, test = np.flatnonzero(folds == 0), np.flatnonzero(folds == 1)
    if len(train) == 0 or len(test) == 0:
        raise ValueError(
            f"A hold-out of test_size={test_size} left one side empty "
            f"({len(np.asarray(Y))} samples"
            + ("" if groups is None else f", {len(np.unique(groups))} patients")
            + "). Provide more samples or patients."
        )
    return train, test


class IterativeStratifiedKFold(BaseCrossValidator):
    """K-fold cross-validation for multi-label data, by iterative stratification.

    Every fold keeps each label's prevalence close to the whole set's (Sechidis
    et al., 2011); with ``groups`` (patient ids) folds hold whole patients.
    ``StratifiedKFold`` cannot do this: it takes one label per sample.

    Parameters
    ----------
    n_splits : int, default=5
    shuffle : bool, default=True
        Break ties at random (``False``: ties are broken with seed 0, so the
        folds are the same at every call).
    random_state : int or None

    Examples
    --------
    >>> import numpy as np
    >>> from skmedtl.model_selection import IterativeStratifiedKFold
    >>> Y = np.tile([[1, 0], [0, 1], [1, 1]], (6, 1))
    >>> cv = IterativeStratifiedKFold(3, random_state=0)
    >>> [Y[test].sum(axis=0).tolist() for _, test in cv.split(np.zeros(18), Y)]
    [[4, 4], [4, 4], [4, 4]]
    """

    def __init__(self, n_splits: int = 5, *, shuffle: bool = True, random_state=None):
        self.n_splits = n_splits
        self.shuffle = shuffle
        self.random_state = random_state

    def get_n_splits(self, X=None, y=None, groups=None) -> int:
        return int(self.n_splits)

    def split(self, X, y, groups=None):
        """Yield ``(train, test)`` index arrays, one pair per fold."""
        check_int("n_splits", self.n_splits, 2)
        Y = _check_indicator(y)
        seed = self.random_state if self.shuffle else 0
        folds = iterative_stratification(
            Y, [1.0] * self.n_splits, groups=groups, random_state=seed
        )
        for k in range(self.n_splits):
            test = np.flatnonzero(folds == k)
            if len(test) == 0:
                raise ValueError(
                    f"IterativeStratifiedKFold(n_splits={self.n_splits}) left fold "
                    f"{k} empty; use fewer splits."
                )
            yield np.flatnonzero(folds != k), test

    def _iter_test_indices(self, X=None, y=None, groups=None):  # pragma: no cover
        for _, test in self.split(X, y, groups):
            yield test
