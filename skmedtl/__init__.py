"""skmedtl: transfer learning for medical image classification, the scikit-learn way.

The public names are imported on first use, so ``import skmedtl`` (and the
``skmedtl`` command's start-up) stays fast: torch, torchvision and timm load only
when a backbone or an estimator is needed.
"""

from __future__ import annotations

import importlib

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


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'skmedtl' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
