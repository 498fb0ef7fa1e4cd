"""DICOM: modality LUT, windows / VOI, MONOCHROME1, frames, codecs, bad files."""

from __future__ import annotations

import numpy as np
import pytest

from skmedtl.io import ImageReadError, apply_window, read_image

from ._helpers import DICOM, make_dicom

pydicom = pytest.importorskip("pydicom")


def _modality_lut():
    try:
        from pydicom.pixels import apply_modality_lut
    except ImportError:  # pydicom 2.x
        from pydicom.pixel_data_handlers.util import apply_modality_lut
    return apply_modality_lut


# -- rescale / modality LUT ------------------------------------------------------------
def test_ct_small_is_rescaled_like_pydicoms_apply_modality_lut():
    ds = pydicom.dcmread(DICOM / "CT_small.dcm")
    expected = _modality_lut()(ds.pixel_array, ds)
    out = read_image(DICOM / "CT_small.dcm")
    assert out.dtype == np.float32 and out.shape == expected.shape
    np.testing.assert_array_equal(out, expected)
    # Hounsfield units, not stored values: the intercept (-1024) was applied
    assert float(ds.RescaleIntercept) != 0
    np.testing.assert_array_equal(
        out, ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    )


def test_rescale_slope_and_intercept_of_a_written_file(tmp_path):
    raw = np.arange(0, 4000, 250, dtype=np.uint16).reshape(4, 4)
    path = make_dicom(
        tmp_path / "r.dcm", raw, bits_stored=12, slope=2.5, intercept=-100
    )
    np.testing.assert_allclose(read_image(path), raw * 2.5 - 100)


def test_modality_lut_sequence(tmp_path):
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    raw = np.array([[0, 10], [1000, 4095]], dtype=np.uint16)
    lut = Dataset()
    lut.add_new("LUTDescriptor", "US", [4096, 0, 16])
    lut.add_new("LUTData", "US", [int(v) for v in np.arange(4096) * 3])
    lut.ModalityLUTType = "US"
    extra = {"ModalityLUTSequence": Sequence([lut])}
    path = make_dicom(tmp_path / "lut.dcm", raw, bits_stored=12, extra=extra)
    np.testing.assert_array_equal(read_image(path), raw * 3)
    inverted = make_dicom(
        tmp_path / "lut1.dcm",
        raw,
        bits_stored=12,
        extra=extra,
        photometric="MONOCHROME1",
    )
    np.testing.assert_array_equal(read_image(inverted), 4095 * 3 - raw * 3)


def test_image_without_rescale_keeps_its_integer_dtype():
    ds = pydicom.dcmread(DICOM / "MR_small.dcm")
    out = read_image(DICOM / "MR_small.dcm")
    assert out.dtype == ds.pixel_array.dtype.newbyteorder("=")
    np.testing.assert_array_equal(out, ds.pixel_array)


def test_enhanced_multiframe_rescale_from_functional_groups(tmp_path):
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    frames = np.arange(3 * 4 * 4, dtype=np.uint16).reshape(3, 4, 4)
    transform = Dataset()
    transform.RescaleSlope, transform.RescaleIntercept = 2, -10
    shared = Dataset()
    shared.PixelValueTransformationSequence = Sequence([transform])
    path = make_dicom(
        tmp_path / "enh.dcm",
        frames,
        extra={"SharedFunctionalGroupsSequence": Sequence([shared])},
    )
    np.testing.assert_allclose(read_image(path), frames * 2.0 - 10)
    np.testing.assert_allclose(read_image(path, frame=1), frames[1] * 2.0 - 10)


# -- windows ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("spec", "window"),
    [("lung", (-600, 1500)), ("soft_tissue", (50, 400)), ((40, 80), (40, 80))],
)
def test_ct_windows_apply_to_hounsfield_units(spec, window):
    hu = read_image(DICOM / "CT_small.dcm")
    out = read_image(DICOM / "CT_small.dcm", intensity=spec)
    center, width = window
    expected = np.clip((hu.astype(np.float64) - (center - width / 2)) / width, 0, 1)
    assert out.dtype == np.float32 and 0 <= out.min() and out.max() <= 1
    np.testing.assert_allclose(out, expected, atol=1e-6)


def test_different_windows_give_different_arrays():
    lung = read_image(DICOM / "CT_small.dcm", intensity="lung")
    bone = read_image(DICOM / "CT_small.dcm", intensity="bone")
    assert not np.allclose(lung, bone)


def test_voi_uses_the_window_stored_in_the_file():
    ds = pydicom.dcmread(DICOM / "MR_small.dcm")
    center, width = float(ds.WindowCenter), float(ds.WindowWidth)
    out = read_image(DICOM / "MR_small.dcm", intensity="voi")
    np.testing.assert_allclose(
        out, apply_window(ds.pixel_array, center, width), atol=1e-6
    )
    assert out.max() == 1.0 and out.min() > 0  # the window cuts the top only


