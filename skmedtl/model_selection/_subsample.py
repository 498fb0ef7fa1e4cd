"""Nested, stratified, group-aware subsamples of a training partition.

A learning curve trains every approach on growing parts of the training
partition (the validation and test sets stay fixed). :func:`subsample_indices`
draws them: per repeat, one random order of the training images (or of the
patients, with ``groups``) in which every prefix keeps the class proportions,
and the subsample of size ``n`` is the shortest prefix holding ``n`` images.
Subsamples of one repeat are therefore *nested* (the 25 images are among the
50), which smooths the curve (a size adds images, it does not redraw them) and
lets a study reuse embeddings it already computed.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np
from sklearn.utils import check_random_state

from ..utils._validation import check_int

__all__ = ["SkippedSize", "Subsample", "SubsamplePlan", "subsample_indices"]

#: The size that stands for the whole training partition.
ALL = "all"


@dataclass(frozen=True)
class Subsample:
    """One training subsample of a learning curve.

    Attributes
    ----------
    size : int or "all"
        The size asked for.
    repeat : int
        Which repeat (0-based); subsamples of one repeat are nested.
    indices : ndarray of int
        Rows of the training partition, sorted.
    n_samples : int
        ``len(indices)``: the size asked for, or a little more with
        ``groups`` (a patient's images are never split).
    class_counts : tuple of (label, int)
        Images of each class in the subsample.
    """

    size: int | str
    repeat: int
    indices: np.ndarray
    n_samples: int
    class_counts: tuple[tuple[object, int], ...]

    @property
    def is_full(self) -> bool:
        """Whether this is the whole training partition (the same in every repeat)."""
        return self.size == ALL


@dataclass(frozen=True)
class SkippedSize:
    """A size that cannot be trained on, with the reason (reported, not raised).

    Attributes
    ----------
    size : int or "all"
    repeat : int or None
        The repeat whose draw fell short; ``None`` when the size is skipped
        for every repeat (larger than the partition).
    reason : str
    """

    size: int | str
    repeat: int | None
    reason: str


@dataclass(frozen=True)
class SubsamplePlan:
    """The outcome of :func:`subsample_indices`.

    Attributes
    ----------
    subsamples : tuple of Subsample
        Ordered by repeat, then size.
    skipped : tuple of SkippedSize
    sizes : tuple
        The sizes asked for, ascending (``"all"`` last).
    n_repeats : int
    n_train : int
        Images of the training partition.
    """

    subsamples: tuple[Subsample, ...]
    skipped: tuple[SkippedSize, ...]
    sizes: tuple
    n_repeats: int
    n_train: int

    def for_size(self, size) -> list[Subsample]:
        """The subsamples of one size (one per repeat that was not skipped)."""
        return [s for s in self.subsamples if s.size == size]

    def __iter__(self):
        return iter(self.subsamples)

    def __len__(self) -> int:
        return len(self.subsamples)


def _sizes(sizes, n: int) -> list:
    if isinstance(sizes, (str, numbers.Integral)):
        sizes = [sizes]
    out = []
    for size in sizes:
        if isinstance(size, str):
            if size.strip().lower() != ALL:
                raise ValueError(
                    f"sizes entries must be positive integers or 'all'; got {size!r}."
                )
            size = ALL
        elif isinstance(size, bool) or not isinstance(size, numbers.Integral):
            raise TypeError(
                f"sizes entries must be positive integers or 'all'; got {size!r}."
            )
        elif size < 1:
            raise ValueError(f"sizes entries must be at least 1; got {size}.")
        else:
            size = int(size)
        if size in out:
            raise ValueError(f"sizes lists {size!r} twice.")
        out.append(size)
    if not out:
        raise ValueError("sizes is empty: give at least one size (or 'all').")
    return sorted(out, key=lambda s: (s == ALL, 0 if s == ALL else s))


def _interleaved(units_by_class: list[np.ndarray], rng) -> np.ndarray:
    """One order of all units in which every prefix keeps the class shares.

    Class ``c``'s ``r``-th unit (in a random order within the class) is keyed
    ``(r + u_c) / n_c`` with one uniform offset ``u_c`` per class: sorting by
    key interleaves the classes so that any prefix holds each class within
    one unit of its share.
    """
    keys, units = [], []
    for members in units_by_class:
        order = rng.permutation(members)
        keys.append((np.arange(len(order)) + rng.uniform()) / len(order))
        units.append(order)
    keys, units = np.concatenate(keys), np.concatenate(units)
    return units[np.argsort(keys, kind="stable")]


def subsample_indices(
    y,
    sizes,
    n_repeats: int = 3,
    *,
    groups=None,
    min_per_class: int = 1,
    random_state=None,
) -> SubsamplePlan:
    """Repeated, nested, stratified (and group-aware) subsamples for learning curves.

    Parameters
    ----------
    y : array-like of shape (n_train,)
        Labels of the training partition (any type).
    sizes : int, "all" or sequence of them
        Training-set sizes in images. ``"all"`` is the whole partition; a
        size at least as large as the partition is skipped (use ``"all"``).
    n_repeats : int, default=3
        Independent draws of every size.
    groups : array-like of shape (n_train,), optional
        Patient (or study) ids: a group's images are taken together, so a
        subsample may hold a few more images than asked for. Groups are
        stratified by their most frequent class.
    min_per_class : int, default=1
        Images of every class a subsample must hold for the approach to
        train on it (e.g. the inner CV folds); a draw with fewer is skipped
        with a :class:`SkippedSize`, not an error.
    random_state : int, RandomState instance or None, default=None

    Returns
    -------
    SubsamplePlan

    Examples
    --------
    >>> import numpy as np
    >>> from skmedtl.model_selection import subsample_indices
    >>> y = np.repeat([0, 1], [60, 40])
    >>> plan = subsample_indices(y, [10, 50, "all"], 2, random_state=0)
    >>> [s.class_counts for s in plan.for_size(10)]
    [((0, 6), (1, 4)), ((0, 6), (1, 4))]
    >>> small, large = plan.for_size(10)[0], plan.for_size(50)[0]
    >>> bool(np.isin(small.indices, large.indices).all())  # nested
    True
    """
    y = np.asarray(y)
    if y.ndim != 1 or len(y) == 0:
        raise ValueError(f"y must be a non-empty 1-D array of labels; got {y.shape}.")
    n = len(y)
    sizes = _sizes(sizes, n)
    check_int("n_repeats", n_repeats, minimum=1)
    check_int("min_per_class", min_per_class, minimum=0)
    labels = np.unique(y)
    encoded = np.searchsorted(labels, y)
    if groups is None:
        unit_of = np.arange(n)
    else:
        groups = np.asarray(groups)
        if groups.shape != (n,):
            raise ValueError(
                f"groups must give one id per image ({n}); got shape {groups.shape}."
            )
        unit_of = np.unique(groups, return_inverse=True)[1].ravel()
    n_units = int(unit_of.max()) + 1
    per_unit = np.zeros((n_units, len(labels)), dtype=int)
    np.add.at(per_unit, (unit_of, encoded), 1)
    unit_class = per_unit.argmax(axis=1)
    unit_sizes = per_unit.sum(axis=1)
    units_by_class = [np.flatnonzero(unit_class == c) for c in range(len(labels))]
    rng = check_random_state(random_state)

    subsamples, skipped = [], []
    for size in sizes:
        if size != ALL and size >= n:
            skipped.append(
                SkippedSize(
                    size,
                    None,
                    f"{size} images is not smaller than the training partition "
                    f"({n} images); 'all' trains on the whole partition.",
                )
            )
    for repeat in range(int(n_repeats)):
        order = _interleaved(units_by_class, rng)
        taken = np.cumsum(unit_sizes[order])
        for size in sizes:
            if size != ALL and size >= n:
                continue
            stop = len(order) if size == ALL else int(np.searchsorted(taken, size)) + 1
            chosen = np.isin(unit_of, order[:stop])
            indices = np.flatnonzero(chosen)
            counts = np.bincount(encoded[indices], minlength=len(labels))
            if counts.min() < min_per_class:
                short = [
                    f"{labels.tolist()[c]!r}: {counts[c]}"
                    for c in range(len(labels))
                    if counts[c] < min_per_class
                ]
                skipped.append(
                    SkippedSize(
                        size,
                        repeat,
                        f"fewer than min_per_class={min_per_class} images of a "
                        f"class ({', '.join(short)}).",
                    )
                )
                continue
            subsamples.append(
                Subsample(
                    size=size,
                    repeat=repeat,
                    indices=indices,
                    n_samples=len(indices),
                    class_counts=tuple(
                        (label, int(c))
                        for label, c in zip(labels.tolist(), counts, strict=True)
                    ),
                )
            )
    return SubsamplePlan(
        subsamples=tuple(subsamples),
        skipped=tuple(skipped),
        sizes=tuple(sizes),
        n_repeats=int(n_repeats),
        n_train=n,
    )
