"""Backbones built into skmedtl: LeNet-5, the small CNN of the early studies."""

from __future__ import annotations

from torch import nn

from ._adapters import SequentialAdapter, children_groups
from ._registry import register_backbone
from ._spec import BackboneSpec, DataConfig


class LeNet5(nn.Module):
    """LeNet-5 (LeCun et al., 1998) for 32×32 inputs.

    Three convolutions (C1, C3, C5) with average pooling form the feature
    extractor; F6 and the output layer form the head. It takes three channels so
    that it shares the input pipeline of the ImageNet models.

    Parameters
    ----------
    num_classes : int, default=10
        Width of the output layer.
    in_chans : int, default=3
        Input channels.
    """

    def __init__(self, num_classes: int = 10, in_chans: int = 3):
        super().__init__()
        self.c1 = nn.Sequential(nn.Conv2d(in_chans, 6, 5), nn.Tanh(), nn.AvgPool2d(2))
        self.c3 = nn.Sequential(nn.Conv2d(6, 16, 5), nn.Tanh(), nn.AvgPool2d(2))
        self.c5 = nn.Sequential(nn.Conv2d(16, 120, 5), nn.Tanh())
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(120, 84), nn.Tanh(), nn.Linear(84, num_classes)
        )

    def forward_features(self, x):
        return self.c5(self.c3(self.c1(x)))

    def forward(self, x):
        return self.classifier(self.pool(self.forward_features(x)))


register_backbone(
    BackboneSpec(
        name="lenet5",
        family="LeNet",
        year=1998,
        source="builtin",
        builder=LeNet5,
        adapter=SequentialAdapter(
            children_groups({"c1": ["c1"], "c3": ["c3"], "c5": ["c5"]}),
            head=["classifier"],
        ),
        weights={},
        default_data_config=DataConfig(
            input_size=(32, 32),
            interpolation="bilinear",
            mean=(0.5,) * 3,
            std=(0.5,) * 3,
            crop_pct=1.0,
        ),
    )
)
