"""Shared fixtures. Tests never touch the network and never read ~/.cache."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(autouse=True)
def _offline_and_isolated(monkeypatch, tmp_path_factory):
    """No downloads, and an empty torch hub cache unless a test fills one.

    ONNX exports go to one directory per test session, so they are reused across
    tests (as across a user's processes) without touching ~/.cache.
    """
    monkeypatch.setenv("SKMEDTL_HOME", str(tmp_path_factory.getbasetemp() / "home"))
    monkeypatch.setenv("SKMEDTL_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path_factory.mktemp("torch_home")))


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def gray_images(rng):
    """Twelve 8-bit greyscale 28×28 images with some structure."""
    base = rng.integers(0, 256, (12, 28, 28), dtype=np.uint8)
    base[:, 8:20, 8:20] //= 3
    return base


def tiny_features(backbone: str = "resnet18", **kwargs):
    """A fast, offline CNNFeatures: random weights, small input."""
    from skmedtl import CNNFeatures

    params = dict(weights=None, random_state=0, input_size=32, verbose=0)
    params.update(kwargs)
    return CNNFeatures(backbone, **params)


@pytest.fixture
def run_cli(capsys):
    """``run_cli(argv)`` -> (exit code, stdout, stderr), argparse errors included."""
    from tests._helpers import call_main

    return lambda argv: call_main(argv, capsys)
