"""Load saved models in a fresh process with every pickle entry point disabled.

Usage: python _fresh_load.py OUT.npz MODEL_DIR X.npy METHOD [MODEL_DIR X.npy METHOD ...]

Writes the outputs of ``METHOD(X)`` of each loaded model to ``OUT.npz``
(``out0``, ``out1``, ...). Before anything from skmedtl is imported,
``pickle.load``, ``pickle.loads``, ``pickle.Unpickler`` and ``torch.load`` raise,
so a load that needed any of them fails.
"""

from __future__ import annotations

import pickle
import sys

import numpy as np
import torch


def _forbidden(*args, **kwargs):
    raise AssertionError("pickle was used while loading a saved model")


class _NoUnpickler:
    def __init__(self, *args, **kwargs):
        _forbidden()


def main(argv: list[str]) -> None:
    out, jobs = argv[0], argv[1:]
    inputs = [np.load(jobs[i + 1], allow_pickle=False) for i in range(0, len(jobs), 3)]
    pickle.load = pickle.loads = _forbidden
    pickle.Unpickler = _NoUnpickler
    torch.load = _forbidden

    import skmedtl

    results = {}
    for k, i in enumerate(range(0, len(jobs), 3)):
        model = skmedtl.load(jobs[i])
        x = inputs[k]
        if x.dtype.kind == "U":  # file paths
            x = x.tolist()
        results[f"out{k}"] = getattr(model, jobs[i + 2])(x)
    np.savez(out, **results)


if __name__ == "__main__":
    main(sys.argv[1:])
