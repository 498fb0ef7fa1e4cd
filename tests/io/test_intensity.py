"""Intensity policies: values, validation, recording."""

from __future__ import annotations

import numpy as np
import pytest

from skmedtl.io import CT_WINDOWS, IntensityPolicy, apply_window, scale_intensity


@pytest.fixture
def ct_like(rng):
    return rng.integers(-1024, 3000, (32, 32)).astype(np.int16)


def test_minmax(ct_like):
    out = scale_intensity(ct_like, "minmax")
    x = ct_like.astype(np.float64)
    np.testing.assert_allclose(out, (x - x.min()) / (x.max() - x.min()), atol=1e-6)
    assert out.dtype == np.float32 and out.min() == 0 and out.max() == 1


def test_percentile_clips_then_scales(ct_like):
    out = scale_intensity(ct_like, ("percentile", 5, 95))
    lo, hi = np.percentile(ct_like, [5, 95])
    expected = np.clip((ct_like - lo) / (hi - lo), 0, 1)
    np.testing.assert_allclose(out, expected, atol=1e-6)
    assert (out == 0).mean() == pytest.approx(0.05, abs=0.01)
    default = IntensityPolicy.from_spec("percentile")
    assert (default.low, default.high) == (0.5, 99.5)


@pytest.mark.parametrize("name", sorted(CT_WINDOWS))
def test_ct_presets_are_windows(name, ct_like):
    center, width = CT_WINDOWS[name]
    policy = IntensityPolicy.from_spec(name)
    assert (policy.kind, policy.center, policy.width, policy.preset) == (
        "window",
        center,
        width,
        name,
    )
    np.testing.assert_array_equal(
        scale_intensity(ct_like, name), apply_window(ct_like, center, width)
    )


def test_window_edges_and_nan():
    values = np.array([-2000.0, -1350.0, -600.0, 150.0, 500.0, np.nan])
    out = apply_window(values, -600, 1500)
    np.testing.assert_allclose(out[:5], [0, 0, 0.5, 1, 1])
    assert np.isnan(out[5])


def test_constant_image_becomes_zero():
    out = scale_intensity(np.full((4, 4), 7, dtype=np.uint16), "minmax")
    assert out.dtype == np.float32 and not out.any()


def test_none_returns_the_array_unchanged(ct_like):
    assert scale_intensity(ct_like, None) is ct_like


def test_32bit_integers_are_scaled_exactly():
    # float32 cannot tell 2**30 from 2**30 + 1; the scaling computes in float64
    x = np.array([2**30, 2**30 + 1, 2**30 + 2], dtype=np.int32)
    np.testing.assert_array_equal(scale_intensity(x, "minmax"), [0, 0.5, 1])


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("lugn", "Did you mean 'lung'"),
        ("min-max", "Did you mean 'minmax'"),
        ((40, 0), "positive width"),
        (("percentile", 90, 10), "0 <= low < high <= 100"),
        (("percentile", "a", 99), "must be a number"),
        ((1, 2, 3), "Invalid intensity"),
        (42, "Invalid intensity"),
    ],
)
def test_invalid_specs_are_explained(spec, message):
    with pytest.raises(ValueError, match=message):
        IntensityPolicy.from_spec(spec)


def test_voi_needs_a_dicom_file():
    with pytest.raises(ValueError, match="DICOM"):
        scale_intensity(np.zeros((2, 2)), "voi")


def test_policy_is_recorded_as_a_plain_dict():
    policy = IntensityPolicy.from_spec((40, 400))
    assert policy.to_dict() == {
        "kind": "window",
        "center": 40.0,
        "width": 400.0,
        "low": None,
        "high": None,
        "preset": None,
    }
    assert IntensityPolicy.from_spec(policy) is policy
    assert "center=40" in policy.describe()
