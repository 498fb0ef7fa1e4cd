"""Reading image files into numpy arrays, keeping their full bit depth."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

__all__ = ["read_image"]

_NUMPY_SUFFIXES = {".npy"}


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read one image file into a numpy array of its native dtype.

    8-bit images come back as ``uint8``, 16-bit PNG / TIFF as ``uint16`` (never
    cut to 8 bits), ``.npy`` files as stored. Greyscale images are ``(h, w)``,
    colour images ``(h, w, 3)``; palette and alpha images are converted to RGB.

    Parameters
    ----------
    path : str or path-like
        The image file.

    Returns
    -------
    numpy.ndarray

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    ValueError
        The file is not a readable image (the message names the file).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Image file not found: {path}")
    if path.suffix.lower() in _NUMPY_SUFFIXES:
        try:
            return np.load(path, allow_pickle=False)
        except Exception as e:
            raise ValueError(f"Cannot read image file {path}: {e}") from e
    return _read_pil(path)


def _read_pil(path: Path) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            img.load()  # decode now, so truncated files fail here
            return _pil_to_array(img)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise ValueError(
            f"Cannot read image file {path}: {e}. Is it a complete image in a "
            "format Pillow supports?"
        ) from e


def _pil_to_array(img) -> np.ndarray:
    mode = img.mode
    if mode in ("L", "RGB"):
        return np.asarray(img)
    if mode == "1":
        return np.asarray(img, dtype=np.uint8) * np.uint8(255)
    if mode.startswith("I;16"):
        return np.asarray(img).astype(np.uint16, copy=False)
    if mode in ("I", "F"):
        return np.asarray(img)
    if mode == "LA":
        return np.asarray(img.convert("L"))
    # P, RGBA, CMYK, YCbCr, ...: colour content
    return np.asarray(img.convert("RGB"))