def test_voi_lut_sequence(tmp_path):
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    raw = np.arange(0, 4096, 256, dtype=np.uint16).reshape(4, 4)
    lut = Dataset()
    lut.add_new("LUTDescriptor", "US", [4096, 0, 8])
    lut.add_new("LUTData", "US", [int(v) for v in (np.arange(4096) // 16)])
    path = make_dicom(
        tmp_path / "voi.dcm",
        raw,
        bits_stored=12,
        extra={"VOILUTSequence": Sequence([lut])},
    )
    out = read_image(path, intensity="voi")
    np.testing.assert_allclose(out, (raw // 16) / 255, atol=1e-6)


def test_voi_without_a_window_says_so(tmp_path):
    path = make_dicom(tmp_path / "nowin.dcm", np.zeros((4, 4), dtype=np.uint16))
    with pytest.raises(ImageReadError, match=r"nowin\.dcm.*Window Center"):
        read_image(path, intensity="voi")


# -- MONOCHROME1 -----------------------------------------------------------------------
def test_monochrome1_comes_back_inverted(tmp_path):
    raw = np.array([[0, 100], [2000, 4095]], dtype=np.uint16)
    mono1 = make_dicom(
        tmp_path / "m1.dcm", raw, photometric="MONOCHROME1", bits_stored=12
    )
    mono2 = make_dicom(
        tmp_path / "m2.dcm", raw, photometric="MONOCHROME2", bits_stored=12
    )
    np.testing.assert_array_equal(read_image(mono2), raw)
    inverted = read_image(mono1)
    assert inverted.dtype == np.uint16
    np.testing.assert_array_equal(inverted, 4095 - raw)  # over the 12 stored bits
    # with a policy: scaled first, then inverted (the DICOM display order)
    np.testing.assert_allclose(
        read_image(mono1, intensity="minmax"), 1 - raw / 4095, atol=1e-6
    )
    np.testing.assert_allclose(
        read_image(mono1, intensity=(1000, 2000)),
        1 - np.clip(raw / 2000, 0, 1),
        atol=1e-6,
    )


def test_monochrome1_with_rescale_inverts_over_the_rescaled_range(tmp_path):
    raw = np.array([[0, 10], [200, 255]], dtype=np.uint8)
    path = make_dicom(
        tmp_path / "m1r.dcm", raw, photometric="MONOCHROME1", slope=2, intercept=-100
    )
    # stored range 0..255 -> -100..410; inversion: -100 + 410 - value
    np.testing.assert_allclose(read_image(path), 310 - (raw * 2.0 - 100))


# -- frames, colour, codecs ------------------------------------------------------------
def test_multiframe_gives_frames_first(tmp_path):
    frames = np.random.default_rng(0).integers(0, 4096, (3, 6, 5), dtype=np.uint16)
    path = make_dicom(tmp_path / "mf.dcm", frames, bits_stored=12)
    np.testing.assert_array_equal(read_image(path), frames)
    np.testing.assert_array_equal(read_image(path, frame=2), frames[2])
    with pytest.raises(ImageReadError, match=r"mf\.dcm.*frame=3 is out of range"):
        read_image(path, frame=3)


@pytest.mark.parametrize("name", ["MR_small_RLE.dcm", "MR_small_bigendian.dcm"])
def test_other_encodings_equal_the_uncompressed_file(name):
    out = read_image(DICOM / name)
    assert out.dtype.isnative  # torch cannot take big-endian arrays
    np.testing.assert_array_equal(out, read_image(DICOM / "MR_small.dcm"))


def test_jpeg2000_decodes_when_a_plugin_is_available():
    ds = pydicom.dcmread(DICOM / "JPEG2000.dcm")
    try:
        expected = ds.pixel_array
    except Exception:  # no JPEG 2000 plugin here: the error must say so
        with pytest.raises(ImportError, match=r"JPEG2000\.dcm.*JPEG 2000"):
            read_image(DICOM / "JPEG2000.dcm")
        return
    np.testing.assert_array_equal(
        read_image(DICOM / "JPEG2000.dcm"), _modality_lut()(expected, ds)
    )


def test_undecodable_transfer_syntax_names_file_and_plugin(tmp_path):
    from pydicom.uid import JPEGLSLossless

    path = make_dicom(
        tmp_path / "jls.dcm",
        np.zeros((4, 4), dtype=np.uint16),
        transfer_syntax=JPEGLSLossless,
    )
    with pytest.raises((ImportError, ImageReadError)) as info:
        read_image(path)
    message = str(info.value)
    assert "jls.dcm" in message and "JPEG-LS" in message
    if isinstance(info.value, ImportError):  # no JPEG-LS plugin installed
        assert "pip install" in message


def test_palette_colour_is_expanded_to_rgb():
    ds = pydicom.dcmread(DICOM / "examples_palette.dcm")
    out = read_image(DICOM / "examples_palette.dcm")
    assert out.shape == (ds.Rows, ds.Columns, 3)
    index = ds.pixel_array
    red = np.frombuffer(ds.RedPaletteColorLookupTableData, dtype="<u2")
    first = int(ds.RedPaletteColorLookupTableDescriptor[1])
    np.testing.assert_array_equal(out[..., 0], red[np.clip(index - first, 0, None)])


def test_rgb_dicom():
    ds = pydicom.dcmread(DICOM / "examples_rgb_color.dcm")
    out = read_image(DICOM / "examples_rgb_color.dcm")
    np.testing.assert_array_equal(out, ds.pixel_array)
    assert out.shape[-1] == 3
    with pytest.raises(ImageReadError, match="colour"):
        read_image(DICOM / "examples_rgb_color.dcm", intensity="voi")


# -- bad files -------------------------------------------------------------------------
def test_dicom_without_pixel_data(tmp_path):
    path = make_dicom(tmp_path / "report.dcm", None)
    with pytest.raises(ImageReadError, match=r"report\.dcm.*no pixel data"):
        read_image(path)


def test_not_a_dicom_file_with_a_dcm_suffix(tmp_path):
    (tmp_path / "fake.dcm").write_text("hello")
    with pytest.raises(ImageReadError, match=r"fake\.dcm.*not a DICOM file"):
        read_image(tmp_path / "fake.dcm")
