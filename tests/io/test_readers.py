"""read_image on PNG / JPEG / TIFF / .npy, dispatch, and bad files."""

from __future__ import annotations

import os
import sys
import warnings

import numpy as np
import pytest
from PIL import Image

from skmedtl.io import (
    ImageReader,
    ImageReadError,
    get_reader,
    read_image,
)

from ._helpers import DICOM, NIFTI, a_blood_cell, write_truncated_jpeg


# -- bit depth -------------------------------------------------------------------------
def test_16bit_png_keeps_its_full_range(tmp_path):
    pixels = np.linspace(0, 65535, 64 * 48).reshape(64, 48).astype(np.uint16)
    pixels[0, 0], pixels[-1, -1] = 0, 65535
    Image.fromarray(pixels).save(tmp_path / "xray.png")
    out = read_image(tmp_path / "xray.png")
    assert out.dtype == np.uint16
    np.testing.assert_array_equal(out, pixels)
    assert len(np.unique(out)) > 256  # more levels than 8 bits could hold


def test_16bit_tiff_keeps_its_full_range(tmp_path):
    pixels = (np.arange(40 * 30, dtype=np.uint32) * 53 % 65536).astype(np.uint16)
    pixels = pixels.reshape(40, 30)
    Image.fromarray(pixels).save(tmp_path / "scan.tif")
    out = read_image(tmp_path / "scan.tif")
    assert out.dtype == np.uint16
    np.testing.assert_array_equal(out, pixels)


def test_16bit_colour_tiff_with_tifffile(tmp_path):
    tifffile = pytest.importorskip("tifffile")
    rgb = np.random.default_rng(0).integers(0, 65536, (20, 24, 3), dtype=np.uint16)
    tifffile.imwrite(tmp_path / "rgb16.tif", rgb, photometric="rgb")
    out = read_image(tmp_path / "rgb16.tif")
    assert out.dtype == np.uint16 and out.shape == (20, 24, 3)
    np.testing.assert_array_equal(out, rgb)
    # planar (channels-first) storage also comes back channels-last
    tifffile.imwrite(
        tmp_path / "planar.tif",
        np.moveaxis(rgb, -1, 0),
        photometric="rgb",
        planarconfig="separate",
    )
    np.testing.assert_array_equal(read_image(tmp_path / "planar.tif"), rgb)


def test_multipage_tiff_stacks_pages_and_frame_picks_one(tmp_path):
    pages = np.random.default_rng(1).integers(0, 4096, (3, 16, 16), dtype=np.uint16)
    first, *rest = (Image.fromarray(p) for p in pages)
    first.save(tmp_path / "stack.tif", save_all=True, append_images=rest)
    np.testing.assert_array_equal(read_image(tmp_path / "stack.tif"), pages)
    np.testing.assert_array_equal(read_image(tmp_path / "stack.tif", frame=2), pages[2])
    np.testing.assert_array_equal(
        read_image(tmp_path / "stack.tif", frame=-1), pages[2]
    )
    with pytest.raises(ImageReadError, match=r"stack\.tif.*frame=3 is out of range"):
        read_image(tmp_path / "stack.tif", frame=3)


def test_16bit_colour_png_warns_that_pillow_cuts_it(tmp_path):
    import struct
    import zlib

    rgb = np.random.default_rng(0).integers(0, 65536, (8, 8, 3), dtype=np.uint16)
    raw = b"".join(b"\x00" + row.astype(">u2").tobytes() for row in rgb)

    def chunk(kind, data):
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    png = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 8, 8, 16, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )
    (tmp_path / "rgb16.png").write_bytes(png)
    with pytest.warns(UserWarning, match=r"rgb16\.png is a 16-bit colour PNG"):
        out = read_image(tmp_path / "rgb16.png")
    assert out.shape == (8, 8, 3)
    np.testing.assert_array_equal(out, (rgb >> 8).astype(np.uint8))


def test_8bit_images_stay_uint8_and_rgba_drops_alpha(tmp_path):
    rng = np.random.default_rng(0)
    gray = rng.integers(0, 256, (10, 12), dtype=np.uint8)
    rgba = rng.integers(0, 256, (10, 12, 4), dtype=np.uint8)
    Image.fromarray(gray).save(tmp_path / "g.png")
    Image.fromarray(rgba).save(tmp_path / "c.png")
    np.testing.assert_array_equal(read_image(tmp_path / "g.png"), gray)
    out = read_image(tmp_path / "c.png")
    np.testing.assert_array_equal(out, rgba[..., :3])


def test_real_jpeg_is_rgb_uint8():
    path = a_blood_cell()
    out = read_image(path)
    with Image.open(path) as img:
        expected = np.asarray(img.convert("RGB"))
    assert out.dtype == np.uint8 and out.ndim == 3 and out.shape[-1] == 3
    np.testing.assert_array_equal(out, expected)


