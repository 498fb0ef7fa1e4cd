"""Backbone registry: CNNs from torchvision, timm and skmedtl itself.

>>> from skmedtl.backbones import get_backbone
>>> get_backbone("vgg16").n_params_features
14714688
"""

from . import _builtin, _timm, _torchvision  # noqa: F401  (they register backbones)
from ._registry import create_backbone, get_backbone, list_backbones, register_backbone
from ._spec import BackboneSpec, DataConfig, WeightsSpec

__all__ = [
    "BackboneSpec",
    "DataConfig",
    "WeightsSpec",
    "create_backbone",
    "get_backbone",
    "list_backbones",
    "register_backbone",
]
