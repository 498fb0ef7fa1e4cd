"""Patient-level splitting.

Medical data sets often hold several images per patient (views, slices, follow-up
visits). Splitting by image puts images of one patient on both sides, and the
model is then scored partly on patients it was trained on: the near-duplicate
images leak identity-specific appearance and inflate every test metric (the
"feature leakage" the review cites from Samala et al., 2020). Everything in
skmedtl that splits data accepts ``groups`` (patient ids) and then keeps each
patient's images on one side.
"""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import (
    GroupShuffleSplit,
    StratifiedGroupKFold,
    StratifiedKFold,
    StratifiedShuffleSplit,
)

__all__ = ["check_group_separation", "make_cv", "train_test_split_by_group"]


def make_cv(n_splits: int = 5, *, groups=None, shuffle: bool = True, random_state=None):
    """A stratified splitter, patient-level when there are groups.

    Parameters
    ----------
    n_splits : int, default=5
    groups : array-like, optional
        Patient ids. If given, a ``StratifiedGroupKFold`` (pass the same
        ``groups`` to ``GridSearchCV.fit``); otherwise ``StratifiedKFold``.
    shuffle : bool, default=True
    random_state : int or None

    Examples
    --------
    >>> from skmedtl.model_selection import make_cv
    >>> make_cv(3, groups=[1, 1, 2, 2, 3, 3], random_state=0)
    StratifiedGroupKFold(n_splits=3, random_state=0, shuffle=True)
    """
    seed = random_state if shuffle else None
    if groups is not None:
        return StratifiedGroupKFold(
            n_splits=n_splits, shuffle=shuffle, random_state=seed
        )
    return StratifiedKFold(n_splits=n_splits, shuffle=shuffle, random_state=seed)


def train_test_split_by_group(
    y, *, groups=None, test_size: float = 0.2, random_state=None
) -> tuple[np.ndarray, np.ndarray]:
    """Indices of a stratified hold-out split, patient-level when there are groups.

    With ``groups``, whole patients go to one side; the class balance is kept as
    well as whole patients allow (``StratifiedGroupKFold`` with about
    ``1 / test_size`` folds, one fold held out; ``GroupShuffleSplit`` when there
    are too few patients for that).

    Parameters
    ----------
    y : array-like of shape (n_samples,) or (n_samples, n_labels)
        Labels; a 2-D indicator matrix (multi-label) is split by iterative
        stratification (:func:`iterative_train_test_split`).
    groups : array-like of shape (n_samples,), optional
    test_size : float, default=0.2
    random_state : int or None

    Returns
    -------
    train_index, test_index : ndarray

    Examples
    --------
    >>> from skmedtl.model_selection import train_test_split_by_group
    >>> train, test = train_test_split_by_group(
    ...     [0, 0, 1, 1, 0, 1], groups=["a", "a", "b", "b", "c", "c"],
    ...     test_size=0.3, random_state=0)
    >>> sorted(set(train) | set(test)) == list(range(6))
    True
    """
    y = np.asarray(y)
    if not 0 < test_size < 1:
        raise ValueError(f"test_size must be in (0, 1); got {test_size!r}.")
    if y.ndim == 2 and y.shape[1] > 1:  # multi-label indicator: Sechidis et al.
        from ._iterative import iterative_train_test_split

        return iterative_train_test_split(
            y, groups=groups, test_size=test_size, random_state=random_state
        )
    X = np.zeros((len(y), 1))
    if groups is None:
        splitter = StratifiedShuffleSplit(
            1, test_size=test_size, random_state=random_state
        )
        return next(splitter.split(X, y))
    groups = np.asarray(groups)
    if len(groups) != len(y):
        raise ValueError(f"groups has {len(groups)} entries but y has {len(y)}.")
    n_splits = max(2, round(1 / test_size))
    n_groups = len(np.unique(groups))
    smallest_class = min(len(np.unique(groups[y == c])) for c in np.unique(y))
    if n_groups >= n_splits and smallest_class >= n_splits:
        cv = StratifiedGroupKFold(
            n_splits=n_splits, shuffle=True, random_state=random_state
        )
        train, test = next(cv.split(X, y, groups))
    else:
        cv = GroupShuffleSplit(1, test_size=test_size, random_state=random_state)
        train, test = next(cv.split(X, y, groups))
    check_group_separation(groups[train], groups[test])
    return train, test


def check_group_separation(groups_a, groups_b) -> None:
    """Raise if any patient appears on both sides of a split.

    Examples
    --------
    >>> from skmedtl.model_selection import check_group_separation
    >>> check_group_separation(["p1", "p2"], ["p3"])
    >>> check_group_separation(["p1", "p2"], ["p2"])
    Traceback (most recent call last):
    ...
    ValueError: 1 patient(s) appear in both splits (e.g. 'p2'): ...
    """
    shared = np.intersect1d(np.asarray(groups_a), np.asarray(groups_b))
    if len(shared):
        example = shared[0].item()
        raise ValueError(
            f"{len(shared)} patient(s) appear in both splits (e.g. {example!r}): "
            "images of one patient must stay on one side."
        )
