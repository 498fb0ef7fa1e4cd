"""ImageLoader: file paths in, arrays out, as a Pipeline step."""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from ..utils._validation import Check, Interval, check_params
from ._checks import _check_length, check_paths
from ._intensity import IntensityPolicy
from ._readers import READER_CONSTRAINT, read_image

__all__ = ["ImageLoader"]


class ImageLoader(TransformerMixin, BaseEstimator):
    """Read image files inside a scikit-learn Pipeline: paths in, arrays out.

    With ``ImageLoader`` first, ``X`` stays a plain list of paths, so
    ``GridSearchCV`` and ``cross_validate`` split the paths (and only the images of
    each fold are read), and the intensity policy becomes a hyper-parameter
    (``loader__intensity=["lung", "soft_tissue"]``).

    The transformer is stateless: :meth:`fit` only validates the parameters and
    records the resolved policy; :meth:`transform` reads each file with
    :func:`~skmedtl.io.read_image`.

    Parameters
    ----------
    intensity : None, str, tuple or IntensityPolicy, default=None
        How raw values map to ``[0, 1]`` (see :func:`~skmedtl.io.read_image`):
        ``None`` keeps the values as read (``uint8``, ``uint16``, Hounsfield
        units, ...) and leaves the scaling to the next step (``CNNFeatures``'
        ``intensity``); ``"minmax"``, ``"percentile"``, a CT window preset such as
        ``"lung"``, ``(center, width)`` or ``"voi"`` give ``float32`` in
        ``[0, 1]``. Embedding caches key on the decoded array, so each policy
        gets its own cache entries.
    frame : int, optional
        One frame of multi-frame files (see :func:`~skmedtl.io.read_image`).
    reader : str, optional
        Force a reader (``"pil"``, ``"tiff"``, ``"numpy"``, ``"dicom"``,
        ``"nifti"``); ``None`` chooses by suffix.
    n_jobs : int, optional
        Threads used to read files (``None``: 1, ``-1``: all cores). Results
        do not depend on it.

    Attributes
    ----------
    intensity_ : IntensityPolicy
        The resolved policy, as recorded for reports
        (``loader.intensity_.to_dict()``).

    Notes
    -----
    **Why there is no** ``on_error="skip"`` **here.** A Pipeline passes ``y``
    unchanged from step to step, so a transformer that dropped unreadable files
    would misalign images and labels (or fail later with a confusing length
    error). ``ImageLoader`` therefore always raises on a bad file, naming it.
    Clean the list first, where labels and groups can be filtered together:
    :func:`~skmedtl.io.check_images` (any list of paths) or
    :func:`~skmedtl.datasets.load_folder` with ``on_error="skip"``; both warn and
    return a record of each skipped file.

    ``transform`` returns one array when all images share shape and dtype
    (``(n, h, w)`` or ``(n, h, w, 3)``), else a list of arrays;
    :class:`~skmedtl.CNNFeatures` accepts both.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from pathlib import Path
    >>> from skmedtl.io import ImageLoader
    >>> workdir = tempfile.TemporaryDirectory()
    >>> tmp = Path(workdir.name)
    >>> paths = []
    >>> for i in range(3):
    ...     np.save(tmp / f"scan{i}.npy", np.full((4, 4), i * 100, dtype=np.int16))
    ...     paths.append(tmp / f"scan{i}.npy")
    >>> ImageLoader().fit_transform(paths).shape
    (3, 4, 4)
    >>> ImageLoader(intensity=(100, 200)).fit_transform(paths)[:, 0, 0]
    array([0. , 0.5, 1. ], dtype=float32)
    >>> workdir.cleanup()
    """

    _parameter_constraints: dict = {
        "intensity": [Check(IntensityPolicy.from_spec, "an intensity policy")],
        "frame": [Interval(numbers.Integral), None],
        "reader": READER_CONSTRAINT,
        "n_jobs": [
            Interval(numbers.Integral, 1),
            Interval(numbers.Integral, None, -1),
            None,
        ],
    }

    def __init__(self, *, intensity=None, frame=None, reader=None, n_jobs=None):
        self.intensity = intensity
        self.frame = frame
        self.reader = reader
        self.n_jobs = n_jobs

    def fit(self, X, y=None):
        """Validate the parameters and the paths (files are not read).

        Parameters
        ----------
        X : list of str or path-like
            Image files.
        y : array-like of shape (n,), optional
            Only checked to have one entry per path.

        Returns
        -------
        self
        """
        self.intensity_ = self._check_params()
        paths = check_paths(X)
        _check_length(y, len(paths), "labels")
        return self

    def transform(self, X) -> np.ndarray | list[np.ndarray]:
        """Read the files.

        Parameters
        ----------
        X : list of str or path-like
            Image files.

        Returns
        -------
        ndarray or list of ndarray
            One image per path, in order: stacked when shapes and dtypes agree.
        """
        policy = self._check_params()
        paths = check_paths(X)

        def read(path):
            return read_image(
                path, intensity=policy, frame=self.frame, reader=self.reader
            )

        if self.n_jobs in (None, 1):
            images = [read(p) for p in paths]
        else:
            from joblib import Parallel, delayed

            images = Parallel(n_jobs=self.n_jobs, prefer="threads")(
                delayed(read)(p) for p in paths
            )
        if len({(im.shape, im.dtype) for im in images}) == 1:
            return np.stack(images)
        return images

    def _check_params(self) -> IntensityPolicy:
        check_params(self)
        return IntensityPolicy.from_spec(self.intensity)

    def set_output(self, *, transform=None):
        """Accept a Pipeline's ``set_output``; images stay arrays.

        The output is images, not a table, so ``transform="pandas"`` (or
        ``"polars"``) leaves it unchanged; the next step (such as
        :class:`~skmedtl.CNNFeatures`) returns the table.

        Returns
        -------
        self
        """
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        return tags
