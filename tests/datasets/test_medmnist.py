"""load_medmnist (2D and 3D files) and the bundled BreastMNIST."""

from __future__ import annotations

import numpy as np
import pytest

from skmedtl.datasets import load_breastmnist, load_medmnist
from skmedtl.io import volume_to_slices

from ..io._helpers import MEDMNIST_3D


@pytest.mark.parametrize("split", ["train", "val", "test"])
def test_3d_file_gives_volumes_and_flat_labels(split):
    images, labels = load_medmnist(MEDMNIST_3D, split)
    with np.load(MEDMNIST_3D) as raw:
        expected_images = raw[f"{split}_images"]
        expected_labels = raw[f"{split}_labels"]
    assert expected_labels.ndim == 2 and expected_labels.shape[1] == 1
    assert images.ndim == 4 and images.shape[1:] == (28, 28, 28)
    np.testing.assert_array_equal(images, expected_images)
    np.testing.assert_array_equal(labels, expected_labels[:, 0])
    assert set(np.unique(labels)) == {0, 1}
    # each volume slices into 28 images of 28 x 28
    assert volume_to_slices(images[0], axis=0, mode="2.5d").shape == (28, 28, 28, 3)


def test_bundled_breastmnist_splits_partition_780_images():
    sizes = {}
    for split in ("train", "val", "test"):
        images, labels = load_breastmnist(split)
        assert images.shape[1:] == (28, 28) and images.dtype == np.uint8
        assert labels.shape == (len(images),) and set(np.unique(labels)) == {0, 1}
        sizes[split] = len(images)
    assert sum(sizes.values()) == 780
    assert (sizes["train"], sizes["val"], sizes["test"]) == (546, 78, 156)


def test_unknown_split_suggests_the_closest():
    with pytest.raises(ValueError, match="Did you mean 'test'"):
        load_medmnist(MEDMNIST_3D, "tset")


def test_missing_and_foreign_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="MedMNIST file not found"):
        load_medmnist(tmp_path / "nope.npz")
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(ValueError, match=r"not a MedMNIST file.*\['x'\]"):
        load_medmnist(tmp_path / "other.npz")
    (tmp_path / "broken.npz").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ValueError, match=r"Cannot read MedMNIST file .*broken\.npz"):
        load_medmnist(tmp_path / "broken.npz")


def test_images_and_labels_of_different_lengths(tmp_path):
    np.savez(
        tmp_path / "bad.npz",
        train_images=np.zeros((3, 28, 28)),
        train_labels=np.zeros((2, 1)),
    )
    with pytest.raises(ValueError, match=r"bad\.npz: 3 train images but 2 labels"):
        load_medmnist(tmp_path / "bad.npz")
