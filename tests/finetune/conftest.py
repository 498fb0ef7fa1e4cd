"""Fixtures for FineTuneClassifier: an easy synthetic task and the shipped weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from skmedtl.finetune import FineTuneClassifier

BACKBONE = "efficientnet_lite0"


def stripes(n: int, seed: int = 0, size: int = 48) -> tuple[np.ndarray, np.ndarray]:
    """Noisy horizontal (class 0) or vertical (class 1) stripes, uint8 greyscale.

    Frequency and phase vary per image; ImageNet features separate the two
    orientations easily, random features do not.
    """
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    r = np.arange(size)
    X = np.empty((n, size, size), np.uint8)
    for i in range(n):
        wave = 0.5 + 0.5 * np.sin(
            2 * np.pi * rng.uniform(0.12, 0.3) * r + rng.uniform(0, 2 * np.pi)
        )
        img = (
            np.tile(wave[:, None], (1, size)) if y[i] == 0 else np.tile(wave, (size, 1))
        )
        img = img + rng.normal(0, 0.1, img.shape)
        X[i] = np.round(np.clip(img, 0, 1) * 255).astype(np.uint8)
    return X, y


def make_clf(**params) -> FineTuneClassifier:
    """A fast, offline FineTuneClassifier on the shipped EfficientNet-Lite0 weights."""
    defaults = dict(
        input_size=64,
        max_epochs=3,
        batch_size=16,
        weight_decay=0.0,
        random_state=0,
        verbose=0,
        device="cpu",
    )
    defaults.update(params)
    return FineTuneClassifier(BACKBONE, **defaults)


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread():
    """Train on one thread in these tests, restored afterwards.

    Tiny batches gain little from a second thread, and on a shared runner (other
    test processes on the same cores) OpenMP threads that wait for each other
    make a fit 10x slower.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def stripes_data():
    return stripes(32)


@pytest.fixture(scope="session")
def shipped_state() -> dict[str, torch.Tensor]:
    """The shipped ImageNet weights of EfficientNet-Lite0, as loaded from disk."""
    from skmedtl.backbones import create_backbone

    return {k: v.clone() for k, v in create_backbone(BACKBONE).state_dict().items()}
