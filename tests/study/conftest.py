"""Tiny, offline study fixtures: 16x16 images with a learnable signal."""

from __future__ import annotations

import numpy as np
import pytest

from tests._helpers import tiny_study_flags

#: A tiny study: random LeNet-5 at 32 px, one epoch: seconds per cell.
TINY = ["--profile", "quick", *tiny_study_flags()]


def make_images(rng, labels) -> np.ndarray:
    """Noise, with a bright square in class 1 and a dark one in class 0."""
    images = rng.integers(60, 200, (len(labels), 16, 16), dtype=np.uint8)
    images[labels == 1, 4:12, 4:12] = 250
    images[labels == 0, 4:12, 4:12] = 10
    return images


@pytest.fixture
def tiny_npz(tmp_path):
    """A MedMNIST-style file: 32 train, 8 val, 12 test images, two classes."""
    rng = np.random.default_rng(0)
    arrays = {}
    for split, n in (("train", 32), ("val", 8), ("test", 12)):
        labels = np.repeat([0, 1], n // 2)
        arrays[f"{split}_images"] = make_images(rng, labels)
        arrays[f"{split}_labels"] = labels[:, None].astype(np.uint8)
    path = tmp_path / "tiny.npz"
    np.savez(path, **arrays)
    return path
