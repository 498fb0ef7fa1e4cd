"""Test data: paths to the bundled real files, and writers of synthetic bad files."""

from __future__ import annotations

from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[1] / "data"
DICOM = DATA / "dicom"
NIFTI = DATA / "nifti"
BLOOD_CELLS = DATA / "blood_cells"
MEDMNIST_3D = DATA / "medmnist" / "adrenalmnist3d_subset.npz"
BLOOD_CELL_CLASSES = [
    "basophil",
    "eosinophil",
    "erythroblast",
    "ig",
    "lymphocyte",
    "monocyte",
    "neutrophil",
    "platelet",
]


def a_blood_cell() -> Path:
    return sorted((BLOOD_CELLS / "basophil").glob("*.jpg"))[0]


def write_truncated_jpeg(path: Path) -> Path:
    """The first 40% of a real JPEG: a valid header, then nothing."""
    data = a_blood_cell().read_bytes()
    path.write_bytes(data[: int(len(data) * 0.4)])
    return path


def make_dicom(
    path: Path,
    pixels: np.ndarray | None,
    *,
    photometric: str = "MONOCHROME2",
    bits_stored: int | None = None,
    slope: float | None = None,
    intercept: float | None = None,
    window: tuple[float, float] | None = None,
    transfer_syntax=None,
    extra: dict | None = None,
) -> Path:
    """Write a minimal DICOM file; ``pixels=None`` writes one without pixel data.

    ``pixels`` of shape ``(n, h, w)`` writes a multi-frame file.
    """
    import pydicom
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import (
        ExplicitVRLittleEndian,
        SecondaryCaptureImageStorage,
        generate_uid,
    )

    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = transfer_syntax or ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.SOPClassUID = SecondaryCaptureImageStorage
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.Modality = "OT"
    ds.PatientID = "TEST"
    if pixels is not None:
        pixels = np.asarray(pixels)
        if pixels.ndim == 3:
            ds.NumberOfFrames = pixels.shape[0]
        ds.Rows, ds.Columns = pixels.shape[-2:]
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = photometric
        ds.BitsAllocated = 8 * pixels.dtype.itemsize
        ds.BitsStored = bits_stored or ds.BitsAllocated
        ds.HighBit = ds.BitsStored - 1
        ds.PixelRepresentation = int(pixels.dtype.kind == "i")
        if transfer_syntax is None:
            ds.PixelData = pixels.astype(pixels.dtype.newbyteorder("<")).tobytes()
        else:
            from pydicom.encaps import encapsulate

            ds.PixelData = encapsulate([b"\xff\xd8\xff\xdbnot-really-jpeg\xff\xd9"])
            ds["PixelData"].VR = "OB"
    if slope is not None:
        ds.RescaleSlope = slope
    if intercept is not None:
        ds.RescaleIntercept = intercept
    if window is not None:
        ds.WindowCenter, ds.WindowWidth = window
    for key, value in (extra or {}).items():
        setattr(ds, key, value)
    pydicom.dcmwrite(path, ds, enforce_file_format=True) if _pydicom3() else (
        ds.save_as(path, write_like_original=False)
    )
    return path


def _pydicom3() -> bool:
    import pydicom

    return int(pydicom.__version__.split(".")[0]) >= 3
