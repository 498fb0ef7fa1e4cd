"""VolumeFeatures: one embedding per volume from a 2-D extractor."""

from __future__ import annotations

import numbers
import os

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.utils.validation import check_is_fitted

from .._constants import SLICE_POOLINGS
from ..io._intensity import IntensityPolicy
from ..io._readers import read_image
from ..io._volumes import SLICING_CONSTRAINTS, pool_slices, volume_to_slices
from ..utils._validation import Check, Interval, StrOptions, check_params

__all__ = ["VolumeFeatures"]


def _check_features(features) -> None:
    if not (hasattr(features, "fit") and hasattr(features, "transform")):
        raise TypeError(
            "features must be None or a 2-D feature extractor with fit and "
            f"transform, such as CNNFeatures(...); got {type(features).__name__}."
        )


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
        Slicing axis, as in :func:`~skmedtl.io.volume_to_slices` (``-1``:
        axial for NIfTI read by :func:`~skmedtl.io.read_image`; ``0`` for
        ``(depth, h, w)`` stacks).
    mode : {"2d", "2.5d"}, default="2.5d"
        Slices as greyscale images or as three adjacent slices in three
        channels.
    step : int, default=1
        Keep every ``step``-th slice.
    pooling : {"mean", "max"}, default="mean"
        How slice embeddings become one vector (:func:`~skmedtl.io.pool_slices`).
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
    >>> from skmedtl.features import VolumeFeatures
    >>> volumes = np.random.default_rng(0).integers(0, 256, (3, 8, 28, 28),
    ...                                             dtype=np.uint8)
    >>> cnn = CNNFeatures("lenet5", weights=None, random_state=0, verbose=0)
    >>> VolumeFeatures(cnn, axis=0, step=2).fit_transform(volumes).shape
    (3, 120)
    """

    _parameter_constraints: dict = {
        "features": [None, Check(_check_features, "a transformer")],
        "axis": SLICING_CONSTRAINTS["axis"],
        "mode": SLICING_CONSTRAINTS["mode"],
        "step": SLICING_CONSTRAINTS["step"],
        "pooling": [StrOptions(SLICE_POOLINGS)],
        "intensity": [Check(IntensityPolicy.from_spec, "an intensity policy")],
        "frame": [Interval(numbers.Integral), None],
    }

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
            from ._cnn_features import CNNFeatures

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
        check_params(self)

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """Output names: ``<pooling>_<name>`` for each name of the slice features.

        The slice extractor's own names (``resnet18_0``, ...) when it has them,
        else ``volumefeatures<i>``.
        """
        check_is_fitted(self, "n_features_out_")
        try:
            names = self.features_.get_feature_names_out()
        except (AttributeError, ValueError, TypeError):
            names = None
        if names is None or len(names) != self.n_features_out_:
            return np.asarray(
                [f"volumefeatures{i}" for i in range(self.n_features_out_)],
                dtype=object,
            )
        return np.asarray([f"{self.pooling}_{n}" for n in names], dtype=object)

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
