"""The fine-tuned network: a backbone's feature extractor, pooling, a new head.

Rather than editing each architecture's classifier, the network runs the
backbone's feature extractor (the registry adapter's ``forward_features``, the
same code :class:`~skmedtl.CNNFeatures` runs), pools the feature map with
:class:`~skmedtl.features._extractor.FeatureExtractor` and applies a fresh
``nn.Linear``. The backbone's own classifier modules (``spec.head_modules``) are
replaced by ``nn.Identity`` so that they hold no unused parameters.
"""

from __future__ import annotations

import torch
from torch import nn

from ..backbones import BackboneSpec, get_backbone
from ..features._extractor import FeatureExtractor, pooled_width

__all__ = ["FineTuneNetwork"]


class FineTuneNetwork(nn.Module):
    """Backbone features, global pooling and a linear classification head.

    Parameters
    ----------
    backbone_name : str
        Registry name of the backbone (looked up again after unpickling).
    backbone : nn.Module
        The backbone with its weights; its classifier head is removed in place.
    n_classes : int
        Outputs of the new head.
    pooling : {"avg", "max", "gem", "cls", "mean", "cls+mean"}, default="avg"
        Global pooling of the last feature map (the last three for vision
        transformers' tokens).

    Attributes
    ----------
    backbone : nn.Module
        The backbone without its original head.
    head : nn.Linear
        The new classification head.
    """

    def __init__(
        self,
        backbone_name: str,
        backbone: nn.Module,
        n_classes: int,
        pooling: str = "avg",
    ):
        super().__init__()
        self.backbone_name = backbone_name
        self.pooling = pooling
        spec = get_backbone(backbone_name)
        for name in spec.head_modules(backbone):
            _replace_module(backbone, name, nn.Identity())
        self.backbone = backbone
        # Global pooling keeps the channel width whatever the pooling and the
        # input size (tokens: d, or 2d for "cls+mean").
        self.head = nn.Linear(pooled_width(spec, pooling), n_classes)

    @property
    def spec(self) -> BackboneSpec:
        """The backbone's registry entry."""
        return get_backbone(self.backbone_name)

    def block_groups(self) -> list[tuple[str, list[str]]]:
        """The backbone's block groups, stem first (module names of ``backbone``)."""
        return self.spec.block_groups(self.backbone)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled features ``(n, d)`` of a normalised image batch."""
        return self._extractor()(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(n, n_classes)`` of a normalised image batch."""
        return self.head(self.features(x))

    def _extractor(self) -> FeatureExtractor:
        # Kept out of the module tree (no duplicate parameters in state_dict) and
        # out of pickles (it holds the registry spec); rebuilt on first use.
        extractor = self.__dict__.get("_extractor_cache")
        if extractor is None or extractor.model is not self.backbone:
            extractor = FeatureExtractor(self.spec, self.backbone, None, self.pooling)
            object.__setattr__(self, "_extractor_cache", extractor)
        return extractor

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_extractor_cache", None)
        return state


def _replace_module(model: nn.Module, name: str, new: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child, new)
