"""Reading image files into numpy arrays: one reader class per format.

:func:`read_image` picks the reader from the file's suffix (and, for DICOM files
without one, from the ``DICM`` marker), reads the pixel values at their full bit
depth and applies the intensity policy the user chose (see
:mod:`skmedtl.io._intensity`). Every error names the file. Optional
dependencies (pydicom, nibabel) are imported only when a file needs them; when
one is missing the :class:`ImportError` gives the install command.
"""

from __future__ import annotations

import errno
import importlib
import logging
import os
import warnings
from pathlib import Path

import numpy as np

from ..utils._validation import StrOptions, validate_params
from ._dicom import DicomReader
from ._errors import ImageReadError
from ._nifti import NiftiReader
from ._reader_base import (
    SUPPORTED_HELP,
    ImageReader,
    _stack_frames,
    _suffix,
    frame_index,
    is_dicom_file,
)

__all__ = [
    "ImageReader",
    "NumpyReader",
    "PILReader",
    "TiffReader",
    "get_reader",
    "read_image",
]

logger = logging.getLogger(__name__)


# -- Pillow: PNG, JPEG, BMP, GIF, WebP, ... -----------------------------------------
class PILReader(ImageReader):
    """PNG, JPEG, BMP, GIF, WebP and other formats Pillow decodes.

    8-bit images come back as ``uint8``; 16-bit greyscale PNG as ``uint16`` with
    its full range; 32-bit integer / float images as ``int32`` / ``float32``.
    Greyscale is ``(h, w)``, colour ``(h, w, 3)`` (alpha dropped, palettes
    expanded). Multi-frame files (GIF, multi-page TIFF) give ``(n_frames, ...)``
    unless ``frame`` picks one. Pillow decodes 16-bit *colour* PNG to 8 bits per
    channel only; that loss is announced with a ``UserWarning``.
    """

    name = "pil"
    suffixes = (
        ".png",
        ".jpg",
        ".jpeg",
        ".jpe",
        ".jfif",
        ".bmp",
        ".gif",
        ".webp",
        ".jp2",
        ".j2k",
        ".ppm",
        ".pgm",
        ".pbm",
        ".pnm",
    )

    def _read(self, path: Path, frame: int | None) -> np.ndarray:
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(path) as img:
                n_frames = getattr(img, "n_frames", 1)
                if frame is None and n_frames > 1:
                    frames = []
                    for i in range(n_frames):
                        img.seek(i)
                        img.load()
                        frames.append(_pil_to_array(img, path))
                    return _stack_frames(frames, path)
                index = frame_index(frame, n_frames, path)
                if index:
                    img.seek(index)
                img.load()  # decode now, so truncated files fail here
                return _pil_to_array(img, path)
        except ImageReadError:
            raise
        except (
            UnidentifiedImageError,
            OSError,
            SyntaxError,
            ValueError,
            EOFError,
        ) as e:
            raise ImageReadError(
                path,
                f"not a readable image ({e}). Is it a complete file in a format "
                f"skmedtl reads? {SUPPORTED_HELP}",
            ) from e


def _pil_to_array(img, path: Path) -> np.ndarray:
    mode = img.mode
    if img.format == "PNG":
        _warn_16bit_colour_png(path)
    if mode in ("L", "RGB"):
        return np.asarray(img)
    if mode == "1":
        return np.asarray(img, dtype=np.uint8) * np.uint8(255)
    if mode.startswith("I;16"):
        return np.asarray(img).astype(np.uint16)
    if mode == "I":
        arr = np.asarray(img)
        if img.format == "PNG":  # older Pillow decodes 16-bit PNG as int32
            return arr.astype(np.uint16)
        return arr
    if mode == "F":
        return np.asarray(img, dtype=np.float32)
    if mode == "LA":
        return np.asarray(img.convert("L"))
    if mode == "P" and img.palette is not None and img.palette.mode == "L":
        return np.asarray(img.convert("L"))
    # P, RGBA, CMYK, YCbCr, ...: colour content (alpha dropped)
    return np.asarray(img.convert("RGB"))


def _warn_16bit_colour_png(path: Path) -> None:
    with open(path, "rb") as f:
        header = f.read(26)
    # IHDR: bit depth at byte 24, colour type at byte 25 (2 RGB, 4 LA, 6 RGBA)
    if len(header) == 26 and header[24] == 16 and header[25] in (2, 4, 6):
        warnings.warn(
            f"{path} is a 16-bit colour PNG; Pillow decodes it to 8 bits per "
            "channel, so precision is lost. Save it as 16-bit TIFF (read with "
            "tifffile) or .npy to keep the full depth.",
            UserWarning,
            stacklevel=5,
        )


