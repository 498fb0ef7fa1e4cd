"""DICOM files (pydicom): rescale, VOI / windows, MONOCHROME1, frames, palettes."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from ._errors import ImageReadError
from ._intensity import IntensityPolicy, _scale
from ._reader_base import (
    ImageReader,
    _native_byte_order,
    frame_index,
    import_optional,
)

__all__ = ["DicomReader"]

logger = logging.getLogger(__name__)

# Transfer syntax UID prefix -> packages with a pydicom plugin that decodes it.
_DECODER_HINTS = {
    "1.2.840.10008.1.2.4.5": "python-gdcm` or `pylibjpeg pylibjpeg-libjpeg",  # JPEG
    "1.2.840.10008.1.2.4.70": "python-gdcm` or `pylibjpeg pylibjpeg-libjpeg",
    "1.2.840.10008.1.2.4.57": "python-gdcm` or `pylibjpeg pylibjpeg-libjpeg",
    "1.2.840.10008.1.2.4.8": "pyjpegls` or `python-gdcm",  # JPEG-LS
    "1.2.840.10008.1.2.4.9": "pylibjpeg pylibjpeg-openjpeg",  # JPEG 2000
    "1.2.840.10008.1.2.4.20": "pylibjpeg pylibjpeg-openjpeg",  # HTJ2K
    "1.2.840.10008.1.2.5": "pylibjpeg pylibjpeg-rle",  # RLE (pydicom>=3 has it)
}


class DicomReader(ImageReader):
    """DICOM images with pydicom (``pip install "skmedtl[dicom]"``).

    The display pipeline of the DICOM standard, in its order:

    1. pixel data decoded (compressed transfer syntaxes need a pydicom plugin
       for them: RLE and, with Pillow's OpenJPEG, JPEG / JPEG 2000 work out of the
       box; JPEG-LS, 12-bit JPEG and HTJ2K need ``python-gdcm``, ``pyjpegls`` or
       ``pylibjpeg`` plugins, and the error says which);
    2. the modality LUT: *Rescale Slope* / *Intercept* (top level, or the shared
       / per-frame functional groups of enhanced multi-frame files) or a
       *Modality LUT Sequence*. CT comes back in Hounsfield units, ``float32``;
       images without a modality LUT keep their stored integer dtype;
    3. the intensity policy (``intensity=``): a CT window, ``"voi"`` (the file's
       *VOI LUT Sequence* or first *Window Center* / *Width*, LINEAR or SIGMOID),
       percentiles or min-max;
    4. MONOCHROME1 inverted so that high values are bright: ``1 - x`` after a
       policy, or ``lo + hi - x`` over the range the stored bits can hold (after
       the modality LUT) when ``intensity=None``.

    PALETTE COLOR images are expanded to RGB; RGB / YBR images come back as RGB
    ``(h, w, 3)``. Multi-frame files give ``(n_frames, h, w[, 3])`` unless
    ``frame`` picks one.
    """

    name = "dicom"
    suffixes = (".dcm", ".dicom", ".dic", ".ima")
    extra = "dicom"

    def read(self, path, *, intensity=None, frame: int | None = None) -> np.ndarray:
        policy = IntensityPolicy.from_spec(intensity)
        path = Path(path)
        pydicom = import_optional("pydicom", "dicom", "DICOM", path)
        ds = _dcmread(pydicom, path)
        if not any(
            k in ds for k in ("PixelData", "FloatPixelData", "DoubleFloatPixelData")
        ):
            what = _describe(ds)
            raise ImageReadError(
                path,
                f"the DICOM file has no pixel data (no Pixel Data element "
                f"(7FE0,0010)): it is {what}, not an image.",
            )
        arr = _native_byte_order(_decode(ds, path))
        n_frames = int(ds.get("NumberOfFrames", 1) or 1)
        if n_frames == 1 and frame is None:
            frames = None
        else:
            if n_frames == 1:
                arr = arr[None]
            frames = np.arange(n_frames)
            if frame is not None:
                index = frame_index(frame, n_frames, path)
                arr, frames = arr[index], frames[index : index + 1]
        photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).upper()
        if photometric == "PALETTE COLOR":
            arr = _apply_palette(ds, arr, path)
            return _plain_policy(policy, arr, path)
        if not photometric.startswith("MONOCHROME"):
            arr = _to_rgb(ds, arr, photometric)
            return _plain_policy(policy, arr, path)
        values, value_range = _modality(ds, arr, frames)
        invert = photometric == "MONOCHROME1"
        if policy.kind == "none":
            if invert:
                lo, hi = value_range
                if values.dtype.kind in "iu":
                    info = np.iinfo(values.dtype)
                    flipped = lo + hi - values.astype(np.int64)
                    values = np.clip(flipped, info.min, info.max).astype(values.dtype)
                else:
                    values = (lo + hi - values).astype(np.float32)
            return values
        out = _voi(ds, values, frames, path) if policy.kind == "voi" else policy(values)
        return (1.0 - out).astype(np.float32) if invert else out


def _dcmread(pydicom, path: Path):
    from pydicom.errors import InvalidDicomError

    try:
        return pydicom.dcmread(path)
    except InvalidDicomError as e:
        raise ImageReadError(
            path,
            f"not a DICOM file ({e}). Files without the 128-byte preamble "
            "and 'DICM' marker are not read.",
        ) from e
    except (OSError, EOFError, ValueError, KeyError, TypeError) as e:
        raise ImageReadError(path, f"not a readable DICOM file ({e}).") from e


def _describe(ds) -> str:
    sop = ds.get("SOPClassUID")
    name = getattr(sop, "name", None) or str(sop or "")
    modality = ds.get("Modality")
    parts = [
        p
        for p in (
            f"a {name!s}" if name else "",
            f"modality {modality}" if modality else "",
        )
        if p
    ]
    return ", ".join(parts) or "a DICOM object without image data"


def _decode(ds, path: Path) -> np.ndarray:
    meta = getattr(ds, "file_meta", None)
    tsyntax = meta.get("TransferSyntaxUID") if meta is not None else None
    try:
        return ds.pixel_array
    except MemoryError:
        raise
    except Exception as e:  # noqa: BLE001 - any decoder failure names the file
        message = " ".join(str(e).split())
        syntax = f"{getattr(tsyntax, 'name', tsyntax)} ({tsyntax})"
        hint = next(
            (v for k, v in _DECODER_HINTS.items() if str(tsyntax or "").startswith(k)),
            None,
        )
        install = (
            f" Install a plugin for it, e.g. `pip install {hint}`." if hint else ""
        )
        lowered = message.lower()
        if "missing" in lowered and ("dependenc" in lowered or "plugin" in lowered):
            raise ImportError(
                f"Cannot read {path}: its pixel data uses the transfer syntax "
                f"{syntax}, and no installed pydicom plugin can decode it. pydicom "
                f"says: {message}.{install}"
            ) from e
        raise ImageReadError(
            path,
            f"cannot decode the pixel data (transfer syntax {syntax}): "
            f"{message}.{install}",
        ) from e


def _stored_range(ds) -> tuple[int, int]:
    bits = int(ds.get("BitsStored", ds.get("BitsAllocated", 16)))
    if int(ds.get("PixelRepresentation", 0)) == 1:
        return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    return 0, 2**bits - 1


def _rescale_items(ds, n: int):
    """``(slope, intercept)`` for each frame, or ``None`` without a rescale."""
    if "RescaleSlope" in ds or "RescaleIntercept" in ds:
        pair = (
            float(ds.get("RescaleSlope", 1) or 1),
            float(ds.get("RescaleIntercept", 0) or 0),
        )
        return [pair] * n
    groups = []
    shared = ds.get("SharedFunctionalGroupsSequence")
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    for i in range(n):
        item = None
        for seq in (
            per_frame[i] if per_frame and i < len(per_frame) else None,
            shared[0] if shared else None,
        ):
            if seq is not None and "PixelValueTransformationSequence" in seq:
                item = seq.PixelValueTransformationSequence[0]
                break
        if item is None:
            groups.append(None)
        else:
            groups.append(
                (
                    float(item.get("RescaleSlope", 1) or 1),
                    float(item.get("RescaleIntercept", 0) or 0),
                )
            )
    if all(g is None for g in groups):
        return None
    return [g or (1.0, 0.0) for g in groups]


def _modality(ds, arr: np.ndarray, frames) -> tuple[np.ndarray, tuple[float, float]]:
    """Modality LUT applied, and the range the stored bits map to."""
    lo, hi = _stored_range(ds)
    if ds.get("ModalityLUTSequence"):
        apply_modality_lut = _pixel_function("apply_modality_lut")
        ends = apply_modality_lut(np.array([lo, hi], dtype=np.int64), ds)
        out = apply_modality_lut(arr, ds)
        return out, (float(ends.min()), float(ends.max()))
    items = _rescale_items(ds, int(ds.get("NumberOfFrames", 1) or 1))
    if items is None:
        return arr, (lo, hi)
    chosen = [items[0]] if frames is None else [items[int(i)] for i in frames]
    slopes = np.array([s for s, _ in chosen], dtype=np.float64)
    intercepts = np.array([b for _, b in chosen], dtype=np.float64)
    if arr.ndim == 3:  # (n_frames, h, w): one slope per frame
        slope, intercept = slopes.reshape(-1, 1, 1), intercepts.reshape(-1, 1, 1)
    else:
        slope, intercept = slopes[0], intercepts[0]
    out = (arr.astype(np.float64) * slope + intercept).astype(np.float32)
    ends = np.array([lo * slopes + intercepts, hi * slopes + intercepts])
    return out, (float(ends.min()), float(ends.max()))


def _voi_source(ds, frames):
    """The dataset item holding the VOI LUT / window that applies."""
    if "VOILUTSequence" in ds or "WindowCenter" in ds:
        return ds
    for seq_name, index in (
        ("PerFrameFunctionalGroupsSequence", 0 if frames is None else int(frames[0])),
        ("SharedFunctionalGroupsSequence", 0),
    ):
        seq = ds.get(seq_name)
        if seq and index < len(seq) and "FrameVOILUTSequence" in seq[index]:
            return seq[index].FrameVOILUTSequence[0]
    return None


def _voi(ds, values: np.ndarray, frames, path: Path) -> np.ndarray:
    source = _voi_source(ds, frames)
    if source is not None and "VOILUTSequence" in source and source is ds:
        return _apply_lut(ds, ds.VOILUTSequence[0], values)
    if source is not None and "WindowCenter" in source and "WindowWidth" in source:
        center = float(_first(source.WindowCenter))
        width = float(_first(source.WindowWidth))
        function = str(source.get("VOILUTFunction", "LINEAR")).upper()
        if width <= 0:
            raise ImageReadError(path, f"its Window Width is {width}; it must be > 0.")
        x = values.astype(np.float64)
        if function == "SIGMOID":
            return (1.0 / (1.0 + np.exp(-4.0 * (x - center) / width))).astype(
                np.float32
            )
        return _scale(x, center - width / 2, center + width / 2)
    raise ImageReadError(
        path,
        "intensity='voi' needs a VOI LUT Sequence or Window Center / Width "
        "in the file, and it has neither. Choose a window such as 'soft_tissue' "
        "or (40, 400), 'percentile' or 'minmax'.",
    )


def _apply_lut(ds, item, values: np.ndarray) -> np.ndarray:
    """A VOI LUT item applied to ``values``, scaled by its output depth to [0, 1].

    (Not pydicom's ``apply_voi``: it indexes 8-bit LUTs with 8-bit indices, which
    wraps for LUTs of more than 256 entries.)
    """
    n_entries, first, bits = (int(v) for v in item.LUTDescriptor)
    n_entries = n_entries or 2**16
    if int(ds.get("PixelRepresentation", 0)) == 1 and first >= 2**15:
        first -= 2**16  # first mapped value is signed for signed pixel data
    element = item["LUTData"]
    if element.VR == "OW" or isinstance(element.value, bytes):
        meta = getattr(ds, "file_meta", None)
        big = (
            meta is not None and meta.get("TransferSyntaxUID") == "1.2.840.10008.1.2.2"
        )
        data = np.frombuffer(element.value, dtype=">u2" if big else "<u2")
    else:
        data = np.asarray(element.value, dtype=np.int64).ravel()
    data = data[:n_entries].astype(np.float64)
    index = np.clip(np.rint(values.astype(np.float64)) - first, 0, len(data) - 1)
    out = data[index.astype(np.int64)] / (2**bits - 1)
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def _first(value):
    try:
        return value[0]
    except (TypeError, IndexError, KeyError):
        return value


def _plain_policy(policy: IntensityPolicy, arr: np.ndarray, path: Path) -> np.ndarray:
    if policy.kind == "voi":
        raise ImageReadError(
            path,
            "intensity='voi' applies to greyscale (MONOCHROME) images; this "
            "one is colour. Use 'minmax' or None.",
        )
    return policy(arr)


def _apply_palette(ds, arr: np.ndarray, path: Path) -> np.ndarray:
    apply_color_lut = _pixel_function("apply_color_lut")
    try:
        return apply_color_lut(arr, ds)
    except (ValueError, AttributeError, KeyError) as e:
        raise ImageReadError(path, f"cannot apply its colour palette ({e}).") from e


def _to_rgb(ds, arr: np.ndarray, photometric: str) -> np.ndarray:
    import pydicom

    if photometric.startswith("YBR") and int(pydicom.__version__.split(".")[0]) < 3:
        # pydicom 3 converts YCbCr to RGB itself (as_rgb=True).
        convert = _pixel_function("convert_color_space")
        return convert(arr, photometric, "RGB")
    return arr


def _pixel_function(name: str):
    try:
        from pydicom import pixels  # pydicom >= 3

        return getattr(pixels, name)
    except (ImportError, AttributeError):
        from pydicom.pixel_data_handlers import util  # pydicom 2.x

        return getattr(util, name)
