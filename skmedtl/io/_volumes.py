"""Volumes: cut into 2-D / 2.5-D slices, and pool slice embeddings per volume."""

from __future__ import annotations

import numbers
import os

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.utils.validation import check_is_fitted

from ..utils._naming import did_you_mean
from ._intensity import IntensityPolicy
from ._readers import read_image

__all__ = ["VolumeFeatures", "pool_slices", "volume_to_slices"]

SLICE_MODES = ("2d", "2.5d")
POOLINGS = ("mean", "max")


def _choice(name: str, value, choices) -> str:
    if value not in choices:
        raise ValueError(
            f"Unknown {name} {value!r}.{did_you_mean(str(value), choices)} "
            f"Choose from {choices}."
        )
    return value


def _positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer; got {value!r}.")
    return int(value)


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
    if (
        isinstance(axis, bool)
        or not isinstance(axis, numbers.Integral)
        or not (-3 <= axis < 3)
    ):
        raise ValueError(f"axis must be an integer in [-3, 2]; got {axis!r}.")
    _choice("mode", mode, SLICE_MODES)
    step = _positive_int("step", step)
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
    VolumeFeatures : Slicing, embedding and pooling as one Pipeline step.

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
    _choice("method", method, POOLINGS)
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


class VolumeFeatures(TransformerMixin, BaseEstimator):
    """One embedding per volume: slice, embed each slice in 2-D, pool.

    A Pipeline step for volume-level classification with a 2-D backbone:
    ``Pipeline([("volumes", VolumeFeatures(CNNFeatures(...))),
    ("clf", LogisticRegression())])`` takes a list of volumes (arrays or NIfTI /
    DICOM / ``.npy`` paths) and one label per volume, so ``GridSearchCV`` splits
    volumes, never slices of one patient across folds.

    Parameters
    ----------
    features : transformer, default=None
        The 2-D feature extractor, cloned in :meth:`fit`. ``None`` means
        ``CNNFeatures()``. It must learn nothing from the data (a frozen
        extractor such as :class:`~skmedtl.CNNFeatures`): it is fitted on the
        slices of the first volume only, so that volumes are never all held in
        memory at once.
    axis : int, default=-1
        Slicing axis, as in :func:`volume_to_slices` (``-1``: axial for NIfTI
        read by :func:`~skmedtl.io.read_image`; ``0`` for ``(depth, h, w)``
        stacks).
    mode : {"2d", "2.5d"}, default="2.5d"
        Slices as greyscale images or as three adjacent slices in three
        channels.
    step : int, default=1
        Keep every ``step``-th slice.
    pooling : {"mean", "max"}, default="mean"
        How slice embeddings become one vector (:func:`pool_slices`).
    intensity : None, str, tuple or IntensityPolicy, default=None
        Applied to each whole volume before slicing (see
        :func:`~skmedtl.io.read_image`); ``None`` keeps raw values.
    frame : int, optional
        For 4-D files, the volume to read (see :func:`~skmedtl.io.read_image`).

    Attributes
    ----------
    features_ : transformer
        The fitted clone of ``features``.
    n_features_out_ : int
        Width of the pooled embeddings.

    Examples
    --------
    >>> import numpy as np
    >>> from skmedtl import CNNFeatures
    >>> from skmedtl.io import VolumeFeatures
    >>> volumes = np.random.default_rng(0).integers(0, 256, (3, 8, 28, 28),
    ...                                             dtype=np.uint8)
    >>> cnn = CNNFeatures("lenet5", weights=None, random_state=0, verbose=0)
    >>> VolumeFeatures(cnn, axis=0, step=2).fit_transform(volumes).shape
    (3, 120)
    """

    def __init__(
        self,
        features=None,
        *,
        axis: int = -1,
        mode: str = "2.5d",
        step: int = 1,
        pooling: str = "mean",
        intensity=None,
        frame: int | None = None,
    ):
        self.features = features
        self.axis = axis
        self.mode = mode
        self.step = step
        self.pooling = pooling
        self.intensity = intensity
        self.frame = frame

    def fit(self, X, y=None):
        """Clone and fit the feature extractor on the first volume's slices.

        Parameters
        ----------
        X : list of volumes or paths, or ndarray of shape (n, a, b, c)
            The volumes.
        y : ignored

        Returns
        -------
        self
        """
        self._check_params()
        volumes = _volume_list(X)
        features = self.features
        if features is None:
            from ..features import CNNFeatures

            features = CNNFeatures()
        self.features_ = clone(features).fit(self._slices(volumes[0]))
        width = getattr(self.features_, "n_features_out_", None)
        if width is None:
            width = self.features_.transform(self._slices(volumes[0])).shape[1]
        self.n_features_out_ = int(width)
        return self

    def transform(self, X) -> np.ndarray:
        """Embed each volume.

        Parameters
        ----------
        X : list of volumes or paths, or ndarray of shape (n, a, b, c)
            The volumes.

        Returns
        -------
        ndarray of shape ``(n_volumes, n_features_out_)``, float32
        """
        check_is_fitted(self, "features_")
        volumes = _volume_list(X)
        out = np.empty((len(volumes), self.n_features_out_), dtype=np.float32)
        for i, volume in enumerate(volumes):
            emb = np.asarray(self.features_.transform(self._slices(volume)))
            out[i] = pool_slices(
                emb, np.zeros(len(emb), dtype=int), method=self.pooling
            )[0][0]
        return out

    def _slices(self, volume) -> np.ndarray:
        policy = IntensityPolicy.from_spec(self.intensity)
        if isinstance(volume, (str, os.PathLike)):
            array = read_image(volume, intensity=policy, frame=self.frame)
        else:
            array = policy(np.asarray(volume))
        try:
            return volume_to_slices(
                array, axis=self.axis, mode=self.mode, step=self.step
            )
        except (ValueError, TypeError) as e:
            where = volume if isinstance(volume, (str, os.PathLike)) else "a volume"
            raise type(e)(f"{where}: {e}") from e

    def _check_params(self) -> None:
        _choice("mode", self.mode, SLICE_MODES)
        _choice("pooling", self.pooling, POOLINGS)
        _positive_int("step", self.step)
        IntensityPolicy.from_spec(self.intensity)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.three_d_array = True
        return tags


def _volume_list(X) -> list:
    if isinstance(X, (str, os.PathLike)):
        raise TypeError(f"X is a single path ({X!r}); pass a list of volumes.")
    if isinstance(X, np.ndarray) and X.dtype.kind in "biuf":
        if X.ndim != 4:
            raise ValueError(
                f"X has shape {X.shape}; pass a list of 3-D volumes or paths, or a "
                "4-D array (n_volumes, a, b, c)."
            )
        return list(X)
    volumes = list(X)
    if not volumes:
        raise ValueError("X is empty: at least one volume is needed.")
    return volumes
