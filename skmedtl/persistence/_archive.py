"""The files of a saved model: tensors, arrays and side files, collected by name.

A :class:`ArchiveWriter` gathers what the encoder produces (torch tensors, numpy
arrays, the bytes of skops / XGBoost files) and returns the directory's files as
``{relative path: bytes}``; an :class:`ArchiveReader` serves them back. Tensors
and numeric arrays go to safetensors files, which hold raw buffers and a JSON
header only, so reading them runs no code.
"""

from __future__ import annotations

import numpy as np

__all__ = ["ArchiveReader", "ArchiveWriter"]

TENSORS = "tensors.safetensors"
ARRAYS = "arrays.safetensors"
#: numpy dtype kinds that safetensors stores (bool, signed, unsigned, float).
ARRAY_KINDS = "biuf"


class ArchiveWriter:
    """Collects the contents of a model directory while the model is encoded."""

    def __init__(self):
        self._tensors: dict = {}
        self._arrays: dict[str, np.ndarray] = {}
        self._files: dict[str, bytes] = {}
        #: ``id(module) -> (prefix, module)`` of every network written so far.
        self.modules: dict[int, tuple[str, object]] = {}

    def add_state_dict(self, prefix: str, state_dict) -> None:
        """Store a module's tensors under ``prefix/<name>`` (moved to the CPU)."""
        for name, tensor in state_dict.items():
            # clone: safetensors refuses tensors sharing memory (tied weights)
            self._tensors[f"{prefix}/{name}"] = (
                tensor.detach().to("cpu").contiguous().clone()
            )

    def add_array(self, array: np.ndarray) -> str:
        """Store a numeric array; returns its key."""
        key = f"a{len(self._arrays)}"
        self._arrays[key] = np.ascontiguousarray(array)
        return key

    def add_file(self, folder: str, suffix: str, data: bytes) -> str:
        """Store a side file ``folder/<n><suffix>``; returns its relative path."""
        n = sum(name.startswith(folder + "/") for name in self._files)
        name = f"{folder}/{n}{suffix}"
        self._files[name] = data
        return name

    def files(self) -> dict[str, bytes]:
        """Every data file of the directory (not the model tree nor the manifest)."""
        out = dict(self._files)
        if self._tensors:
            from safetensors.torch import save

            out[TENSORS] = save(self._tensors)
        if self._arrays:
            from safetensors.numpy import save

            out[ARRAYS] = save(self._arrays)
        return out


class ArchiveReader:
    """Serves the contents of a verified model directory to the decoder."""

    def __init__(self, files: dict[str, bytes]):
        self._files = files
        self._tensors = None
        self._arrays = None
        #: ``prefix -> module`` of every network rebuilt so far.
        self.modules: dict[str, object] = {}
        #: Every skmedtl estimator rebuilt, outermost last.
        self.estimators: list = []

    def state_dict(self, prefix: str) -> dict:
        """The tensors stored under ``prefix`` (on the CPU), keyed by parameter."""
        if self._tensors is None:
            from safetensors.torch import load

            self._tensors = load(self._files[TENSORS]) if TENSORS in self._files else {}
        start = prefix + "/"
        return {
            key[len(start) :]: value
            for key, value in self._tensors.items()
            if key.startswith(start)
        }

    def array(self, key: str) -> np.ndarray:
        if self._arrays is None:
            from safetensors.numpy import load

            self._arrays = load(self._files[ARRAYS]) if ARRAYS in self._files else {}
        return self._arrays[key]

    def file(self, name: str) -> bytes:
        return self._files[name]
