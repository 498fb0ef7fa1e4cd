"""Backbone registry: CNNs from torchvision, timm and skmedtl itself, and name
schemes for foundation models and medical-domain weights (``"timm:"``,
``"hf-hub:"``, ``"open_clip:"``, ``"hf:"``, ``"txrv:"``).

>>> from skmedtl.backbones import get_backbone
>>> get_backbone("vgg16").n_params_features
14714688
"""

# Each of these registers its backbones or its name scheme; the registry itself
# imports none of them.
from . import _builtin, _hf, _open_clip, _timm, _torchvision, _txrv  # noqa: F401
from ._registry import (
    NameScheme,
    create_backbone,
    get_backbone,
    list_backbones,
    list_schemes,
    register_backbone,
    register_scheme,
)
from ._spec import BackboneSpec, DataConfig, WeightsSpec
from ._weights import WeightsFile

__all__ = [
    "BackboneSpec",
    "DataConfig",
    "NameScheme",
    "WeightsFile",
    "WeightsSpec",
    "create_backbone",
    "get_backbone",
    "list_backbones",
    "list_schemes",
    "register_backbone",
    "register_scheme",
]
