"""NIfTI: canonical orientation, scaling, 4-D series, 2.5-D slices."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from skmedtl.io import ImageReadError, read_image, volume_to_slices

from ._helpers import NIFTI

nib = pytest.importorskip("nibabel")


def test_anatomical_is_read_in_canonical_orientation():
    img = nib.load(NIFTI / "anatomical.nii")
    assert nib.aff2axcodes(img.affine) != ("R", "A", "S")  # stored as LAS
    canonical = nib.as_closest_canonical(img)
    out = read_image(NIFTI / "anatomical.nii")
    assert out.shape == (33, 41, 25)
    assert out.dtype == np.int16 and out.dtype.isnative
    np.testing.assert_array_equal(out, np.asanyarray(canonical.dataobj))
    # LAS -> RAS flips the first axis of the stored data
    np.testing.assert_array_equal(out, np.asanyarray(img.dataobj)[::-1])


@pytest.mark.parametrize("layout", ["flipped", "transposed"])
def test_any_orientation_gives_the_same_array(tmp_path, layout):
    rng = np.random.default_rng(0)
    data = rng.integers(0, 1000, (6, 7, 8)).astype(np.int16)
    affine = np.diag([2.0, 3.0, 4.0, 1.0])  # RAS+
    nib.save(nib.Nifti1Image(data, affine), tmp_path / "ras.nii.gz")
    if layout == "flipped":  # x stored right-to-left: LAS
        other, other_affine = data[::-1], affine @ _flip(0, data.shape[0])
    else:  # axes stored as (y, x, z)
        other = data.transpose(1, 0, 2)
        other_affine = affine[:, [1, 0, 2, 3]]
    nib.save(
        nib.Nifti1Image(np.ascontiguousarray(other), other_affine),
        tmp_path / "other.nii.gz",
    )
    np.testing.assert_array_equal(read_image(tmp_path / "other.nii.gz"), data)
    np.testing.assert_array_equal(read_image(tmp_path / "ras.nii.gz"), data)


def _flip(axis: int, n: int) -> np.ndarray:
    flip = np.eye(4)
    flip[axis, axis] = -1
    flip[axis, 3] = n - 1
    return flip


def test_scaled_4d_series_and_frames():
    img = nib.as_closest_canonical(nib.load(NIFTI / "functional.nii"))
    expected = img.get_fdata()
    out = read_image(NIFTI / "functional.nii")
    assert out.shape == expected.shape == (17, 21, 3, 20)
    assert out.dtype == np.float32  # scl_slope applied, not cut to integers
    np.testing.assert_allclose(out, expected, rtol=1e-6)
    np.testing.assert_allclose(
        read_image(NIFTI / "functional.nii", frame=3), expected[..., 3], rtol=1e-6
    )
    with pytest.raises(ImageReadError, match=r"functional\.nii.*frame=20"):
        read_image(NIFTI / "functional.nii", frame=20)


def test_anatomical_to_25d_slices_whose_channels_are_adjacent_slices():
    volume = read_image(NIFTI / "anatomical.nii")
    slices = volume_to_slices(volume, axis=-1, mode="2.5d")
    assert slices.shape == (25, 33, 41, 3)
    for i in range(25):
        below, above = max(i - 1, 0), min(i + 1, 24)
        np.testing.assert_array_equal(slices[i, ..., 0], volume[..., below])
        np.testing.assert_array_equal(slices[i, ..., 1], volume[..., i])
        np.testing.assert_array_equal(slices[i, ..., 2], volume[..., above])
    # along another axis, with a step
    sagittal, index = volume_to_slices(
        volume, axis=0, mode="2.5d", step=4, return_indices=True
    )
    assert sagittal.shape == (9, 41, 25, 3)
    np.testing.assert_array_equal(index, np.arange(0, 33, 4))
    np.testing.assert_array_equal(sagittal[2, ..., 0], volume[7])
    np.testing.assert_array_equal(sagittal[2, ..., 2], volume[9])


def test_volume_intensity_is_computed_over_the_whole_volume():
    volume = read_image(NIFTI / "anatomical.nii").astype(np.float64)
    scaled = read_image(NIFTI / "anatomical.nii", intensity="minmax")
    expected = (volume - volume.min()) / (volume.max() - volume.min())
    np.testing.assert_allclose(scaled, expected, atol=1e-6)


def test_truncated_nifti(tmp_path):
    data = (NIFTI / "anatomical.nii").read_bytes()
    (tmp_path / "cut.nii").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageReadError, match=r"cut\.nii.*not a readable NIfTI"):
        read_image(tmp_path / "cut.nii")
    (tmp_path / "cut.nii.gz").write_bytes(gzip.compress(data)[:2000])
    with pytest.raises(ImageReadError, match=r"cut\.nii\.gz"):
        read_image(tmp_path / "cut.nii.gz")
