"""The ``skmedtl`` command line: a thin layer over the public API."""

from __future__ import annotations

import argparse
import logging
import sys

from . import __version__
from ._explain_cli import add_explain_command
from ._predict_cli import add_predict_command
from ._study_cli import add_study_commands

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2


def _cmd_backbones(args) -> int:
    from .backbones import get_backbone, list_backbones

    rows = []
    for name in list_backbones(args.pattern):
        spec = get_backbone(name)
        rows.append(
            [
                name,
                str(spec.year or ""),
                f"{spec.n_params / 1e6:.1f}",
                f"{spec.n_params_features / 1e6:.1f}",
                str(spec.n_weight_layers),
                str(len(spec.block_group_names)),
                str(spec.feature_dim),
                "x".join(map(str, spec.input_size)),
                "yes" if spec.weights else "no",
            ]
        )
    header = ["model", "year", "params (M)", "FE params (M)", "weight layers",
              "blocks", "features", "input", "pretrained"]
    _print_table(header, rows)
    print(
        "\nparams: whole model with its ImageNet head; FE params: feature extractor "
        "only (head removed);\nweight layers: convolution + fully connected layers; "
        "blocks: groups for partial fine-tuning."
    )
    from .backbones import list_schemes

    print("\nName schemes (foundation models, medical weights):")
    _print_table(
        ["scheme", "example", "install"],
        [
            [
                s.prefix,
                s.example,
                f'pip install "skmedtl[{s.extra}]"' if s.extra else "(core)",
            ]
            for s in list_schemes()
        ],
    )
    return EXIT_OK


def _cmd_cache_info(args) -> int:
    import json
    import os

    from .cache import EmbeddingCache

    cache = EmbeddingCache(args.path, mode="r")
    if not os.path.exists(cache.path) and not os.path.exists(cache.journal_path):
        raise FileNotFoundError(f"No embedding cache at {cache.path}.")
    info = cache.info()
    print(json.dumps(info.to_dict(), indent=2) if args.json else info)
    return EXIT_OK


def _cmd_cache_prune(args) -> int:
    import os

    from .cache import EmbeddingCache

    cache = EmbeddingCache(args.path)
    if not os.path.exists(cache.path) and not os.path.exists(cache.journal_path):
        raise FileNotFoundError(f"No embedding cache at {cache.path}.")
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


def _print_table(header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(header)]
    line = "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))
    print(line)
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="skmedtl",
        description="Transfer learning for medical image classification.",
    )
    parser.add_argument("--version", action="version", version=f"skmedtl {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="log more (-v: info, -vv: debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("backbones", help="list the backbones (the review's Table 1)",
                       description="List registered backbones with parameter counts "
                       "computed from the real modules.")
    p.add_argument("pattern", nargs="?", default=None,
                   help="shell-style filter, e.g. 'resnet*'")
    p.set_defaults(func=_cmd_backbones)

    add_study_commands(sub)  # study, extract, demo
    add_predict_command(sub)
    add_explain_command(sub)

    p = sub.add_parser("cache", help="inspect and prune an embedding cache (HDF5)",
                       description="Maintain the HDF5 files written by "
                       "CNNFeatures(cache_path=...) / skmedtl.cache.EmbeddingCache.")
    cache_sub = p.add_subparsers(dest="cache_command", metavar="ACTION")
    p.set_defaults(func=lambda args, p=p: p.print_help() or EXIT_USAGE)
    q = cache_sub.add_parser("info", help="namespaces, rows, size and configuration",
                             description="Show every namespace (feature "
                             "configuration) of a cache: rows, size, configuration.")
    q.add_argument("path", help="the cache file, e.g. embeddings.h5")
    q.add_argument("--json", action="store_true", help="machine-readable output")
    q.set_defaults(func=_cmd_cache_info)
    q = cache_sub.add_parser("prune", help="delete namespaces and reclaim space",
                             description="Delete the namespaces that match every "
                             "selector given; the file is rewritten atomically.")
    q.add_argument("path", help="the cache file")
    q.add_argument("namespaces", nargs="*", metavar="NAMESPACE",
                   help="namespace names or unique prefixes (see `cache info`)")
    q.add_argument("--backbone", metavar="PATTERN",
                   help="shell-style backbone pattern, e.g. 'resnet*'")
    q.add_argument("--older-than", type=float, metavar="DAYS",
                   help="last written more than DAYS days ago")
    q.add_argument("--all", action="store_true", help="select every namespace")
    q.add_argument("--dry-run", action="store_true",
                   help="only list what would be deleted")
    q.set_defaults(func=_cmd_cache_prune)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``skmedtl`` command."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(args.verbose, 2)]
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except (ValueError, TypeError, FileNotFoundError, RuntimeError) as e:
        # User mistakes and missing weights: a message, not a traceback.
        print(f"skmedtl {args.command}: error: {e}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
