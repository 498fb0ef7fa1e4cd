"""``"open_clip:..."``: the image tower of an OpenCLIP model.

``"open_clip:<model>"`` (random weights) or ``"open_clip:<model>.<tag>"`` for a
built-in model and pretrained tag (``open_clip.list_pretrained()``), and
``"open_clip:hf-hub:<org>/<name>"`` for a model on the Hugging Face hub
(BiomedCLIP:
``"open_clip:hf-hub:microsoft/BiomedCLIP-PubMedBERT_256-vit_base_patch16_224"``).
Only the image tower is built and loaded (no text tower, no tokenizer), with
CLIP's own preprocessing (mean/std, bicubic resize). Requires
``pip install "skmedtl[foundation]"``.
"""

from __future__ import annotations

import functools
import logging
import os
from pathlib import Path

import torch
from torch import nn

from ..exceptions import UnknownBackboneError, WeightsUnavailableError
from ..utils._naming import did_you_mean
from ._adapters import Groups, TimmAdapter, sequence_groups
from ._registry import NameScheme, register_scheme
from ._spec import BackboneAdapter, BackboneSpec, DataConfig, WeightsSpec

logger = logging.getLogger(__name__)

_HUB_PREFIX = "hf-hub:"
_HUB_WEIGHTS = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")
_OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
_OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)


class OpenClipAdapter(BackboneAdapter):
    """An OpenCLIP image tower: a native ``VisionTransformer`` or a ``TimmModel``.

    Tokens are the transformer's output (after ``ln_post`` where the model
    normalises tokens before pooling); ``pooling="avg"`` is the tower's own
    output, the projected image embedding CLIP compares with text.
    """

    _timm = TimmAdapter()

    @staticmethod
    def _is_timm(model: nn.Module) -> bool:
        return hasattr(model, "trunk")

    def forward_features(self, model: nn.Module, x: torch.Tensor) -> torch.Tensor:
        if self._is_timm(model):
            return model.trunk.forward_features(x)
        x = model.transformer(model._embeds(x))
        if model.attn_pool is None and not model.final_ln_after_pool:
            x = model.ln_post(x)
        return x

    def pool_tokens(self, model: nn.Module, tokens: torch.Tensor) -> torch.Tensor:
        if self._is_timm(model):
            return model.head(model.trunk.forward_head(tokens))
        if model.attn_pool is not None:
            pooled, _ = model._pool(tokens)
        else:
            pooled, _ = model._global_pool(tokens)
            if model.final_ln_after_pool:
                pooled = model.ln_post(pooled)
        return pooled @ model.proj if model.proj is not None else pooled

    def num_prefix_tokens(self, model: nn.Module) -> int:
        if self._is_timm(model):
            return self._timm.num_prefix_tokens(model.trunk)
        return 1  # the class embedding

    def has_class_token(self, model: nn.Module) -> bool:
        if self._is_timm(model):
            return self._timm.has_class_token(model.trunk)
        return True

    def block_groups(self, model: nn.Module) -> Groups:
        if self._is_timm(model):
            groups = [
                (name, [f"trunk.{m}" for m in members])
                for name, members in self._timm.block_groups(model.trunk)
            ]
            groups[-1][1].append("head")  # the projection belongs to the top
            return groups
        groups = sequence_groups(model, "transformer.resblocks")
        # "proj" is a parameter of the tower (not a module): owned by the top.
        top = groups[-1][1]
        top.insert(len(top) - 1 if top[-1] == "ln_post" else len(top), "proj")
        return groups

    def head_modules(self, model: nn.Module) -> list[str]:
        return []  # the projection is part of the image embedding


_ADAPTER = OpenClipAdapter()


def _build(embed_dim: int, vision_cfg: dict, quick_gelu: bool) -> nn.Module:
    from open_clip.model import _build_vision_tower

    return _build_vision_tower(embed_dim, dict(vision_cfg), quick_gelu=quick_gelu)


def _data_config(vision_cfg: dict, pre: dict) -> DataConfig:
    size = vision_cfg.get("image_size", 224)
    size = (size, size) if isinstance(size, int) else tuple(size)
    return DataConfig(
        input_size=tuple(int(v) for v in size),
        interpolation=pre.get("interpolation") or "bicubic",
        mean=tuple(pre.get("mean") or _OPENAI_MEAN),
        std=tuple(pre.get("std") or _OPENAI_STD),
        crop_pct=1.0,  # CLIP: shortest side to the size, centre crop
    )


