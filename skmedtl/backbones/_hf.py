"""``"hf:<repo>"``: vision encoders of Hugging Face transformers (``AutoModel``).

RAD-DINO (``"hf:microsoft/rad-dino"``), DINOv2 (``"hf:facebook/dinov2-small"``),
ViT, BEiT, ... The repository's ``config.json`` gives the architecture, its
``preprocessor_config.json`` the preprocessing (size, mean/std, resampling).
``"hf:/path/to/folder"`` uses a local folder saved with ``save_pretrained``.
Requires ``pip install "skmedtl[foundation]"``.
"""

from __future__ import annotations

import functools
import logging
import os
from pathlib import Path

import torch
from torch import nn

from ._adapters import find_block_list, sequence_groups
from ._registry import NameScheme, register_scheme
from ._spec import BackboneAdapter, BackboneSpec, DataConfig, WeightsSpec

logger = logging.getLogger(__name__)

_WEIGHTS = ("model.safetensors", "pytorch_model.bin")
# PIL resampling codes used by image processors.
_RESAMPLE = {0: "nearest", 1: "bicubic", 2: "bilinear", 3: "bicubic", 4: "bilinear"}
# model_type -> (family, year)
_FAMILIES = {
    "vit": ("ViT", 2020),
    "dinov2": ("DINOv2", 2023),
    "dinov2_with_registers": ("DINOv2", 2023),
    "dinov3_vit": ("DINOv3", 2025),
    "vit_mae": ("MAE", 2021),
    "vit_msn": ("MSN", 2022),
    "beit": ("BEiT", 2021),
    "deit": ("DeiT", 2021),
    "data2vec-vision": ("data2vec", 2022),
    "swin": ("Swin Transformer", 2021),
    "convnext": ("ConvNeXt", 2022),
    "resnet": ("ResNet", 2015),
}


class HFAdapter(BackboneAdapter):
    """A transformers ``AutoModel``: ``last_hidden_state`` as tokens (or a map)."""

    def forward_features(self, model: nn.Module, x: torch.Tensor) -> torch.Tensor:
        size = getattr(model.config, "image_size", None)
        size = (size, size) if isinstance(size, int) else size
        if size is not None and tuple(x.shape[-2:]) != tuple(size):
            try:  # ViT-style models interpolate their position embeddings
                out = model(pixel_values=x, interpolate_pos_encoding=True)
                return out.last_hidden_state
            except TypeError:  # models that always do (DINOv2) or never
                pass
        return model(pixel_values=x, return_dict=True).last_hidden_state

    def num_prefix_tokens(self, model: nn.Module) -> int:
        config = model.config
        n_cls = 0 if getattr(config, "model_type", "") in ("swin",) else 1
        return n_cls + int(getattr(config, "num_register_tokens", 0) or 0)

    def has_class_token(self, model: nn.Module) -> bool:
        return getattr(model.config, "model_type", "") not in ("swin",)

    def block_groups(self, model: nn.Module):
        return sequence_groups(model, find_block_list(model), exclude=("pooler",))

    def head_modules(self, model: nn.Module) -> list[str]:
        # AutoModel has no classifier; the optional pooler is a head of sorts.
        pooler = getattr(model, "pooler", None)
        if isinstance(pooler, nn.Module) and any(True for _ in pooler.parameters()):
            return ["pooler"]
        return []


_ADAPTER = HFAdapter()


