"""One intensity vocabulary and one min-max for CNNFeatures and the readers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from skmedtl.io import IntensityPolicy, apply_window, scale_intensity
from skmedtl.io._intensity import minmax_rows
from tests.conftest import tiny_features

ATOL, RTOL = 1e-5, 1e-4


def test_one_min_max_for_numpy_and_torch(rng):
    x = rng.normal(size=(4, 5, 6)).astype(np.float32) * 100
    x[2] = 3.0  # a constant image becomes 0
    ours = minmax_rows(x)
    on_device = minmax_rows(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(ours, on_device, atol=1e-7)
    flat = x[[0, 1, 3]].reshape(3, -1)
    expected = (flat - flat.min(1, keepdims=True)) / np.ptp(flat, 1, keepdims=True)
    np.testing.assert_allclose(ours[[0, 1, 3]], expected.reshape(3, 5, 6), atol=1e-6)
    assert (ours[2] == 0).all()


def test_auto_and_dtype_are_policies_of_the_readers_too():
    u16 = np.array([[0, 1000], [2000, 4000]], dtype=np.uint16)
    np.testing.assert_allclose(scale_intensity(u16, "auto"), [[0, 0.25], [0.5, 1]])
    np.testing.assert_allclose(scale_intensity(u16, "dtype"), u16 / 65535.0)
    u8 = np.array([[0, 51], [255, 102]], dtype=np.uint8)
    np.testing.assert_allclose(scale_intensity(u8, "auto"), u8 / 255.0)
    with pytest.raises(ValueError, match=r"outside \[0, 1\].*'minmax'"):
        scale_intensity(np.array([0.0, 3.0]), "auto")
    assert IntensityPolicy.from_spec("lung").key() == "window(-600,1500)"
    assert IntensityPolicy.from_spec("auto").key() == "auto"


@pytest.mark.slow
def test_cnn_features_take_every_reader_policy(gray_images):
    hounsfield = gray_images.astype(np.float32) * 8 - 1000
    windowed = np.stack([apply_window(im, -600, 1500) for im in hounsfield])
    lung = tiny_features(intensity="lung").fit(hounsfield)
    np.testing.assert_allclose(
        lung.transform(hounsfield),
        tiny_features().fit(windowed).transform(windowed),
        atol=ATOL,
        rtol=RTOL,
    )
    # the policy is part of the feature configuration (and so of the cache key)
    config = lung.feature_config_["preprocessing"]
    assert config["intensity"] == "window(-600,1500)"
    assert (
        tiny_features().fit(gray_images).feature_config_["preprocessing"]["intensity"]
        == "auto"
    )
    with pytest.raises(ValueError, match="Did you mean 'minmax'"):
        tiny_features(intensity="min-max").fit(gray_images)
