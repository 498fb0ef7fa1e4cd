"""A frozen backbone cut at a layer and pooled to one vector per image."""

from __future__ import annotations

import torch
from torch import nn

from .._constants import FEATURE_POOLINGS
from ..backbones import BackboneSpec
from ..utils._naming import did_you_mean
from ..utils._validation import StrOptions, validate_params

POOLINGS = FEATURE_POOLINGS
_GEM_P = 3.0


class _StopForward(Exception):
    """Raised by a forward hook once the requested layer has run."""


class FeatureExtractor(nn.Module):
    """Run ``model`` up to ``layer`` and pool the feature map.

    Parameters
    ----------
    spec : BackboneSpec
        The backbone's registry entry (it knows how to run the features).
    model : nn.Module
        The backbone, with weights loaded.
    layer : str or None
        ``None`` for the final feature map; a block-group name of the spec (its
        last module's output is used) or any module name of ``model``.
    pooling : {"avg", "max", "gem"}
        Global average, global max, or generalised-mean (p=3) pooling.
    """

    def __init__(
        self, spec: BackboneSpec, model: nn.Module, layer: str | None, pooling: str
    ):
        super().__init__()
        self.spec = spec
        self.model = model
        self.pooling = pooling
        self.layer_module = resolve_layer(spec, model, layer)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.layer_module is None:
            fmap = self.spec.adapter.forward_features(self.model, x)
        else:
            fmap = self._forward_until(x)
        return self._pool(fmap)

    def _forward_until(self, x: torch.Tensor) -> torch.Tensor:
        captured = {}

        def hook(module, inputs, output):
            captured["out"] = output
            raise _StopForward

        handle = self.model.get_submodule(self.layer_module).register_forward_hook(hook)
        try:
            self.spec.adapter.forward_features(self.model, x)
        except _StopForward:
            pass
        finally:
            handle.remove()
        if "out" not in captured:
            raise RuntimeError(
                f"Layer {self.layer_module!r} was not reached by the feature extractor."
            )
        return captured["out"]

    def _pool(self, fmap: torch.Tensor) -> torch.Tensor:
        if fmap.ndim == 2:
            return fmap
        if fmap.ndim == 3:  # tokens (vision transformers): the model's own pooling
            if self.pooling != "avg" or not hasattr(self.model, "forward_head"):
                raise ValueError(
                    f"pooling={self.pooling!r} needs a convolutional feature map; this "
                    "layer gives tokens. Use pooling='avg' (the model's own pooling)."
                )
            return self.model.forward_head(fmap, pre_logits=True)
        if self.pooling == "avg":
            return fmap.mean(dim=(2, 3))
        if self.pooling == "max":
            return fmap.amax(dim=(2, 3))
        gem = fmap.clamp(min=1e-6).pow(_GEM_P).mean(dim=(2, 3))
        return gem.pow(1.0 / _GEM_P)


def resolve_layer(
    spec: BackboneSpec, model: nn.Module, layer: str | None
) -> str | None:
    """The module name whose output ``layer`` designates (``None``: final map)."""
    if layer is None:
        return None
    if not isinstance(layer, str):
        raise TypeError(f"layer must be None or a string, got {type(layer).__name__}.")
    groups = dict(spec.block_groups(model))
    if layer in groups:
        return groups[layer][-1]
    modules = dict(model.named_modules())
    if layer in modules and layer:
        return layer
    choices = list(groups) + [n for n in modules if n]
    hint = did_you_mean(layer, choices)
    raise ValueError(
        f"Unknown layer {layer!r} for backbone {spec.name!r}.{hint}"
        f" Use a block group ({', '.join(groups)}) or a module name from "
        "model.named_modules()."
    )


def check_pooling(pooling: str) -> None:
    validate_params({"pooling": pooling}, {"pooling": [StrOptions(POOLINGS)]})
