"""Turning what users pass as ``X`` into a uniform, lazily read image sequence.

Accepted: numpy arrays ``(n, h, w)``, ``(n, h, w, c)`` or ``(n, c, h, w)`` with
``c`` in {1, 3}; lists of such single images (sizes may differ); lists of file
paths. Every image comes out channels-last, ``(h, w)`` or ``(h, w, c)``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import Executor

import numpy as np

from ._readers import read_image

_CHANNELS = (1, 3)
_SHAPES_HELP = (
    "Expected (n, h, w), (n, h, w, c) or (n, c, h, w) with c in {1, 3}, a list of "
    "such images, or a list of file paths."
)


class ImageSequence(Sequence):
    """Images indexed lazily; paths are read on access.

    Parameters
    ----------
    X : array-like or list
        The images, as accepted by :class:`~skmedtl.CNNFeatures`.
    """

    def __init__(self, X):
        self.kind, self._items = _normalise(X)

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, i: int) -> np.ndarray:
        item = self._items[i]
        if self.kind == "paths":
            return _as_channels_last(read_image(item), where=f"file {item}")
        return item if self.kind == "array" else _as_channels_last(item, f"X[{i}]")

    def batch(
        self, start: int, stop: int, pool: Executor | None = None
    ) -> np.ndarray | list[np.ndarray]:
        """Images ``start:stop``: one array when they share a shape, else a list.

        ``pool`` reads files in parallel (decoders release the GIL).
        """
        if self.kind == "array":
            return self._items[start:stop]
        if pool is not None and self.kind == "paths":
            return list(pool.map(self.__getitem__, range(start, stop)))
        return [self[i] for i in range(start, stop)]

    def describe(self, i: int) -> str:
        """How to name image ``i`` in an error message."""
        if self.kind == "paths":
            return f"image {i} ({self._items[i]})"
        return f"image {i}"


def _normalise(X) -> tuple[str, np.ndarray | list]:
    if X is None:
        raise ValueError("X is None. " + _SHAPES_HELP)
    if hasattr(X, "to_numpy") and not isinstance(X, np.ndarray):  # pandas
        X = X.to_numpy()
    if isinstance(X, (str, os.PathLike)):
        raise TypeError(
            f"X is a single path ({X!r}); pass a list of paths, e.g. [{str(X)!r}]."
        )
    if isinstance(X, np.ndarray) and X.dtype.kind not in "OUS":
        return "array", _check_array_batch(X)
    items = list(X)
    if not items:
        raise ValueError("X is empty: at least one image is needed.")
    if all(isinstance(x, (str, os.PathLike)) for x in items):
        return "paths", [os.fspath(x) for x in items]
    if any(isinstance(x, (str, os.PathLike)) for x in items):
        raise TypeError("X mixes file paths and arrays; pass one kind only.")
    arrays = []
    for i, x in enumerate(items):
        x = np.asarray(x)
        _check_dtype(x, f"X[{i}]")
        if x.ndim not in (2, 3):
            raise ValueError(
                f"X[{i}] has shape {x.shape}; each image in a list must be (h, w), "
                "(h, w, c) or (c, h, w)."
            )
        _as_channels_last(x, f"X[{i}]")  # its own index in errors, before stacking
        arrays.append(x)
    shapes = {a.shape for a in arrays}
    dtypes = {a.dtype for a in arrays}
    if len(shapes) == 1 and len(dtypes) == 1:
        return "array", _check_array_batch(np.stack(arrays))
    return "list", arrays


def _check_dtype(x: np.ndarray, where: str) -> None:
    if x.dtype.kind not in "biuf":
        raise TypeError(
            f"{where} has dtype {x.dtype}; images must be boolean, integer or float."
        )


def _check_array_batch(X: np.ndarray) -> np.ndarray:
    _check_dtype(X, "X")
    if X.ndim == 0 or X.shape[0] == 0:
        raise ValueError("X is empty: at least one image is needed.")
    if X.ndim == 2:
        raise ValueError(
            f"X has shape {X.shape}: a single 2-D image? Add a batch axis "
            f"(X[None]) or pass a list of images. " + _SHAPES_HELP
        )
    if X.ndim == 3:
        return _check_pixels(X, X.shape[1:], "X")
    if X.ndim == 4:
        if X.shape[-1] in _CHANNELS:
            return _check_pixels(X, X.shape[1:3], "X")
        if X.shape[1] in _CHANNELS:
            return _check_pixels(np.moveaxis(X, 1, -1), X.shape[2:], "X")
    raise ValueError(f"X has shape {X.shape}. " + _SHAPES_HELP)


def _check_pixels(x: np.ndarray, size: tuple[int, ...], where: str) -> np.ndarray:
    """``x`` unless its images have a side of 0 pixels (torch cannot resize them)."""
    if 0 in size:
        raise ValueError(
            f"{where} has shape {x.shape}: an image of {size[0]} x {size[1]} pixels "
            "has no pixels. Remove empty images (and their labels) before "
            "extraction."
        )
    return x


def _as_channels_last(x: np.ndarray, where: str) -> np.ndarray:
    _check_dtype(x, where)
    if x.ndim == 2:
        return _check_pixels(x, x.shape, where)
    if x.ndim == 3:
        if x.shape[-1] in _CHANNELS:
            return _check_pixels(x, x.shape[:2], where)
        if x.shape[0] in _CHANNELS:
            return _check_pixels(np.moveaxis(x, 0, -1), x.shape[1:], where)
    raise ValueError(
        f"{where} has shape {x.shape}; an image must be (h, w), (h, w, c) or "
        "(c, h, w) with c in {1, 3}."
    )
