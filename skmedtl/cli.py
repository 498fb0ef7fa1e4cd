"""The ``skmedtl`` command line: a thin layer over the public API."""

from __future__ import annotations

import argparse
import logging
import sys

from . import __version__

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
        "blocks: groups for partial fine-tuning.\nAny timm model is also available "
        "as 'timm:<name>'."
    )
    return EXIT_OK


def _cmd_demo(args) -> int:
    from ._demo import run_demo

    print(f"skmedtl {__version__} demo: frozen {args.backbone} features + SVM on "
          "BreastMNIST (bundled; MedMNIST v2, CC BY 4.0)")
    result = run_demo(args.backbone, batch_size=args.batch_size, device=args.device,
                      verbose=0 if args.quiet else 1)
    print(f"train images: {result['n_train']}, test images: {result['n_test']}, "
          f"features: {result['n_features']}")
    print(f"test accuracy:          {result['accuracy']:.3f}")
    print(f"test balanced accuracy: {result['balanced_accuracy']:.3f}")
    print(f"test AUC:               {result['auc']:.3f}")
    print("time per step:")
    for step, seconds in result["seconds"].items():
        print(f"  {step:<18} {seconds:7.2f} s")
    return EXIT_OK


def _print_table(header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(header)]
    line = "  ".join(h.ljust(w) for h, w in zip(header, widths))
    print(line)
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)))


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

    p = sub.add_parser("demo", help="run a transfer-learning job on bundled data, offline",
                       description="Frozen ImageNet features + SVM on the bundled "
                       "BreastMNIST; prints test accuracy, AUC and timings.")
    p.add_argument("--backbone", default="efficientnet_lite0",
                   help="backbone name (default: efficientnet_lite0, weights ship "
                   "with skmedtl)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--device", default="auto")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_cmd_demo)
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
