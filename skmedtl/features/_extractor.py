"""A frozen backbone cut at a layer and pooled to one vector per image."""

from __future__ import annotations

import torch
from torch import nn

from .._constants import FEATURE_POOLINGS
from ..backbones import BackboneSpec
from ..utils._naming import did_you_mean
from ..utils._validation import StrOptions, validate_params

POOLINGS = FEATURE_POOLINGS
#: Poolings of token sequences (vision transformers) only.
TOKEN_POOLINGS = ("cls", "mean", "cls+mean")
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
    pooling : {"avg", "max", "gem", "cls", "mean", "cls+mean"}
        Feature maps ``(n, c, h, w)``: global average, global max, or
        generalised-mean (p=3) pooling, ``c`` features. Tokens ``(n, t, d)`` of
        vision transformers: ``"avg"`` is the model's own pooling (timm: its
        ``global_pool`` and ``fc_norm``; CLIP towers: the projected image
        embedding; transformers: the class token); ``"cls"`` the class token
        (``d``), ``"mean"`` the mean of the patch tokens (``d``; class and
        register tokens excluded), ``"cls+mean"`` both concatenated (``2d``).
        ``"max"`` and ``"gem"`` pool the patch tokens the same way as a map.
    """

    def __init__(
        self, spec: BackboneSpec, model: nn.Module, layer: str | None, pooling: str
    ):
        super().__init__()
        self.spec = spec
        self.model = model
        self.pooling = pooling
        self.layer_module = resolve_layer(spec, model, layer)
        # Input channels (1 for chest X-ray networks): the first convolution's.
        first = next((m for m in model.modules() if isinstance(m, nn.Conv2d)), None)
        self.in_chans = int(first.in_channels) if first is not None else 3

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
        if isinstance(fmap, (tuple, list)):  # blocks that return (tokens, extras)
            fmap = fmap[0]
        if fmap.ndim == 2:
            if self.pooling in TOKEN_POOLINGS:
                raise ValueError(
                    f"pooling={self.pooling!r} needs tokens; backbone "
                    f"{self.spec.name!r} gives pooled vectors. Use pooling='avg'."
                )
            return fmap
        if fmap.ndim == 3:  # tokens (vision transformers)
            return self._pool_tokens(fmap)
        if self.pooling in TOKEN_POOLINGS:
            raise ValueError(
                f"pooling={self.pooling!r} needs a vision transformer (tokens); "
                f"backbone {self.spec.name!r} gives a convolutional feature map. Use "
                "pooling='avg', 'max' or 'gem'."
            )
        if self.pooling == "avg":
            return fmap.mean(dim=(2, 3))
        if self.pooling == "max":
            return fmap.amax(dim=(2, 3))
        gem = fmap.clamp(min=1e-6).pow(_GEM_P).mean(dim=(2, 3))
        return gem.pow(1.0 / _GEM_P)

    def _pool_tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        adapter = self.spec.adapter
        if self.pooling == "avg":
            if self.layer_module is None:
                return adapter.pool_tokens(self.model, tokens)
            # An intermediate block: the model's head pooling does not apply.
            pooling = "cls" if adapter.has_class_token(self.model) else "mean"
        else:
            pooling = self.pooling
        n_prefix = adapter.num_prefix_tokens(self.model)
        patches = tokens[:, n_prefix:]
        if pooling in ("cls", "cls+mean") and not adapter.has_class_token(self.model):
            raise ValueError(
                f"pooling={self.pooling!r}: backbone {self.spec.name!r} has no class "
                "token. Use pooling='mean' (the mean of the patch tokens)."
            )
        if pooling == "cls":
            return tokens[:, 0]
        if pooling == "mean":
            return patches.mean(dim=1)
        if pooling == "cls+mean":
            return torch.cat([tokens[:, 0], patches.mean(dim=1)], dim=1)
        if pooling == "max":
            return patches.amax(dim=1)
        gem = patches.clamp(min=1e-6).pow(_GEM_P).mean(dim=1)
        return gem.pow(1.0 / _GEM_P)


def pooled_width(spec: BackboneSpec, pooling: str) -> int:
    """Width of the features ``pooling`` gives at the final layer of ``spec``."""
    if spec.token_dim is None or pooling == "avg":
        return int(spec.feature_dim)
    return int(spec.token_dim) * (2 if pooling == "cls+mean" else 1)


def resolve_layer(
    spec: BackboneSpec, model: nn.Module, layer: str | None
) -> str | None:
    """The module name whose output ``layer`` designates (``None``: final map)."""
    if layer is None:
        return None
    if not isinstance(layer, str):
        raise TypeError(f"layer must be None or a string, got {type(layer).__name__}.")
    groups = dict(spec.block_groups(model))
    modules = dict(model.named_modules())
    if layer in groups:
        # A group named after its module ("blocks.3" of a timm ViT: timm lists
        # the block's leaves) is that module's output; else its last module's.
        return layer if layer in modules else groups[layer][-1]
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
