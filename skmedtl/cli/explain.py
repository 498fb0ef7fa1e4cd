"""``skmedtl explain``: saliency maps of a saved model, one overlay per image."""

from __future__ import annotations

import argparse
import logging
import math
import os
from pathlib import Path

from .._constants import SALIENCY_METHODS
from ._base import EXIT_OK, check_writable, command_parser

logger = logging.getLogger(__name__)


def load_model(path: str | os.PathLike):
    """A fitted model from a pickle / joblib file (or a ``skmedtl.save`` folder).

    Only load files you trust: unpickling runs code.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"No model at {path}.")
    if path.is_dir():
        import skmedtl

        if not hasattr(skmedtl, "load"):
            raise ValueError(
                f"{path} is a folder; pass a model saved with pickle or joblib "
                "(e.g. joblib.dump(model, 'model.pkl'))."
            )
        return skmedtl.load(path)
    import joblib

    try:
        return joblib.load(path)
    except Exception as e:  # not a pickle, or classes missing here
        raise ValueError(
            f"Could not load a model from {path}: {e}. Save fitted models with "
            "pickle or joblib (joblib.dump(model, 'model.pkl'))."
        ) from e


def _target(value: str | None, model):
    """The ``--target`` string as one of the model's class labels."""
    if value is None:
        return None
    from ..explain._models import resolve_model

    classes = resolve_model(model).classes
    for label in classes.tolist():
        if str(label) == value:
            return label
    raise ValueError(
        f"--target {value!r} is not a class of the model; classes are "
        f"{[str(c) for c in classes.tolist()]}."
    )


def _names(paths: list[str]) -> list[str]:
    """Output file stems: the image's stem, numbered when two images share it."""
    stems = [Path(p).name.split(".")[0] or "image" for p in paths]
    seen: dict[str, int] = {}
    out = []
    for stem in stems:
        if stems.count(stem) > 1:
            seen[stem] = seen.get(stem, 0) + 1
            stem = f"{stem}_{seen[stem]}"
        out.append(stem)
    return out


def cmd_explain(args) -> int:
    import numpy as np
    from PIL import Image

    from ..explain import saliency
    from ..explain._models import resolve_model
    from ..explain._plot import blend

    for p in args.images:
        if Path(p).is_dir():
            raise IsADirectoryError(
                f"--images {p} is a folder; give image files (e.g. {p}/*.png)."
            )
        if not Path(p).is_file():
            raise FileNotFoundError(f"No image at {p}.")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"--out {out} is a file; give a folder for the maps.")
    check_writable("--out", out)
    model = load_model(args.model)
    explained = resolve_model(model)
    out.mkdir(parents=True, exist_ok=True)
    params = {}
    if args.method == "occlusion":
        params = {"patch_size": args.patch_size, "stride": args.stride,
                  "fill": args.fill}
    elif args.patch_size is not None or args.stride is not None:
        raise ValueError("--patch-size and --stride are for --method occlusion.")
    maps = saliency(
        model, list(args.images), args.method, target=_target(args.target, model),
        batch_size=args.batch_size, verbose=1, **params,
    )
    images = explained.read(list(args.images))
    for i, (path, stem) in enumerate(zip(args.images, _names(args.images),
                                         strict=True)):
        rgb = blend(images[i], maps[i], alpha=args.alpha)
        Image.fromarray(rgb).save(out / f"{stem}.png")
        np.save(out / f"{stem}.npy", np.asarray(maps[i], dtype=np.float32))
        print(f"{path} -> {out / (stem + '.png')}")
    return EXIT_OK


def _fill(text: str) -> str | float:
    if text in ("mean", "min"):
        return text
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected 'mean', 'min' or a number; got {text!r}"
        ) from None


def _alpha(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 <= value <= 1:  # NaN fails too
        raise argparse.ArgumentTypeError(
            f"expected an opacity between 0 and 1 (e.g. 0.5); got {text!r}"
        )
    return value


def add_parser(subparsers, parents: list) -> None:
    """Register ``skmedtl explain``."""
    p = command_parser(
        subparsers, "explain", parents,
        help="saliency maps (Grad-CAM, occlusion) of a saved model",
        description="Explain a fitted model's predictions on image files: writes "
        "OUT/<image>.png (the image with its heat map) and OUT/<image>.npy (the "
        "map in [0, 1], in the image's own pixels). Only load model files you "
        "trust: unpickling runs code.",
    )
    p.add_argument("--model", required=True, metavar="PATH",
                   help="a fitted model saved with pickle or joblib")
    p.add_argument("--images", required=True, nargs="+", metavar="IMAGE",
                   help="image files (PNG, JPEG, TIFF, DICOM, NIfTI, .npy)")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument("--method", default="gradcam", choices=SALIENCY_METHODS,
                   help="gradcam, gradcam++, hirescam (networks, linear hybrids) "
                   "or occlusion (any model); default: gradcam")
    p.add_argument("--target", default=None, metavar="LABEL",
                   help="class to explain (default: the predicted class; the "
                   "positive class for two classes)")
    p.add_argument("--patch-size", type=int, default=None, metavar="PX",
                   help="occlusion: patch size in pixels (default: 1/8 of the "
                   "shorter side)")
    p.add_argument("--stride", type=int, default=None, metavar="PX",
                   help="occlusion: step in pixels (default: half the patch)")
    p.add_argument("--fill", default="mean", type=_fill,
                   help="occlusion: 'mean', 'min' or a number (default: mean)")
    p.add_argument("--alpha", type=_alpha, default=0.5,
                   help="opacity of the heat map (default: 0.5)")
    p.add_argument("--batch-size", type=int, default=32, metavar="N",
                   help="images (or occluded copies) per batch (default: 32)")
    p.set_defaults(run=cmd_explain, flags={
        "method": "--method", "target": "--target", "patch_size": "--patch-size",
        "stride": "--stride", "fill": "--fill", "alpha": "--alpha",
        "batch_size": "--batch-size",
    })


