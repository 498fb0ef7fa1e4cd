"""skmedtl: transfer learning for medical image classification, the scikit-learn way.

The public names are imported on first use, so ``import skmedtl`` (and the
``skmedtl`` command's start-up) stays fast: torch, torchvision and timm load only
when a backbone or an estimator is needed.
"""

from __future__ import annotations

import importlib
import importlib.util

__version__ = "0.1.0.dev0"

_LAZY = {
    "CNNFeatures": "skmedtl.features",
    "EmbeddingCache": "skmedtl.cache",
    "FineTuneClassifier": "skmedtl.finetune",
    "ImageLoader": "skmedtl.io",
    "TransferStudy": "skmedtl.study",
    "VolumeFeatures": "skmedtl.features",
    "create_backbone": "skmedtl.backbones",
    "get_backbone": "skmedtl.backbones",
    "list_backbones": "skmedtl.backbones",
    "load": "skmedtl.persistence",
    "load_folder": "skmedtl.datasets",
    "make_hybrid": "skmedtl.hybrid",
    "read_image": "skmedtl.io",
    "save": "skmedtl.persistence",
}

__all__ = [*_LAZY, "__version__"]

#: Public subpackages, imported on first attribute access.
_SUBPACKAGES = (
    "backbones", "cache", "cli", "datasets", "distributed", "exceptions", "explain",
    "features", "finetune", "hybrid", "io", "metrics", "model_selection", "persistence",
    "study",
    "utils",
)


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    if name in _SUBPACKAGES and importlib.util.find_spec(f"skmedtl.{name}"):
        return importlib.import_module(f"skmedtl.{name}")  # skmedtl.datasets works
    raise AttributeError(f"module 'skmedtl' has no attribute {name!r}")


def __dir__() -> list[str]:
    found = {n for n in _SUBPACKAGES if importlib.util.find_spec(f"skmedtl.{n}")}
    return sorted(set(globals()) | set(__all__) | found)