def test_npy_as_stored_and_in_native_byte_order(tmp_path):
    volume = np.arange(2 * 5 * 6, dtype=">i2").reshape(2, 5, 6)
    np.save(tmp_path / "v.npy", volume)
    out = read_image(tmp_path / "v.npy")
    assert out.dtype == np.int16 and out.dtype.isnative
    np.testing.assert_array_equal(out, volume)
    np.testing.assert_array_equal(read_image(tmp_path / "v.npy", frame=1), volume[1])


def test_intensity_applies_after_reading(tmp_path):
    pixels = np.array([[100, 300], [500, 900]], dtype=np.uint16)
    Image.fromarray(pixels).save(tmp_path / "p.png")
    out = read_image(tmp_path / "p.png", intensity="minmax")
    values = pixels.astype(np.float64)
    np.testing.assert_allclose(out, (values - 100) / 800)
    assert out.dtype == np.float32
    win = read_image(tmp_path / "p.png", intensity=(500, 400))
    np.testing.assert_allclose(win, np.clip((values - 300) / 400, 0, 1))
    with pytest.raises(ValueError, match=r"p\.png.*'voi'|'voi'.*p\.png"):
        read_image(tmp_path / "p.png", intensity="voi")


# -- dispatch --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "reader"),
    [
        ("a.PNG", "pil"),
        ("a.jpeg", "pil"),
        ("a.tiff", "tiff"),
        ("a.npy", "numpy"),
        ("a.dcm", "dicom"),
        ("a.nii", "nifti"),
        ("a.nii.gz", "nifti"),
    ],
)
def test_reader_chosen_by_suffix(name, reader):
    chosen = get_reader(name)
    assert isinstance(chosen, ImageReader) and chosen.name == reader


def test_dicom_without_suffix_is_found_by_its_marker(tmp_path):
    pytest.importorskip("pydicom")
    target = tmp_path / "IM0001"
    target.write_bytes((DICOM / "MR_small.dcm").read_bytes())
    assert get_reader(target).name == "dicom"
    np.testing.assert_array_equal(
        read_image(target), read_image(DICOM / "MR_small.dcm")
    )


def test_unknown_reader_name_suggests_the_closest():
    with pytest.raises(ValueError, match="Did you mean 'dicom'"):
        read_image(DICOM / "MR_small.dcm", reader="dicm")


# -- bad files -------------------------------------------------------------------------
def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"Image file not found: .*nope\.png"):
        read_image(tmp_path / "nope.png")


def test_truncated_jpeg_names_the_file(tmp_path):
    path = write_truncated_jpeg(tmp_path / "cut.jpg")
    with pytest.raises(ImageReadError, match=r"cut\.jpg.*truncated") as info:
        read_image(path)
    assert info.value.path == os.fspath(path)


@pytest.mark.parametrize("name", ["notes.txt", "fake.png", "noext"])
def test_non_image_file(tmp_path, name):
    path = tmp_path / name
    path.write_text("patient list, not pixels\n")
    with pytest.raises(ImageReadError, match=rf"{name}.*not a readable image"):
        read_image(path)


def test_empty_file_and_directory(tmp_path):
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(ImageReadError, match=r"empty\.png: the file is empty"):
        read_image(tmp_path / "empty.png")
    with pytest.raises(ImageReadError, match="is a directory"):
        read_image(tmp_path)


@pytest.mark.parametrize(
    ("module", "path", "extra"),
    [
        ("pydicom", DICOM / "CT_small.dcm", "dicom"),
        ("nibabel", NIFTI / "anatomical.nii", "nifti"),
    ],
)
def test_missing_optional_dependency_names_the_extra(monkeypatch, module, path, extra):
    monkeypatch.setitem(sys.modules, module, None)  # makes `import module` fail
    with pytest.raises(ImportError) as info:
        read_image(path)
    message = str(info.value)
    assert path.name in message and f'pip install "skmedtl[{extra}]"' in message


def test_no_warning_for_ordinary_files(tmp_path):
    Image.fromarray(np.zeros((4, 4), dtype=np.uint8)).save(tmp_path / "z.png")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read_image(tmp_path / "z.png")


def test_image_size_from_the_header_or_the_pixels(tmp_path, monkeypatch):
    from skmedtl.io import _readers
    from skmedtl.io._readers import image_size

    png = tmp_path / "a.png"
    Image.fromarray(np.zeros((30, 47), np.uint8)).save(png)
    rgb = tmp_path / "b.jpg"
    Image.fromarray(np.zeros((12, 9, 3), np.uint8)).save(rgb)
    # Pillow formats are not decoded: read_image must not be called for them
    monkeypatch.setattr(_readers, "read_image", None)
    assert image_size(png) == (30, 47) and image_size(rgb) == (12, 9)
    monkeypatch.undo()
    pytest.importorskip("pydicom")
    assert image_size(DICOM / "MR_small.dcm") == (64, 64)
    pytest.importorskip("nibabel")
    assert image_size(NIFTI / "anatomical.nii") is None  # a volume: no 2-D size
    with pytest.raises(FileNotFoundError):
        image_size(tmp_path / "missing.png")
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(ImageReadError, match="empty"):
        image_size(tmp_path / "empty.png")
