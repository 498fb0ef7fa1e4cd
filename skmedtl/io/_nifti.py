"""NIfTI volumes (nibabel), reoriented to the closest canonical orientation."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ._errors import ImageReadError
from ._reader_base import ImageReader, frame_index, import_optional

__all__ = ["NiftiReader"]


class NiftiReader(ImageReader):
    """NIfTI-1 / NIfTI-2 volumes with nibabel (``pip install "skmedtl[nifti]"``).

    The volume is reoriented to the closest canonical (RAS+) orientation with
    :func:`nibabel.as_closest_canonical`, whatever the orientation stored in the
    file: array axes are (x: left→right, y: posterior→anterior,
    z: inferior→superior), so axial slices lie along the last spatial axis. The
    header's ``scl_slope`` / ``scl_inter`` are applied (scaled data come back as
    ``float32``); unscaled integer data keep their dtype. A 4-D series gives
    ``(x, y, z, t)`` unless ``frame`` picks one volume along ``t``.
    """

    name = "nifti"
    suffixes = (".nii", ".nii.gz")
    extra = "nifti"

    def _read(self, path: Path, frame: int | None) -> np.ndarray:
        nib = import_optional("nibabel", "nifti", "NIfTI", path)
        try:
            img = nib.load(path)
            img = nib.as_closest_canonical(img)
            data = np.asanyarray(img.dataobj)
        except MemoryError:
            raise
        except Exception as e:  # noqa: BLE001 - truncated gzip, bad header, ...
            raise ImageReadError(path, f"not a readable NIfTI file ({e}).") from e
        if data.dtype.kind == "f" and data.dtype.itemsize > 4:
            data = data.astype(np.float32)
        if frame is None:
            return data
        if data.ndim < 4:
            frame_index(frame, 1, path)
            return data
        return data[..., frame_index(frame, data.shape[3], path)]
