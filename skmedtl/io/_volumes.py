"""Volumes: cut into 2-D / 2.5-D slices, and pool slice embeddings per volume.

The estimator that does both around a 2-D extractor,
:class:`~skmedtl.features.VolumeFeatures`, lives in :mod:`skmedtl.features`.
"""

from __future__ import annotations

import numbers

import numpy as np

from .._constants import SLICE_MODES, SLICE_POOLINGS
from ..utils._validation import Interval, StrOptions, validate_params

__all__ = ["pool_slices", "volume_to_slices"]


#: What the slicing parameters accept (shared with VolumeFeatures' table).
SLICING_CONSTRAINTS = {
    "axis": [Interval(numbers.Integral, -3, 2)],
    "mode": [StrOptions(SLICE_MODES)],
    "step": [Interval(numbers.Integral, 1)],
    "start": [Interval(numbers.Integral), None],
    "stop": [Interval(numbers.Integral), None],
}


def volume_to_slices(
    volume: np.ndarray,
    *,
    axis: int = -1,
    mode: str = "2d",
    step: int = 1,
    start: int | None = None,
    stop: int | None = None,
    return_indices: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Cut a 3-D volume into 2-D images, or 2.5-D images of adjacent slices.

    Parameters
    ----------
    volume : ndarray of shape (a, b, c)
        One volume. NIfTI volumes from :func:`~skmedtl.io.read_image` are
        canonical ``(x, y, z)``, so the default ``axis=-1`` gives axial slices;
        for ``(depth, h, w)`` stacks (MedMNIST 3D, multi-frame DICOM) pass
        ``axis=0``.
    axis : int, default=-1
        The axis to slice along.
    mode : {"2d", "2.5d"}, default="2d"
        ``"2d"``: one greyscale image per slice, ``(n_slices, h, w)``.
        ``"2.5d"``: three channels holding slices ``i - 1``, ``i``, ``i + 1``,
        ``(n_slices, h, w, 3)``, as in the 2.5-D studies of the review; at the
        first and last slice the missing neighbour repeats the edge slice. This
        fills the three input channels of an ImageNet CNN with real 3-D context
        instead of three copies of one slice.
    step : int, default=1
        Keep every ``step``-th slice (the neighbours of a 2.5-D image are always
        the adjacent slices).
    start, stop : int, optional
        The range of slice indices, as in ``range(n)[start:stop]``.
    return_indices : bool, default=False
        Also return the index of each slice (the centre slice in 2.5-D).

    Returns
    -------
    slices : ndarray
        ``(n_slices, h, w)`` or ``(n_slices, h, w, 3)``, the dtype of ``volume``
        (apply an intensity policy to the volume first to scale all slices
        alike).
    indices : ndarray of int, only with ``return_indices=True``

    Examples
    --------
    >>> import numpy as np
    >>> from skmedtl.io import volume_to_slices
    >>> volume = np.arange(4 * 5 * 6).reshape(4, 5, 6)  # slices along axis 0
    >>> volume_to_slices(volume, axis=0).shape
    (4, 5, 6)
    >>> slices = volume_to_slices(volume, axis=0, mode="2.5d")
    >>> slices.shape
    (4, 5, 6, 3)
    >>> [bool((slices[1, ..., c] == volume[i]).all()) for c, i in enumerate((0, 1, 2))]
    [True, True, True]
    """
    volume = np.asarray(volume)
    if volume.ndim != 3:
        hint = (
            (
                " For a 4-D series, pick one volume first, e.g. volume[..., 0] or "
                "read_image(path, frame=0)."
            )
            if volume.ndim == 4
            else ""
        )
        raise ValueError(f"volume must be a 3-D array; got shape {volume.shape}.{hint}")
    if volume.dtype.kind not in "biuf":
        raise TypeError(f"volume has dtype {volume.dtype}; expected numbers.")
    validate_params(
        {"axis": axis, "mode": mode, "step": step, "start": start, "stop": stop},
        SLICING_CONSTRAINTS,
    )
    moved = np.moveaxis(volume, axis, 0)
    n = moved.shape[0]
    indices = np.arange(n)[start:stop:step]
    if len(indices) == 0:
        raise ValueError(
            f"No slices selected: the volume has {n} slices along axis {axis}, and "
            f"start={start}, stop={stop}, step={step} select none."
        )
    if mode == "2d":
        slices = np.ascontiguousarray(moved[indices])
    else:
        below = np.clip(indices - 1, 0, n - 1)
        above = np.clip(indices + 1, 0, n - 1)
        slices = np.stack([moved[below], moved[indices], moved[above]], axis=-1)
    return (slices, indices) if return_indices else slices


def pool_slices(
    embeddings: np.ndarray, volume_ids, *, method: str = "mean"
) -> tuple[np.ndarray, np.ndarray]:
    """Pool slice embeddings into one vector per volume.

    Parameters
    ----------
    embeddings : ndarray of shape (n_slices, d)
        One row per slice (from :class:`~skmedtl.CNNFeatures`, say).
    volume_ids : array-like of shape (n_slices,)
        The volume each slice belongs to; rows of a volume need not be adjacent.
    method : {"mean", "max"}, default="mean"
        Average or element-wise maximum over each volume's slices.

    Returns
    -------
    pooled : ndarray of shape (n_volumes, d), float32
    ids : ndarray of shape (n_volumes,)
        The volume ids, in order of first appearance (the order of ``pooled``).

    See Also
    --------
    skmedtl.features.VolumeFeatures : Slicing, embedding and pooling as one
        Pipeline step.

    Examples
    --------
    >>> import numpy as np
    >>> from skmedtl.io import pool_slices
    >>> emb = np.array([[1.0, 0.0], [3.0, 2.0], [5.0, 5.0]])
    >>> pooled, ids = pool_slices(emb, ["b", "b", "a"])
    >>> pooled, ids
    (array([[2., 1.],
           [5., 5.]], dtype=float32), array(['b', 'a'], dtype='<U1'))
    >>> pool_slices(emb, [0, 0, 1], method="max")[0]
    array([[3., 2.],
           [5., 5.]], dtype=float32)
    """
    validate_params({"method": method}, {"method": [StrOptions(SLICE_POOLINGS)]})
    emb = np.asarray(embeddings)
    if emb.ndim != 2:
        raise ValueError(f"embeddings must be 2-D (n_slices, d); got {emb.shape}.")
    ids = np.asarray(volume_ids)
    if ids.ndim != 1 or len(ids) != len(emb):
        raise ValueError(
            f"volume_ids must have one entry per embedding row: {len(emb)} rows "
            f"but volume_ids of shape {ids.shape}."
        )
    if len(emb) == 0:
        raise ValueError("embeddings is empty: nothing to pool.")
    unique, first, inverse = np.unique(ids, return_index=True, return_inverse=True)
    order = np.argsort(first)
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    group = rank[inverse.ravel()]
    if method == "mean":
        sums = np.zeros((len(unique), emb.shape[1]), dtype=np.float64)
        np.add.at(sums, group, emb)
        pooled = sums / np.bincount(group)[:, None]
    else:
        pooled = np.full((len(unique), emb.shape[1]), -np.inf)
        np.maximum.at(pooled, group, emb)
    return pooled.astype(np.float32), unique[order]
