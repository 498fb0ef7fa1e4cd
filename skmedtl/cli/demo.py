"""``skmedtl demo``: the study on the bundled BreastMNIST, offline."""

from __future__ import annotations

from ._base import command_parser
from ._params import Param, add_params, kwargs_from, pick
from .study import STUDY_PARAMS, check_outputs, run_study

#: make_demo_study's parameters, as flags (rows of the study's table reused).
DEMO_PARAMS = [
    *pick(
        STUDY_PARAMS, "approaches", "device", "batch_size", "verbose",
        out_dir={"default": "skmedtl-demo",
                 "help": "output folder (default: ./skmedtl-demo)"},
    ),
    Param("backbone", "--backbone", default="efficientnet_lite0",
          help="backbone name (default: efficientnet_lite0, weights ship with "
          "skmedtl)"),
]
#: How the command runs (not make_demo_study's parameters).
DEMO_RUN_PARAMS = pick(STUDY_PARAMS, "overwrite")


def add_parser(subparsers, parents: list) -> None:
    p = command_parser(
        subparsers, "demo", parents,
        help="the transfer-learning study on bundled BreastMNIST, offline",
        description="`skmedtl study --dataset breastmnist --profile quick` with "
        "the EfficientNet-Lite0 ImageNet weights that ship with skmedtl: every "
        "approach of the review, its test ACC / AUC and cost, and a report. Needs "
        "no network; minutes on a laptop CPU.",
    )
    add_params(p, DEMO_PARAMS)
    add_params(p, DEMO_RUN_PARAMS)
    p.set_defaults(run=run, flags={q.name: q for q in DEMO_PARAMS + DEMO_RUN_PARAMS})


def run(args) -> int:
    from .. import __version__
    from .._demo import make_demo_study

    check_outputs(args.out, overwrite=args.overwrite)
    print(
        f"skmedtl {__version__} demo: the transfer-learning study on BreastMNIST "
        "(bundled; MedMNIST v2, CC BY 4.0), quick profile, offline"
    )
    study = make_demo_study(**kwargs_from(args, DEMO_PARAMS))
    study.overwrite = args.overwrite  # the study applies the same output rule
    return run_study(study)
