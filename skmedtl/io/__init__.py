"""Reading medical images into arrays: files, intensity policies, volumes.

- :func:`read_image` reads PNG / JPEG / TIFF (8- and 16-bit), ``.npy``, DICOM and
  NIfTI, with one reader class per format (:class:`PILReader`,
  :class:`TiffReader`, :class:`NumpyReader`, :class:`DicomReader`,
  :class:`NiftiReader`).
- Intensity policies (:class:`IntensityPolicy`, :data:`CT_WINDOWS`,
  :func:`apply_window`, :func:`scale_intensity`) map raw values to ``[0, 1]``.
- :class:`ImageLoader` reads paths inside a Pipeline; :func:`check_images`
  validates a list of files up front.
- :class:`ImageSequence` turns what users pass as ``X`` (arrays, lists, paths)
  into one lazily read, channels-last sequence.
- :func:`volume_to_slices` and :func:`pool_slices` turn volumes into 2-D / 2.5-D
  slices and slice embeddings back into one vector per volume (the estimator,
  :class:`~skmedtl.features.VolumeFeatures`, is in :mod:`skmedtl.features`).
"""

from ._checks import check_images
from ._dicom import DicomReader
from ._errors import ImageReadError, SkippedFile, SkippedImagesWarning
from ._intensity import CT_WINDOWS, IntensityPolicy, apply_window, scale_intensity
from ._loader import ImageLoader
from ._nifti import NiftiReader
from ._readers import (
    ImageReader,
    NumpyReader,
    PILReader,
    TiffReader,
    get_reader,
    read_image,
)
from ._sequence import ImageSequence
from ._volumes import pool_slices, volume_to_slices

__all__ = [
    "CT_WINDOWS",
    "DicomReader",
    "ImageLoader",
    "ImageReadError",
    "ImageReader",
    "ImageSequence",
    "IntensityPolicy",
    "NiftiReader",
    "NumpyReader",
    "PILReader",
    "SkippedFile",
    "SkippedImagesWarning",
    "TiffReader",
    "apply_window",
    "check_images",
    "get_reader",
    "pool_slices",
    "read_image",
    "scale_intensity",
    "volume_to_slices",
]
