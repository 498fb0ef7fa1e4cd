"""The reader interface and the helpers every reader shares.

The format readers (:mod:`._readers`, :mod:`._dicom`, :mod:`._nifti`) import
from here and the registry in :mod:`._readers` imports them, so the import graph
has no cycle.
"""

from __future__ import annotations

import importlib
import numbers
import os
from pathlib import Path
from typing import ClassVar

import numpy as np

from ..utils._validation import Interval, validate_params
from ._errors import ImageReadError
from ._intensity import IntensityPolicy

__all__ = ["ImageReader", "frame_index", "import_optional", "is_dicom_file"]

_DICOM_MAGIC_OFFSET = 128

SUPPORTED_HELP = (
    "Supported: PNG, JPEG, TIFF, BMP, GIF, WebP (Pillow / tifffile), .npy, DICOM "
    "(.dcm, or any file with the DICM marker) and NIfTI (.nii, .nii.gz)."
)


class ImageReader:
    """The interface every reader implements (one subclass per format).

    Subclasses set :attr:`name` and :attr:`suffixes`, and implement
    :meth:`_read` (raw values, full bit depth); :meth:`read` applies the frame
    selection and intensity policy. A reader that applies the policy itself
    (DICOM: windows come before the MONOCHROME1 inversion) overrides
    :meth:`read`.

    Attributes
    ----------
    name : str
        The name that ``read_image(..., reader=name)`` accepts.
    suffixes : tuple of str
        Lower-case file suffixes the reader claims (``".nii.gz"`` included).
    extra : str or None
        The skmedtl extra that installs the reader's optional dependency.
    """

    name: ClassVar[str] = ""
    suffixes: ClassVar[tuple[str, ...]] = ()
    extra: ClassVar[str | None] = None

    def verify_suffix(self, path: str | os.PathLike) -> bool:
        """Whether ``path``'s suffix is one this reader claims."""
        return _suffix(path) in self.suffixes

    def read(
        self, path: str | os.PathLike, *, intensity=None, frame: int | None = None
    ) -> np.ndarray:
        """Read ``path``; see :func:`read_image` for the parameters."""
        policy = IntensityPolicy.from_spec(intensity)
        if policy.kind == "voi":
            raise ValueError(
                f"intensity='voi' uses the window stored in a DICOM file, but "
                f"{os.fspath(path)} is read by the {self.name!r} reader. Choose a "
                "window such as 'soft_tissue' or (40, 400), 'percentile' or "
                "'minmax'."
            )
        image = _native_byte_order(self._read(Path(path), frame))
        return policy(image)

    def _read(self, path: Path, frame: int | None) -> np.ndarray:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def frame_index(frame, n_frames: int, path) -> int:
    """Check ``frame`` against a file's ``n_frames`` (negative: from the end)."""
    if frame is None:
        return 0
    validate_params({"frame": frame}, {"frame": [Interval(numbers.Integral), None]})
    if not -n_frames <= frame < n_frames:
        raise ImageReadError(
            path,
            f"frame={frame} is out of range: the file has {n_frames} "
            f"frame{'s' if n_frames != 1 else ''}.",
        )
    return int(frame) % n_frames


def _stack_frames(frames: list[np.ndarray], path) -> np.ndarray:
    if len({(f.shape, f.dtype) for f in frames}) != 1:
        raise ImageReadError(
            path, "its frames differ in size or type; pass frame=<index> to read one."
        )
    return np.stack(frames)


def _native_byte_order(arr: np.ndarray) -> np.ndarray:
    # Big-endian DICOM / NIfTI data: torch and most libraries need native order.
    if arr.dtype.byteorder not in ("=", "|") and arr.dtype.byteorder != _NATIVE:
        return arr.astype(arr.dtype.newbyteorder("="))
    return arr


_NATIVE = "<" if np.little_endian else ">"


def _suffix(path) -> str:
    name = Path(path).name.lower()
    if name.endswith(".nii.gz"):
        return ".nii.gz"
    return Path(name).suffix


def is_dicom_file(path: str | os.PathLike) -> bool:
    """Whether ``path`` starts with a DICOM preamble (``DICM`` at byte 128)."""
    try:
        with open(path, "rb") as f:
            f.seek(_DICOM_MAGIC_OFFSET)
            return f.read(4) == b"DICM"
    except OSError:
        return False


def import_optional(module: str, extra: str, what: str, path) -> object:
    """Import an optional dependency, or say how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise ImportError(
            f"Cannot read {os.fspath(path)}: reading {what} files needs the optional "
            f"dependency {module!r}, which is not installed. Install it with "
            f'`pip install "skmedtl[{extra}]"`.'
        ) from e
