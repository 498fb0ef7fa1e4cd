"""``skmedtl cache info|prune``: inspect and trim an embedding cache."""

from __future__ import annotations

import argparse
import os

from .._constants import ON_CORRUPT
from ._base import EXIT_OK, command_parser
from ._params import REQUIRED, Param, add_params, choice

#: EmbeddingCache's options, as flags.
CACHE_PARAMS = [
    Param("on_corrupt", "--on-corrupt", type=choice(ON_CORRUPT), default="raise",
          metavar="{" + ",".join(ON_CORRUPT) + "}",
          help="a damaged (truncated) cache file: stop with an error (default), or "
          "move it aside as PATH.corrupt-<time> and start an empty cache"),
]


def _days(text: str) -> float:
    """A number of days, >= 0 (a negative age would select every namespace)."""
    try:
        days = float(text)
    except ValueError:
        days = -1.0
    if not days >= 0:  # also NaN
        raise argparse.ArgumentTypeError(
            f"expected a number of days >= 0, e.g. 30 or 0.5; got {text!r}"
        )
    return days


#: ``skmedtl cache info``.
INFO_PARAMS = [
    Param("path", "path", default=REQUIRED, metavar="PATH",
          help="the cache file, e.g. embeddings.h5"),
    Param("json", "--json", action="store_true", default=False,
          help="machine-readable output"),
    *CACHE_PARAMS,
]
#: ``skmedtl cache prune``: EmbeddingCache.prune's selectors.
PRUNE_PARAMS = [
    Param("path", "path", default=REQUIRED, metavar="PATH", help="the cache file"),
    Param("namespaces", "namespaces", nargs="*", default=None, metavar="NAMESPACE",
          help="namespace names or unique prefixes (see `cache info`)"),
    Param("backbone", "--backbone", metavar="PATTERN",
          help="shell-style backbone pattern, e.g. 'resnet*'"),
    Param("older_than", "--older-than", type=_days, metavar="DAYS",
          help="last written more than DAYS days ago"),
    Param("all_namespaces", "--all", action="store_true", default=False,
          help="select every namespace"),
    Param("dry_run", "--dry-run", action="store_true", default=False,
          help="only list what would be deleted"),
    *CACHE_PARAMS,
]


def add_parser(subparsers, parents: list) -> None:
    p = command_parser(
        subparsers, "cache", parents,
        help="inspect and prune an embedding cache (HDF5)",
        description="Maintain the HDF5 files written by "
        "CNNFeatures(cache_path=...) / skmedtl.cache.EmbeddingCache.",
    )
    actions = p.add_subparsers(dest="cache_command", metavar="ACTION")

    q = command_parser(
        actions, "info", parents, help="namespaces, rows, size and configuration",
        description="Show every namespace (feature configuration) of a cache: "
        "rows, size, configuration.",
    )
    add_params(q, INFO_PARAMS)
    q.set_defaults(run=run_info, flags={p.name: p for p in INFO_PARAMS})

    q = command_parser(
        actions, "prune", parents, help="delete namespaces and reclaim space",
        description="Delete the namespaces that match every selector given; the "
        "file is rewritten atomically.",
    )
    add_params(q, PRUNE_PARAMS)
    q.set_defaults(run=run_prune, flags={p.name: p for p in PRUNE_PARAMS})


def _open(args, mode: str):
    from ..cache import EmbeddingCache

    cache = EmbeddingCache(args.path, mode=mode, on_corrupt=args.on_corrupt)
    if os.path.isdir(cache.path):
        raise IsADirectoryError(
            f"{cache.path} is a folder; give the cache file, e.g. "
            f"{os.path.join(cache.path, 'embeddings.h5')}."
        )
    if not os.path.exists(cache.path) and not os.path.exists(cache.journal_path):
        raise FileNotFoundError(f"No embedding cache at {cache.path}.")
    return cache


def run_info(args) -> int:
    import json

    info = _open(args, "r" if args.on_corrupt == "raise" else "a").info()
    print(json.dumps(info.to_dict(), indent=2) if args.json else info)
    return EXIT_OK


def run_prune(args) -> int:
    cache = _open(args, "a")
    removed = cache.prune(
        args.namespaces or None, backbone=args.backbone, older_than=args.older_than,
        all_namespaces=args.all, dry_run=args.dry_run,
    )
    verb = "Would delete" if args.dry_run else "Deleted"
    rows = sum(ns.n_rows for ns in removed)
    size = sum(ns.nbytes for ns in removed) / 2**20
    print(f"{verb} {len(removed)} namespace(s), {rows} embeddings, {size:.1f} MiB"
          + (":" if removed else "."))
    for ns in removed:
        print(f"  {ns.name}  ({ns.n_rows} x {ns.dim}, updated {ns.updated})")
    return EXIT_OK