def refuse_remote_code(config_path: Path, name: str) -> None:
    """Refuse a configuration that asks transformers to run code it ships.

    A ``config.json`` with ``auto_map`` names Python files of the folder (or hub
    repository) that transformers would import to build the model. skmedtl
    never runs them (``trust_remote_code=False`` everywhere) and says so
    before transformers asks in a terminal.
    """
    import json

    from ..exceptions import UnsafeModelError

    try:
        config = json.loads(Path(config_path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{config_path} ({name!r}) is not readable JSON: {e}") from e
    if not isinstance(config, dict):
        raise ValueError(f"{config_path} ({name!r}) is not a JSON object.")
    if "auto_map" in config:
        raise UnsafeModelError(
            f"{name!r}: {config_path} has an 'auto_map', so building the model "
            f"would run Python code shipped in {Path(config_path).parent}. skmedtl "
            "never runs a model's own code (trust_remote_code=False); use a model "
            "that transformers builds from its own classes."
        )


def _build(config) -> nn.Module:
    from transformers import AutoModel

    try:  # no randomly initialised pooler where the model allows it
        return AutoModel.from_config(
            config, add_pooling_layer=False, trust_remote_code=False
        )
    except TypeError:
        return AutoModel.from_config(config, trust_remote_code=False)


def _files(repo: str) -> tuple[Path, Path | None]:
    """``config.json`` and (optional) ``preprocessor_config.json`` of ``repo``."""
    local = Path(repo).expanduser()
    if local.is_dir():
        config = local / "config.json"
        if not config.is_file():
            raise FileNotFoundError(
                f"{local} has no config.json; 'hf:<folder>' takes a folder written "
                "by save_pretrained."
            )
        pre = local / "preprocessor_config.json"
        return config, pre if pre.is_file() else None
    from ._hub import hub_file

    what = f"the configuration of 'hf:{repo}'"
    config = hub_file(repo, "config.json", what=what)
    pre = hub_file(repo, "preprocessor_config.json", what=what, required=False)
    return config, pre


def _data_config(config, pre: dict | None) -> DataConfig:
    image_size = getattr(config, "image_size", 224)
    if isinstance(image_size, int):
        image_size = (image_size, image_size)
    pre = pre or {}
    if not pre:
        logger.info("No preprocessor_config.json: ImageNet mean/std assumed.")

    def size_of(value, default):
        if isinstance(value, int):
            return (value, value)
        if isinstance(value, dict):
            if "height" in value and "width" in value:
                return (int(value["height"]), int(value["width"]))
            if "shortest_edge" in value:
                edge = int(value["shortest_edge"])
                return (edge, edge)
        return default

    resized = size_of(pre.get("size"), tuple(image_size))
    size = (
        size_of(pre.get("crop_size"), resized) if pre.get("do_center_crop") else resized
    )
    in_chans = int(getattr(config, "num_channels", 3))
    mean = tuple(pre.get("image_mean") or (0.485, 0.456, 0.406))
    std = tuple(pre.get("image_std") or (0.229, 0.224, 0.225))
    if in_chans == 1 and len(mean) != 1:
        mean, std = (sum(mean) / len(mean),), (sum(std) / len(std),)
    return DataConfig(
        input_size=tuple(size),
        interpolation=_RESAMPLE.get(pre.get("resample", 3), "bicubic"),
        mean=mean,
        std=std,
        crop_pct=round(min(size) / min(resized), 4) if resized else 1.0,
        in_chans=in_chans,
    )


def resolve(repo: str) -> BackboneSpec:
    """The spec of ``"hf:<repo>"``."""
    from transformers import AutoConfig

    from ._hub import read_json

    config_path, pre_path = _files(repo)
    refuse_remote_code(config_path, f"hf:{repo}")
    config = AutoConfig.from_pretrained(
        str(config_path.parent), trust_remote_code=False
    )
    if hasattr(config, "vision_config") and not hasattr(config, "image_size"):
        raise ValueError(
            f"'hf:{repo}' is a {config.model_type!r} model with a vision tower; "
            "skmedtl's 'hf:' takes vision encoders. For CLIP-style models use "
            "'open_clip:hf-hub:<repo>' where an open_clip version exists."
        )
    data = _data_config(config, read_json(pre_path) if pre_path else None)
    family, year = _FAMILIES.get(config.model_type, (config.model_type, None))
    is_local = Path(repo).expanduser().is_dir()
    weights = WeightsSpec(
        tag="pretrained",
        source="hf",
        identifier=str(config_path.parent) if is_local else repo,
        data_config=data,
        license="see the model card",
        url="" if is_local else f"https://huggingface.co/{repo}",
        loader=_load,
    )
    return BackboneSpec(
        name="hf:" + repo,
        family=family,
        year=year,
        source="transformers",
        builder=functools.partial(_build, config),
        adapter=_ADAPTER,
        weights={"pretrained": weights},
        default_data_config=data,
    )


def _load(spec: BackboneSpec, w: WeightsSpec, progress: bool) -> nn.Module:

    local = Path(w.identifier)
    if local.is_dir():
        path = next((local / f for f in _WEIGHTS if (local / f).is_file()), None)
        if path is None:
            raise FileNotFoundError(
                f"{local} holds no {' or '.join(_WEIGHTS)}; save the model with "
                "save_pretrained, or use weights=None."
            )
    else:
        from ._hub import hub_file

        path = hub_file(w.identifier, _WEIGHTS, what=f"the weights of {spec.name!r}")
    logger.info("Loading %s from %s", spec.name, path)
    # transformers' own loader: it maps the key names of older checkpoints.
    from transformers import AutoModel

    folder = os.fspath(Path(path).parent)
    refuse_remote_code(Path(folder) / "config.json", spec.name)
    try:
        return AutoModel.from_pretrained(
            folder, add_pooling_layer=False, trust_remote_code=False
        )
    except TypeError:
        return AutoModel.from_pretrained(folder, trust_remote_code=False)


register_scheme(
    NameScheme(
        prefix="hf:",
        resolver=resolve,
        library="transformers",
        extra="foundation",
        example="hf:microsoft/rad-dino",
        description="a transformers AutoModel vision encoder (hub repository or "
        "local folder)",
    )
)
