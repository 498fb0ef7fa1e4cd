"""volume_to_slices, pool_slices and VolumeFeatures."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from skmedtl.datasets import load_medmnist
from skmedtl.features import VolumeFeatures
from skmedtl.io import pool_slices, read_image, volume_to_slices

from ..conftest import tiny_features
from ._helpers import MEDMNIST_3D, NIFTI


@pytest.fixture
def volume(rng):
    return rng.integers(0, 4096, (5, 6, 7)).astype(np.uint16)


@pytest.mark.parametrize("axis", [0, 1, 2, -1])
def test_2d_slices_along_each_axis(volume, axis):
    slices = volume_to_slices(volume, axis=axis)
    n = volume.shape[axis]
    assert slices.shape[0] == n and slices.dtype == volume.dtype
    for i in range(n):
        np.testing.assert_array_equal(slices[i], np.take(volume, i, axis=axis))


def test_25d_edges_repeat_the_edge_slice(volume):
    slices = volume_to_slices(volume, axis=0, mode="2.5d")
    assert slices.shape == (5, 6, 7, 3)
    np.testing.assert_array_equal(slices[0, ..., 0], volume[0])
    np.testing.assert_array_equal(slices[0, ..., 2], volume[1])
    np.testing.assert_array_equal(slices[4, ..., 0], volume[3])
    np.testing.assert_array_equal(slices[4, ..., 2], volume[4])


def test_step_start_stop_and_indices(volume):
    slices, index = volume_to_slices(
        volume, axis=2, step=3, start=1, return_indices=True
    )
    np.testing.assert_array_equal(index, [1, 4])
    np.testing.assert_array_equal(slices[1], volume[:, :, 4])
    stacked = volume_to_slices(volume, axis=2, mode="2.5d", step=3, start=1)
    np.testing.assert_array_equal(stacked[1, ..., 0], volume[:, :, 3])  # adjacent
    np.testing.assert_array_equal(stacked[1, ..., 2], volume[:, :, 5])


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"mode": "3d"}, ValueError, "Unknown mode"),
        ({"mode": "2.5D"}, ValueError, "Did you mean '2.5d'"),
        ({"step": 0}, ValueError, "step must be an integer >= 1"),
        ({"axis": 3}, ValueError, "axis must be an integer"),
        ({"start": 10}, ValueError, "No slices selected"),
    ],
)
def test_bad_slicing_arguments(volume, kwargs, error, message):
    with pytest.raises(error, match=message):
        volume_to_slices(volume, **kwargs)


def test_4d_input_says_how_to_pick_a_volume(volume):
    with pytest.raises(ValueError, match=r"frame=0"):
        volume_to_slices(np.stack([volume, volume], -1))


def test_pool_slices_mean_and_max_against_a_loop(rng):
    emb = rng.normal(size=(10, 4))
    ids = np.array(["c", "a", "c", "b", "a", "c", "b", "b", "a", "c"])
    for method, reduce in (("mean", np.mean), ("max", np.max)):
        pooled, order = pool_slices(emb, ids, method=method)
        assert order.tolist() == ["c", "a", "b"]  # first appearance
        for row, vid in zip(pooled, order, strict=True):
            np.testing.assert_allclose(row, reduce(emb[ids == vid], axis=0), rtol=1e-6)
        assert pooled.dtype == np.float32


def test_pool_slices_errors(rng):
    with pytest.raises(ValueError, match="one entry per embedding row"):
        pool_slices(rng.normal(size=(3, 2)), [0, 1])
    with pytest.raises(ValueError, match="Did you mean 'mean'"):
        pool_slices(rng.normal(size=(3, 2)), [0, 1, 1], method="maen")


def test_volume_features_equal_pooled_cnn_features():
    volumes, _ = load_medmnist(MEDMNIST_3D, "val")
    cnn = tiny_features("lenet5", input_size=None)
    step = VolumeFeatures(cnn, axis=0, mode="2.5d", step=2, pooling="max")
    out = step.fit_transform(volumes)
    assert out.shape == (len(volumes), step.n_features_out_)
    fitted = tiny_features("lenet5", input_size=None).fit(volumes[0][:, :, :, None])
    for volume, row in zip(volumes, out, strict=True):
        slices = volume_to_slices(volume, axis=0, mode="2.5d", step=2)
        emb = fitted.transform(slices)
        np.testing.assert_allclose(row, emb.max(axis=0), rtol=1e-5, atol=1e-6)
    assert cnn.__dict__.get("model_") is None  # the given extractor is not fitted


def test_volume_classifier_pipeline_on_medmnist_3d():
    X_train, y_train = load_medmnist(MEDMNIST_3D, "train")
    X_test, y_test = load_medmnist(MEDMNIST_3D, "test")
    pipe = Pipeline(
        [
            (
                "volumes",
                VolumeFeatures(
                    tiny_features("lenet5", input_size=None), axis=0, step=4
                ),
            ),
            ("clf", LogisticRegression(max_iter=500)),
        ]
    )
    pipe.fit(list(X_train), y_train)
    assert pipe.predict(list(X_test)).shape == y_test.shape
    assert clone(pipe).get_params()["volumes__step"] == 4


def test_volume_features_read_nifti_paths_with_a_policy():
    pytest.importorskip("nibabel")
    path = NIFTI / "anatomical.nii"
    step = VolumeFeatures(tiny_features(), intensity="minmax", step=6)
    out = step.fit_transform([path, path])
    np.testing.assert_allclose(out[0], out[1])
    volume = read_image(path, intensity="minmax")
    slices = volume_to_slices(volume, mode="2.5d", step=6)
    expected = step.features_.transform(slices).mean(axis=0)
    np.testing.assert_allclose(out[0], expected, rtol=1e-5, atol=1e-6)


def test_volume_features_reject_a_single_volume(volume):
    with pytest.raises(ValueError, match="4-D array"):
        VolumeFeatures(tiny_features()).fit(volume)
    with pytest.raises(ValueError, match="Unknown pooling"):
        VolumeFeatures(tiny_features(), pooling="sum").fit([volume])
