"""Helpers of the cache tests (imported by the tests and the worker script)."""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict

import numpy as np
from torch import nn

from skmedtl import CNNFeatures


def make_images(n: int, size: int = 24, seed: int = 0) -> np.ndarray:
    """``n`` distinct random uint8 greyscale images."""
    return np.random.default_rng(seed).integers(0, 256, (n, size, size), dtype=np.uint8)


def make_features(backbone: str = "lenet5", **params) -> CNNFeatures:
    """A tiny, seeded, silent CNNFeatures (32 px input).

    PyTorch engine: the stem counters hook the torch module, which ONNX Runtime
    (the CPU default when installed) would bypass.
    """
    defaults = {"weights": None, "random_state": 0, "input_size": 32, "verbose": 0,
                "batch_size": 8, "backend": "torch"}
    return CNNFeatures(backbone, **{**defaults, **params})


class StemCounter:
    """Counts images entering the first convolution of every backbone built.

    The width probe of ``fit`` (one all-zero input) is not an image and is not
    counted. ``digests[backbone]`` counts each distinct input tensor, so an image
    computed twice shows up with a count of 2.
    """

    def __init__(self):
        self.digests: dict[str, Counter] = defaultdict(Counter)

    def attach(self, name: str, model: nn.Module) -> None:
        stem = next(m for m in model.modules() if isinstance(m, nn.Conv2d))

        def hook(module, args):
            x = args[0]
            if x.shape[0] == 1 and not bool(x.any()):
                return  # the width probe of fit()
            for sample in x.detach().cpu():
                data = sample.contiguous().numpy().tobytes()
                self.digests[name][hashlib.blake2b(data, digest_size=16).digest()] += 1

        stem.register_forward_pre_hook(hook)

    def images(self, name: str | None = None) -> int:
        """Images through the stem (of one backbone, or all)."""
        names = [name] if name is not None else list(self.digests)
        return sum(sum(self.digests[n].values()) for n in names)

    def reset(self) -> None:
        self.digests.clear()
