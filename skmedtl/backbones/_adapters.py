"""Adapters: how to run each family's feature extractor and where its blocks are.

torchvision models have no common ``forward_features``; :class:`SequentialAdapter`
describes each one as an ordered list of block groups whose modules, applied in
order, give the final feature map. timm models bring their own
``forward_features`` and ``group_matcher``; :class:`TimmAdapter` uses those.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F

from ._spec import BackboneAdapter

Groups = list[tuple[str, list[str]]]


class SequentialAdapter(BackboneAdapter):
    """A model whose feature extractor is a chain of named submodules.

    Parameters
    ----------
    groups : callable
        ``groups(model) -> [(group name, [module names])]``, stem first. Applying
        every module in this order to the input gives the final feature map.
    head : list of str
        Module names of the classifier head.
    input_transform : callable, optional
        ``input_transform(model, x) -> x`` applied first (e.g. torchvision's
        ``transform_input`` of Inception weights ported from TensorFlow).
    final_activation : callable, optional
        Applied to the last feature map when the model does it functionally in
        ``forward`` (DenseNet's final ReLU).
    """

    def __init__(
        self,
        groups: Callable[[nn.Module], Groups],
        head: list[str],
        input_transform: Callable[[nn.Module, torch.Tensor], torch.Tensor]
        | None = None,
        final_activation: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ):
        self._groups = groups
        self._head = head
        self._input_transform = input_transform
        self._final_activation = final_activation

    def forward_features(self, model: nn.Module, x: torch.Tensor) -> torch.Tensor:
        if self._input_transform is not None:
            x = self._input_transform(model, x)
        for _, names in self._groups(model):
            for name in names:
                x = model.get_submodule(name)(x)
        if self._final_activation is not None:
            x = self._final_activation(x)
        return x

    def block_groups(self, model: nn.Module) -> Groups:
        return self._groups(model)

    def head_modules(self, model: nn.Module) -> list[str]:
        return list(self._head)


def children_groups(spec: dict[str, list[str]]) -> Callable[[nn.Module], Groups]:
    """Groups given literally as ``{group name: [module names]}``."""
    groups = [(name, list(mods)) for name, mods in spec.items()]
    return lambda model: [(name, list(mods)) for name, mods in groups]


def indexed_groups(
    container: str, spec: dict[str, range | list[int]]
) -> Callable[[nn.Module], Groups]:
    """Groups of ``container.<i>`` children, e.g. ``features.0`` ... ``features.18``."""
    return children_groups(
        {name: [f"{container}.{i}" for i in idx] for name, idx in spec.items()}
    )


def split_at_pooling(container: str) -> Callable[[nn.Module], Groups]:
    """One group per max-pooling stage of a plain ``nn.Sequential`` (AlexNet, VGG)."""

    def groups(model: nn.Module) -> Groups:
        out, current = [], []
        for i, layer in enumerate(model.get_submodule(container)):
            current.append(f"{container}.{i}")
            if isinstance(layer, nn.MaxPool2d):
                out.append((f"block{len(out) + 1}", current))
                current = []
        if current:
            out.append((f"block{len(out) + 1}", current))
        return out

    return groups


def tv_transform_input(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """torchvision's ``transform_input`` for GoogLeNet / Inception-v3 weights."""
    if getattr(model, "transform_input", False):
        return model._transform_input(x)
    return x


def relu(x: torch.Tensor) -> torch.Tensor:
    return F.relu(x, inplace=False)


class TimmAdapter(BackboneAdapter):
    """Any timm model: its own ``forward_features`` and coarse ``group_matcher``.

    For vision transformers the coarse groups are the stem (patch embedding,
    class token, position embedding) and one group per transformer block, the
    final norm joining the last block.
    """

    def forward_features(self, model: nn.Module, x: torch.Tensor) -> torch.Tensor:
        return model.forward_features(x)

    def num_prefix_tokens(self, model: nn.Module) -> int:
        return int(getattr(model, "num_prefix_tokens", 0))

    def fix_input_size(self, model: nn.Module, input_size: tuple[int, int]) -> None:
        patch_embed = getattr(model, "patch_embed", None)
        current = getattr(patch_embed, "img_size", None)
        if (
            not hasattr(model, "set_input_size")
            or current is None
            or tuple(current) == tuple(input_size)
        ):
            return
        try:  # resamples the position embeddings as dynamic_img_size would
            model.set_input_size(img_size=tuple(input_size))
        except Exception:  # noqa: BLE001 - stays dynamic: still correct
            return

    def has_class_token(self, model: nn.Module) -> bool:
        if hasattr(model, "cls_token"):
            return model.cls_token is not None
        return self.num_prefix_tokens(model) > 0

    def pool_tokens(self, model: nn.Module, tokens: torch.Tensor) -> torch.Tensor:
        # The model's own pooling (class token, or average) and its fc_norm.
        return model.forward_head(tokens, pre_logits=True)

    def head_modules(self, model: nn.Module) -> list[str]:
        classifier = model.pretrained_cfg.get("classifier") or "fc"
        names = [classifier] if isinstance(classifier, str) else list(classifier)
        present = dict(model.named_modules())
        return [n for n in names if n in present and _has_params(present[n])]

    def block_groups(self, model: nn.Module) -> Groups:
        from timm.models import group_modules

        head = tuple(self.head_modules(model))
        grouped = group_modules(model, model.group_matcher(coarse=True))
        groups: Groups = []
        for _, names in sorted(grouped.items()):
            names = [n for n in names if not _is_within(n, head)]
            if names:
                groups.append((_group_name(names, len(groups)), names))
        return groups


def _has_params(module: nn.Module) -> bool:
    return any(True for _ in module.parameters())


def _is_within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _group_name(names: list[str], index: int) -> str:
    """ "stem", else the shared prefix of the group's modules (``"blocks.6"``).

    Groups can mix a stage with the layers timm merges into it (``conv_head``
    joins the last stage), so only names under the first one's parent count.
    """
    if index == 0:
        return "stem"
    top = names[0].split(".")[0]
    same = [n + "." for n in names if n.split(".")[0] == top]
    prefix = os.path.commonprefix(same).rstrip(".")
    parts = prefix.split(".") if prefix else []
    # "blocks.6" names a stage of a container; "block4.rep" is just "block4".
    keep = 2 if len(parts) > 1 and parts[1].isdigit() else 1
    return ".".join(parts[:keep]) or f"group{index}"


def sequence_groups(
    model: nn.Module, blocks: str, exclude: tuple[str, ...] = ()
) -> Groups:
    """Stem, one group per block of the ``nn.ModuleList`` at ``blocks``, top.

    Modules that come before the block list (at every level above it: the
    embeddings) form the stem; modules after it (the final norm) join the last
    block, so that the top group owns everything up to the features.
    ``exclude`` names modules that are in no group (a classifier head).
    """
    parts = blocks.split(".")
    stem: list[str] = []
    top: list[str] = []
    for depth in range(len(parts)):
        parent_name = ".".join(parts[:depth])
        parent = model.get_submodule(parent_name) if parent_name else model
        seen = False
        for child, _ in parent.named_children():
            full = f"{parent_name}.{child}" if parent_name else child
            if child == parts[depth]:
                seen = True
                continue
            if _is_within(full, exclude):
                continue
            (top if seen else stem).append(full)
    container = model.get_submodule(blocks)
    groups: Groups = [("stem", stem)]
    names = [f"{blocks}.{i}" for i in range(len(container))]
    for i, name in enumerate(names):
        members = [name] + (top if i == len(names) - 1 else [])
        groups.append((f"block{i}", members))
    return groups


def find_block_list(model: nn.Module) -> str:
    """Name of the longest ``nn.ModuleList`` of ``model`` (the transformer blocks)."""
    best, size = None, 0
    for name, module in model.named_modules():
        if isinstance(module, nn.ModuleList) and len(module) > size:
            best, size = name, len(module)
    if best is None:
        raise ValueError(
            f"{type(model).__name__} has no list of blocks; partial fine-tuning and "
            "layer= need one."
        )
    return best
