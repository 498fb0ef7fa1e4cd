"""``skmedtl backbones``: the registered backbones (the review's Table 1)."""

from __future__ import annotations

from ._base import EXIT_OK, command_parser
from ._params import Param, add_params

#: ``skmedtl backbones``: list_backbones' filter.
BACKBONES_PARAMS = [
    Param("pattern", "pattern", nargs="?", default=None, metavar="PATTERN",
          help="shell-style filter, e.g. 'resnet*'"),
]


def add_parser(subparsers, parents: list) -> None:
    p = command_parser(
        subparsers, "backbones", parents,
        help="list the backbones (the review's Table 1)",
        description="List registered backbones with parameter counts computed from "
        "the real modules.",
    )
    add_params(p, BACKBONES_PARAMS)
    p.set_defaults(run=run, flags={q.name: q for q in BACKBONES_PARAMS})


def run(args) -> int:
    from ..backbones import get_backbone, list_backbones

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
    if not rows:
        raise ValueError(
            f"No backbone matches {args.pattern!r}. Run `skmedtl backbones` for "
            "the list and the name schemes (e.g. 'timm:<name>')."
        )
    header = ["model", "year", "params (M)", "FE params (M)", "weight layers",
              "blocks", "features", "input", "pretrained"]
    print_table(header, rows)
    print(
        "\nparams: whole model with its ImageNet head; FE params: feature extractor "
        "only (head removed);\nweight layers: convolution + fully connected layers; "
        "blocks: groups for partial fine-tuning."
    )
    from ..backbones import list_schemes

    print("\nName schemes (foundation models, medical weights):")
    print_table(
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


def print_table(header: list[str], rows: list[list[str]]) -> None:
    """Left-aligned columns under a header and a rule."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(header)]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
