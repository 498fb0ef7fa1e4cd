"""torchvision backbones: the review's models and their modern peers."""

from __future__ import annotations

from torch import nn

from ._adapters import (
    SequentialAdapter,
    children_groups,
    indexed_groups,
    relu,
    split_at_pooling,
    tv_transform_input,
)
from ._registry import register_backbone
from ._spec import BackboneSpec, DataConfig, WeightsSpec

_LICENSE = "BSD-3-Clause (torchvision); trained on ImageNet-1k, whose terms apply"


class _TorchvisionBuilder:
    """``builder(weights=None, progress=True)`` for one torchvision model.

    Auxiliary classifiers (GoogLeNet, Inception-v3) are dropped: they are only a
    training aid of the original papers and not part of the feature extractor.
    """

    def __init__(self, name: str, random_init_kwargs: dict | None = None, **kwargs):
        self.name = name
        self.kwargs = kwargs
        self.random_init_kwargs = random_init_kwargs or {}

    def __call__(self, weights=None, progress: bool = True) -> nn.Module:
        from torchvision.models import get_model

        kwargs = dict(self.kwargs)
        if weights is None:
            kwargs.update(self.random_init_kwargs)
        return get_model(self.name, weights=weights, progress=progress, **kwargs)


def _data_config(enum) -> DataConfig:
    t = enum.transforms()
    crop = int(t.crop_size[0])
    resize = int(t.resize_size[0])
    return DataConfig(
        input_size=(crop, crop),
        interpolation=t.interpolation.value,
        mean=tuple(t.mean),
        std=tuple(t.std),
        crop_pct=round(crop / resize, 4),
    )


def _register(name: str, family: str, year: int, adapter: SequentialAdapter, **kwargs):
    from torchvision.models import get_model_weights

    enum = get_model_weights(name).DEFAULT
    config = _data_config(enum)
    weights = {
        "imagenet": WeightsSpec(
            tag="imagenet",
            source="torchvision",
            identifier=f"{type(enum).__name__}.{enum.name}",
            data_config=config,
            license=_LICENSE,
            url=enum.url,
        )
    }
    register_backbone(
        BackboneSpec(
            name=name,
            family=family,
            year=year,
            source="torchvision",
            builder=_TorchvisionBuilder(name, **kwargs),
            adapter=adapter,
            weights=weights,
            default_data_config=config,
        )
    )


_vgg_like = SequentialAdapter(split_at_pooling("features"), head=["classifier"])
_resnet = SequentialAdapter(
    children_groups(
        {
            "stem": ["conv1", "bn1", "relu", "maxpool"],
            "layer1": ["layer1"],
            "layer2": ["layer2"],
            "layer3": ["layer3"],
            "layer4": ["layer4"],
        }
    ),
    head=["fc"],
)
#: Also the adapter of torchxrayvision's DenseNets (same module names).
DENSENET_ADAPTER = SequentialAdapter(
    children_groups(
        {
            "stem": [
                "features.conv0",
                "features.norm0",
                "features.relu0",
                "features.pool0",
            ],
            "block1": ["features.denseblock1", "features.transition1"],
            "block2": ["features.denseblock2", "features.transition2"],
            "block3": ["features.denseblock3", "features.transition3"],
            "block4": ["features.denseblock4", "features.norm5"],
        }
    ),
    head=["classifier"],
    final_activation=relu,  # DenseNet applies F.relu after `features` in forward
)
_googlenet = SequentialAdapter(
    children_groups(
        {
            "stem": ["conv1", "maxpool1", "conv2", "conv3", "maxpool2"],
            "inception3": ["inception3a", "inception3b", "maxpool3"],
            "inception4": [f"inception4{c}" for c in "abcde"] + ["maxpool4"],
            "inception5": ["inception5a", "inception5b"],
        }
    ),
    head=["fc"],
    input_transform=tv_transform_input,
)
_inception_v3 = SequentialAdapter(
    children_groups(
        {
            "stem": [
                "Conv2d_1a_3x3",
                "Conv2d_2a_3x3",
                "Conv2d_2b_3x3",
                "maxpool1",
                "Conv2d_3b_1x1",
                "Conv2d_4a_3x3",
                "maxpool2",
            ],
            "mixed5": ["Mixed_5b", "Mixed_5c", "Mixed_5d"],
            "mixed6": [f"Mixed_6{c}" for c in "abcde"],
            "mixed7": ["Mixed_7a", "Mixed_7b", "Mixed_7c"],
        }
    ),
    head=["fc"],
    input_transform=tv_transform_input,
)
# MobileNets and EfficientNet: one group per resolution stage of `features`.
_mobilenet_v2 = SequentialAdapter(
    indexed_groups(
        "features",
        {
            "stem": [0, 1],
            "stage2": [2, 3],
            "stage3": [4, 5, 6],
            "stage4": range(7, 14),
            "stage5": range(14, 19),
        },
    ),
    head=["classifier"],
)
_mobilenet_v3_large = SequentialAdapter(
    indexed_groups(
        "features",
        {
            "stem": [0, 1],
            "stage2": [2, 3],
            "stage3": [4, 5, 6],
            "stage4": range(7, 13),
            "stage5": range(13, 17),
        },
    ),
    head=["classifier"],
)
_efficientnet_b0 = SequentialAdapter(
    indexed_groups(
        "features",
        {
            "stem": [0, 1],
            "stage2": [2],
            "stage3": [3],
            "stage4": [4, 5],
            "stage5": [6, 7, 8],
        },
    ),
    head=["classifier"],
)

_register("alexnet", "AlexNet", 2012, _vgg_like)
_register("vgg16", "VGG", 2014, _vgg_like)
_register("vgg19", "VGG", 2014, _vgg_like)
# init_weights=True keeps torchvision's original initialisation (and its warning
# quiet); torchvision forbids passing it together with pretrained weights.
_inception_init = {"init_weights": True}
_register(
    "googlenet",
    "GoogLeNet",
    2014,
    _googlenet,
    aux_logits=False,
    random_init_kwargs=_inception_init,
)
_register(
    "inception_v3",
    "Inception",
    2015,
    _inception_v3,
    aux_logits=False,
    random_init_kwargs=_inception_init,
)
for _depth in (18, 34, 50, 101, 152):
    _register(f"resnet{_depth}", "ResNet", 2015, _resnet)
for _depth in (121, 169, 201):
    _register(f"densenet{_depth}", "DenseNet", 2016, DENSENET_ADAPTER)
_register("mobilenet_v2", "MobileNet", 2018, _mobilenet_v2)
_register("mobilenet_v3_large", "MobileNet", 2019, _mobilenet_v3_large)
_register("efficientnet_b0", "EfficientNet", 2019, _efficientnet_b0)
