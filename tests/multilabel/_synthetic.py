"""Synthetic multi-label images: a planted pattern per label, plus a noise label."""

from __future__ import annotations

import numpy as np

#: Label names of :func:`make_multilabel`; "noise" has no pattern at all.
LABELS = ["bright", "stripes", "dark", "noise"]


def make_multilabel(n: int, seed: int = 0, size: int = 32):
    """Images ``(n, size, size)`` uint8 and ``Y`` ``(n, 4)``.

    - ``bright``: a bright 10x10 square somewhere;
    - ``stripes``: vertical stripes (period 4) over a patch of 3/4 of the image,
      more likely
      when ``bright`` is present (the labels co-occur);
    - ``dark``: a dark 10x10 square;
    - ``noise``: a coin flip with nothing planted: no model can beat AUC 0.5.
    """
    rng = np.random.default_rng(seed)
    Y = np.zeros((n, 4), dtype=np.int64)
    Y[:, 0] = rng.random(n) < 0.5
    Y[:, 1] = rng.random(n) < np.where(Y[:, 0] == 1, 0.7, 0.3)
    Y[:, 2] = rng.random(n) < 0.4
    Y[:, 3] = rng.random(n) < 0.5
    X = rng.normal(128, 20, (n, size, size))
    patch = 3 * size // 4
    stripes = np.tile((np.arange(patch) % 4 < 2) * 140.0 - 70.0, (patch, 1))
    for i in range(n):
        if Y[i, 0]:
            r, c = rng.integers(0, size - 10, 2)
            X[i, r : r + 10, c : c + 10] = 240
        if Y[i, 1]:
            r, c = rng.integers(0, size - patch + 1, 2)
            X[i, r : r + patch, c : c + patch] += stripes
        if Y[i, 2]:
            r, c = rng.integers(0, size - 10, 2)
            X[i, r : r + 10, c : c + 10] = 15
    return np.clip(X, 0, 255).astype(np.uint8), Y
