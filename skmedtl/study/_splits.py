"""A study's train / val / test assignment: given, or a test split held out once."""

from __future__ import annotations

import numpy as np

from ..model_selection import check_group_separation, train_test_split_by_group
from ..utils._naming import did_you_mean

__all__ = ["SPLITS", "SPLIT_ALIASES", "resolve_split"]

SPLITS = ("train", "val", "test")
SPLIT_ALIASES = {"valid": "val", "validation": "val", "dev": "val"}


def resolve_split(
    labels: np.ndarray,
    *,
    split=None,
    groups=None,
    test_size: float = 0.2,
    random_state=0,
) -> tuple[np.ndarray, str]:
    """Each image's split, and a sentence saying where the test set came from.

    Parameters
    ----------
    labels : ndarray of shape (n,) or (n, n_labels)
        One class per image, or a multi-label indicator matrix (then the held-out
        split is iteratively stratified).
    split : array-like of shape (n,), optional
        ``"train"``, ``"val"`` or ``"test"`` per image (aliases allowed); without
        one, every image is ``"train"`` before the test split is carved out.
    groups : ndarray of shape (n,), optional
        Patient ids: no patient is in two splits.
    test_size : float, default=0.2
        Share held out as the test set when ``split`` has no test images.
    random_state : int, default=0
        Seed of that hold-out.

    Returns
    -------
    split : ndarray of object
    protocol : str
    """
    n = len(labels)
    if groups is not None and len(groups) != n:
        raise ValueError(f"{n} images but {len(groups)} groups.")
    protocol = "the data set's own test split"
    if split is None:
        split = np.full(n, "train", dtype=object)
    else:
        split = np.array(
            [SPLIT_ALIASES.get(str(s).lower(), str(s).lower()) for s in split],
            dtype=object,
        )
        if len(split) != n:
            raise ValueError(f"{n} images but {len(split)} split entries.")
        unknown = sorted(set(split) - set(SPLITS))
        if unknown:
            raise ValueError(
                f"Unknown split {unknown[0]!r}.{did_you_mean(unknown[0], SPLITS)} "
                f"Splits are {SPLITS}."
            )
    if not (split == "test").any():
        dev = np.flatnonzero(split != "test")
        _, test = train_test_split_by_group(
            labels[dev],
            groups=None if groups is None else groups[dev],
            test_size=test_size,
            random_state=random_state,
        )
        split = split.copy()
        split[dev[test]] = "test"
        kind = "an iteratively stratified" if np.ndim(labels) == 2 else "a stratified"
        patients = " patient-level" if groups is not None else ""
        protocol = (
            f"{kind}{patients} hold-out of {test_size:.0%} "
            f"(random_state={random_state})"
        )
    if groups is not None:
        for a, b in (("train", "test"), ("val", "test"), ("train", "val")):
            try:
                check_group_separation(groups[split == a], groups[split == b])
            except ValueError as e:
                raise ValueError(f"{a} and {b} splits: {e}") from e
    return split, protocol