def resolve(rest: str) -> BackboneSpec:
    """The spec of ``"open_clip:<rest>"``."""
    import open_clip  # noqa: F401  (fails early, naming the extra)

    if rest.startswith(_HUB_PREFIX):
        from ._hub import hub_file, read_json

        repo = rest[len(_HUB_PREFIX) :]
        config = read_json(
            hub_file(
                repo,
                "open_clip_config.json",
                what=f"the configuration of 'open_clip:{rest}'",
            )
        )
        model_cfg = config.get("model_cfg") or {}
        pre = config.get("preprocess_cfg") or {}
        source = ("hub", repo, _HUB_WEIGHTS)
        model_name = rest
    else:
        import open_clip

        model_name, _, tag = rest.partition(".")
        model_cfg = open_clip.get_model_config(model_name)
        if model_cfg is None:
            raise UnknownBackboneError(
                f"Unknown open_clip model {model_name!r}."
                f"{did_you_mean(model_name, open_clip.list_models())} See "
                "open_clip.list_models()."
            )
        pre, source = {}, None
        if tag:
            pcfg = open_clip.get_pretrained_cfg(model_name, tag)
            if not pcfg:
                tags = open_clip.list_pretrained_tags_by_model(model_name)
                raise UnknownBackboneError(
                    f"open_clip has no pretrained tag {tag!r} for {model_name!r}. "
                    f"Tags: {tags or 'none'}."
                )
            pre = pcfg
            if pcfg.get("quick_gelu"):
                model_cfg = {**model_cfg, "quick_gelu": True}
            if pcfg.get("hf_hub"):
                repo, filename = os.path.split(pcfg["hf_hub"])
                names = (filename,) if filename else _HUB_WEIGHTS
                source = ("hub", repo, names)
            elif pcfg.get("url"):
                source = ("url", pcfg["url"], ())
    if "vision_cfg" not in model_cfg or "embed_dim" not in model_cfg:
        raise ValueError(
            f"'open_clip:{rest}': the model configuration has no vision_cfg / "
            "embed_dim; is it an open_clip model?"
        )
    vision_cfg = dict(model_cfg["vision_cfg"])
    data = _data_config(vision_cfg, pre)
    weights = {}
    if source is not None:
        kind, where, names = source
        weights["pretrained"] = WeightsSpec(
            tag="pretrained",
            source="open_clip",
            identifier=f"{kind}|{where}|{','.join(names)}",
            data_config=data,
            license="see the model card",
            url=f"https://huggingface.co/{where}" if kind == "hub" else where,
            loader=_load,
        )
    name = "open_clip:" + rest
    return BackboneSpec(
        name=name,
        family="BiomedCLIP" if "biomedclip" in rest.lower() else "CLIP",
        year=2023 if "biomedclip" in rest.lower() else 2021,
        source="open_clip",
        builder=functools.partial(
            _build,
            int(model_cfg["embed_dim"]),
            vision_cfg,
            bool(model_cfg.get("quick_gelu", False)),
        ),
        adapter=_ADAPTER,
        weights=weights,
        default_data_config=data,
    )


def _weights_file(spec: BackboneSpec, w: WeightsSpec) -> Path:
    kind, where, names = w.identifier.split("|", 2)
    if kind == "hub":
        from ._hub import hub_file

        return hub_file(where, names.split(","), what=f"the weights of {spec.name!r}")
    from ._hub import _can_reach

    cache = Path(os.path.expanduser(os.path.join("~", ".cache", "clip")))
    path = cache / os.path.basename(where)
    if path.is_file():
        return path
    if not _can_reach(where):
        raise WeightsUnavailableError(
            f"The weights of {spec.name!r} are not in the open_clip cache and cannot "
            f"be downloaded (no network, or SKMEDTL_OFFLINE is set). Download {where} "
            f"on a machine with internet access and place it at {path}."
        )
    from open_clip.pretrained import download_pretrained_from_url

    return Path(download_pretrained_from_url(where, cache_dir=str(cache)))


def _load(spec: BackboneSpec, w: WeightsSpec, progress: bool) -> nn.Module:
    from ._weights import read_state_dict

    path = _weights_file(spec, w)
    logger.info("Loading the image tower of %s from %s", spec.name, path)
    state = read_state_dict(path)
    visual = {
        k[len("visual.") :]: v for k, v in state.items() if k.startswith("visual.")
    }
    model = spec.builder()
    result = model.load_state_dict(visual or state, strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise ValueError(
            f"Weights file {path} does not fit the image tower of {spec.name!r}: "
            f"missing keys {result.missing_keys[:5]}, unexpected keys "
            f"{result.unexpected_keys[:5]}."
        )
    return model


register_scheme(
    NameScheme(
        prefix="open_clip:",
        resolver=resolve,
        library="open-clip-torch",
        extra="foundation",
        example="open_clip:hf-hub:microsoft/BiomedCLIP-PubMedBERT_256-vit_base_patch16_224",
        description="the image tower of an OpenCLIP model: '<model>[.<tag>]' or "
        "'hf-hub:<repo>'",
    )
)