# -- TIFF ---------------------------------------------------------------------------
class TiffReader(ImageReader):
    """TIFF, with tifffile when it is installed (else Pillow).

    tifffile keeps 16-bit colour, float and multi-page stacks; colour comes back
    channels-last, ``(h, w, 3)``. Pages of a multi-page file are stacked,
    ``(n_pages, h, w[, 3])``, unless ``frame`` picks one. When tifffile is not
    installed or cannot decode a file (a compression needing ``imagecodecs``),
    Pillow is tried.
    """

    name = "tiff"
    suffixes = (".tif", ".tiff")

    def _read(self, path: Path, frame: int | None) -> np.ndarray:
        try:
            tifffile = importlib.import_module("tifffile")
        except ImportError:
            return PILReader()._read(path, frame)
        try:
            with tifffile.TiffFile(path) as tif:
                series = tif.series[0]
                arr = series.asarray()
                axes = series.axes
        except MemoryError:
            raise
        except Exception as e:  # noqa: BLE001 - any decoder failure: try Pillow
            logger.debug("tifffile cannot read %s (%s); trying Pillow", path, e)
            try:
                return PILReader()._read(path, frame)
            except ImageReadError as pil_error:
                raise ImageReadError(
                    path,
                    f"not a readable TIFF (tifffile: {e}; Pillow: {pil_error.reason})",
                ) from e
        if "S" in axes and axes.index("S") != len(axes) - 1:
            arr = np.moveaxis(arr, axes.index("S"), -1)
            axes = axes.replace("S", "") + "S"
        if axes.endswith("S") and arr.shape[-1] == 4:
            arr = arr[..., :3]  # RGBA: drop alpha
        image_dims = 3 if axes.endswith("S") else 2
        frames = arr.reshape(-1, *arr.shape[arr.ndim - image_dims :])
        if frame is None:
            return frames[0] if len(frames) == 1 else frames
        return frames[frame_index(frame, len(frames), path)]


# -- NumPy --------------------------------------------------------------------------
class NumpyReader(ImageReader):
    """``.npy`` arrays, returned as stored (pickles are refused).

    ``frame`` indexes axis 0 of stacks: 4-D arrays and 3-D arrays whose last axis
    is not a channel axis (1, 3 or 4).
    """

    name = "numpy"
    suffixes = (".npy",)

    def _read(self, path: Path, frame: int | None) -> np.ndarray:
        try:
            arr = np.load(path, allow_pickle=False)
        except (ValueError, OSError, EOFError) as e:
            raise ImageReadError(path, f"not a readable .npy array ({e}).") from e
        if not isinstance(arr, np.ndarray) or arr.dtype.kind not in "biuf":
            raise ImageReadError(
                path,
                f"holds dtype {getattr(arr, 'dtype', type(arr))}; images "
                "must be boolean, integer or float arrays.",
            )
        stacked = arr.ndim == 4 or (arr.ndim == 3 and arr.shape[-1] not in (1, 3, 4))
        if frame is None:
            return arr
        if not stacked:
            frame_index(frame, 1, path)
            return arr
        return arr[frame_index(frame, len(arr), path)]


# -- registry and dispatch -------------------------------------------------------------
def _readers() -> dict[str, ImageReader]:
    readers = [PILReader(), TiffReader(), NumpyReader(), DicomReader(), NiftiReader()]
    return {r.name: r for r in readers}


def get_reader(path_or_name: str | os.PathLike) -> ImageReader:
    """The reader for a file (by suffix / DICOM marker) or a reader name.

    Parameters
    ----------
    path_or_name : str or path-like
        A reader name (``"pil"``, ``"tiff"``, ``"numpy"``, ``"dicom"``,
        ``"nifti"``) or a file path.

    Returns
    -------
    ImageReader

    Examples
    --------
    >>> from skmedtl.io import get_reader
    >>> get_reader("scan.nii.gz").name, get_reader("xray.png").name
    ('nifti', 'pil')
    """
    readers = _readers()
    if isinstance(path_or_name, str) and path_or_name in readers:
        return readers[path_or_name]
    suffix = _suffix(path_or_name)
    for reader in readers.values():
        if suffix in reader.suffixes:
            return reader
    if is_dicom_file(path_or_name):
        return readers["dicom"]
    return readers["pil"]  # Pillow sniffs the content of unknown suffixes


#: What ``reader=`` accepts: a reader name, an ImageReader, or None (by suffix).
READER_CONSTRAINT = [
    StrOptions(tuple(_readers())),
    ImageReader,
    None,
]


def _resolve_reader(reader, path: Path) -> ImageReader:
    validate_params({"reader": reader}, {"reader": READER_CONSTRAINT})
    if reader is None:
        return get_reader(path)
    if isinstance(reader, ImageReader):
        return reader
    return _readers()[reader]


def check_file(path: str | os.PathLike) -> Path:
    """``path`` as a ``Path`` if it is a non-empty file; else a clear error."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(errno.ENOENT, "Image file not found", os.fspath(path))
    if path.is_dir():
        raise ImageReadError(path, "it is a directory, not an image file.")
    if path.stat().st_size == 0:
        raise ImageReadError(path, "the file is empty (0 bytes).")
    return path


def read_image(
    path: str | os.PathLike,
    *,
    intensity=None,
    frame: int | None = None,
    reader: str | ImageReader | None = None,
) -> np.ndarray:
    """Read one image (or volume) file into a numpy array.

    The format comes from the suffix: PNG / JPEG / BMP / GIF / WebP (Pillow),
    TIFF (tifffile if installed, else Pillow), ``.npy``, DICOM (``.dcm``, or any
    file with the ``DICM`` marker; needs pydicom) and NIfTI (``.nii``,
    ``.nii.gz``; needs nibabel). Values keep their full bit depth: nothing is
    ever cast to ``uint8``.

    - 8-bit images: ``uint8``; 16-bit PNG / TIFF: ``uint16``. Greyscale is
      ``(h, w)``, colour ``(h, w, 3)``.
    - DICOM: the modality LUT (rescale slope / intercept, so CT is in Hounsfield
      units, ``float32``) is applied; MONOCHROME1 is inverted so that high values
      are bright; palette colour is expanded to RGB; multi-frame files give
      ``(n_frames, h, w)``. Compressed transfer syntaxes decode when a pydicom
      plugin for them is installed (the error names the missing one).
    - NIfTI: reoriented to the closest canonical (RAS+) orientation, so the array
      axes are (x: left→right, y: posterior→anterior, z: inferior→superior)
      whatever the file's orientation; the header's scaling is applied. A 3-D
      file gives ``(x, y, z)``: axial slices are along the last axis.

    Parameters
    ----------
    path : str or path-like
        The file.
    intensity : None, str, tuple or IntensityPolicy, default=None
        How values map to ``[0, 1]``. ``None`` returns the values as read.
        ``"minmax"``, ``"percentile"`` / ``("percentile", low, high)``, a CT window
        preset (``"lung"``, ``"mediastinum"``, ``"soft_tissue"``, ``"bone"``,
        ``"brain"``, ``"liver"``), an explicit ``(center, width)`` window, or
        ``"voi"`` (the VOI LUT / window stored in a DICOM file) return ``float32``
        in ``[0, 1]``. A volume is scaled as a whole. For DICOM, windows apply to
        the rescaled values (before the MONOCHROME1 inversion, as in the DICOM
        display pipeline). See :class:`~skmedtl.io.IntensityPolicy`.
    frame : int, optional
        One frame of a multi-frame file (DICOM frames, TIFF pages, GIF frames,
        the 4th axis of a NIfTI series, axis 0 of a stacked ``.npy``). ``None``
        returns all of them.
    reader : str or ImageReader, optional
        Force a reader (``"pil"``, ``"tiff"``, ``"numpy"``, ``"dicom"``,
        ``"nifti"``) instead of choosing by suffix.

    Returns
    -------
    numpy.ndarray

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    ImageReadError
        The file is empty, truncated, not an image, a DICOM file without pixel
        data, ... (a ``ValueError``; the message names the file and the problem).
    ImportError
        The format needs an optional dependency (or a DICOM decoder plugin) that
        is not installed; the message gives the ``pip install`` command.

    See Also
    --------
    ImageLoader : Read paths inside a scikit-learn Pipeline.
    volume_to_slices : Cut a volume into 2-D or 2.5-D images.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from pathlib import Path
    >>> from PIL import Image
    >>> from skmedtl.io import read_image
    >>> pixels = np.array([[0, 1000], [30000, 65535]], dtype=np.uint16)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     Image.fromarray(pixels).save(Path(tmp) / "xray16.png")
    ...     raw = read_image(Path(tmp) / "xray16.png")
    ...     scaled = read_image(Path(tmp) / "xray16.png", intensity="minmax")
    >>> raw.dtype, int(raw.max())
    (dtype('uint16'), 65535)
    >>> scaled.dtype, float(scaled[0, 1])
    (dtype('float32'), 0.015259)
    """
    path = check_file(path)
    chosen = _resolve_reader(reader, path)
    logger.debug("Reading %s with the %s reader", path, chosen.name)
    return chosen.read(path, intensity=intensity, frame=frame)


def image_size(path: str | os.PathLike) -> tuple[int, int] | None:
    """``(height, width)`` of a 2-D image file; ``None`` for a volume or a stack.

    Pillow formats are sized from their header, without decoding the pixels;
    other formats are read.

    Raises
    ------
    FileNotFoundError, ImageReadError
        As :func:`read_image`.
    """
    if get_reader(path).name == "pil":
        from PIL import Image

        with Image.open(check_file(path)) as image:
            width, height = image.size
        return int(height), int(width)
    shape = read_image(path).shape
    if len(shape) == 2 or (len(shape) == 3 and shape[-1] in (3, 4)):
        return int(shape[0]), int(shape[1])
    return None
