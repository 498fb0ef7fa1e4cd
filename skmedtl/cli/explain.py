"""``skmedtl explain``: saliency maps of a saved model, one overlay per image."""

from __future__ import annotations

import argparse
import json
import logging
import math
from pathlib import Path

from .._constants import (
    CAM_PLACEMENTS,
    DEFAULT_CAM_PLACEMENT,
    DEFAULT_SALIENCY_METHOD,
    SALIENCY_METHODS,
)
from ._base import EXIT_OK, check_writable, command_parser
from ._common import MODEL_PARAMS, OUTPUT_PARAMS, QUIET, load_model_flags
from ._params import REQUIRED, Param, add_params, choice, positive_int

logger = logging.getLogger(__name__)

#: The methods that read a feature map (and so take --layer).
CAM_METHODS = ("gradcam", "gradcam++", "hirescam", "layercam")
#: The file explain keeps in ``--out``: the maps it wrote (its own, which a
#: rerun may replace; any other file there needs --overwrite).
MARKER = "explain.json"


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


#: The flags of ``skmedtl explain``: ``saliency``'s keywords and the command's own.
EXPLAIN_PARAMS = [
    *MODEL_PARAMS,
    Param("images", "--images", default=REQUIRED, nargs="+", metavar="IMAGE",
          help="image files (PNG, JPEG, TIFF, DICOM, NIfTI, .npy)"),
    Param("out", "--out", default=REQUIRED, metavar="DIR", help="output folder"),
    *OUTPUT_PARAMS,
    Param("method", "--method", type=choice(SALIENCY_METHODS),
          default=DEFAULT_SALIENCY_METHOD,
          metavar="{" + ",".join(SALIENCY_METHODS) + "}",
          help="CAM family (gradcam, gradcam++, hirescam, layercam) and gradient "
          "methods (gradxinput, integrated_gradients) for networks and linear "
          "hybrids; occlusion for any model; default: "
          f"{DEFAULT_SALIENCY_METHOD}"),
    Param("layer", "--layer", metavar="NAME",
          help="CAM layer: a block group or module name, or 'multiscale' (the "
          "default of layercam: the maps at strides 8, 16 and the last); "
          "default: the method's own"),
    Param("placement", "--placement", type=choice(CAM_PLACEMENTS),
          default=DEFAULT_CAM_PLACEMENT,
          help="CAM: where the feature map's cells sit on the image: 'measured' "
          "(where the network's cells respond, measured once per model and "
          "input size) or 'traced' (the architecture's grid); default: "
          f"{DEFAULT_CAM_PLACEMENT}"),
    Param("target", "--target", metavar="LABEL",
          help="class to explain (default: the predicted class; the positive "
          "class for two classes)"),
    Param("patch_size", "--patch-size", type=positive_int, metavar="PX",
          help="occlusion: patch size in pixels (default: 1/8 of the shorter side)"),
    Param("stride", "--stride", type=positive_int, metavar="PX",
          help="occlusion: step in pixels (default: half the patch)"),
    Param("fill", "--fill", type=_fill, default="mean", metavar="VALUE",
          help="occlusion: 'mean', 'min' or a number within the images' range "
          "(default: mean)"),
    Param("alpha", "--alpha", type=_alpha, default=0.5, metavar="A",
          help="opacity of the heat map (default: 0.5)"),
    QUIET,
]


def add_parser(subparsers, parents: list) -> None:
    """Register ``skmedtl explain``."""
    p = command_parser(
        subparsers, "explain", parents,
        help="saliency maps (Grad-CAM, occlusion) of a saved model",
        description="Explain a fitted model's predictions on image files: writes "
        "OUT/<image>.png (the image with its heat map) and OUT/<image>.npy (the "
        "map in [0, 1], in the image's own pixels). --model is a folder written "
        "by skmedtl.save (a study's DIR/model); a pickle file needs "
        "--allow-pickle, since unpickling runs code.",
    )
    add_params(p, EXPLAIN_PARAMS)
    p.set_defaults(run=run, flags={q.name: q for q in EXPLAIN_PARAMS})


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


def _own_files(out: Path) -> set[str]:
    """The files a previous ``explain`` wrote in ``out`` (its marker's list)."""
    try:
        marker = json.loads((out / MARKER).read_text(encoding="utf-8"))
        return {str(name) for name in marker.get("files", [])}
    except (OSError, ValueError, AttributeError):
        return set()


def check_explain_outputs(args) -> list[Path]:
    """The output files, each checked by the one output rule, before any work."""
    from ..utils._outputs import check_output

    for p in args.images:
        if Path(p).is_dir():
            raise IsADirectoryError(
                f"--images {p} is a folder; give image files (e.g. {p}/*.png)."
            )
        if not Path(p).is_file():
            raise FileNotFoundError(f"--images {p}: no such image file.")
    if args.layer is not None and args.method not in CAM_METHODS:
        raise ValueError(
            f"--layer is for the CAM methods ({', '.join(CAM_METHODS)}), not "
            f"--method {args.method}."
        )
    if args.placement != DEFAULT_CAM_PLACEMENT and args.method not in CAM_METHODS:
        raise ValueError(
            f"--placement is for the CAM methods ({', '.join(CAM_METHODS)}), not "
            f"--method {args.method}."
        )
    if args.method != "occlusion" and (
        args.patch_size is not None or args.stride is not None
    ):
        raise ValueError("--patch-size and --stride are for --method occlusion.")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"--out {out} is a file; give a folder for the maps.")
    inputs = [("--images", p) for p in args.images] + [("--model", args.model)]
    check_output(out, flag="--out", inputs=[("--model", args.model)],
                 overwrite=True)
    own = _own_files(out)
    files = []
    for stem in _names(args.images):
        for suffix in (".png", ".npy"):
            file = out / f"{stem}{suffix}"
            check_output(file, flag="--out", inputs=inputs,
                         is_own=lambda f: f.name in own, overwrite=args.overwrite)
            files.append(file)
    check_output(out / MARKER, flag="--out", inputs=inputs,
                 is_own=lambda f: f.name == MARKER, overwrite=args.overwrite)
    check_writable("--out", out)
    return files


def run(args) -> int:
    import numpy as np
    from PIL import Image

    from ..explain import saliency
    from ..explain._models import resolve_model
    from ..explain._plot import blend
    from ..utils._files import atomic_path, atomic_write_text

    check_explain_outputs(args)
    model, _ = load_model_flags(args)
    explained = resolve_model(model)
    params = {}
    if args.method == "occlusion":
        params = {"patch_size": args.patch_size, "stride": args.stride,
                  "fill": args.fill}
    maps = saliency(
        model, list(args.images), args.method, target=_target(args.target, model),
        layer=args.layer,
        placement=args.placement if args.method in CAM_METHODS else None,
        batch_size=args.batch_size, verbose=QUIET.value(args), **params,
    )
    images = explained.read(list(args.images))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    written = sorted(_own_files(out))
    for i, (path, stem) in enumerate(zip(args.images, _names(args.images),
                                         strict=True)):
        rgb = blend(images[i], maps[i], alpha=args.alpha)
        with atomic_path(out / f"{stem}.png", suffix=".part") as tmp:
            Image.fromarray(rgb).save(tmp, format="PNG")
        with atomic_path(out / f"{stem}.npy", suffix=".part") as tmp:
            with open(tmp, "wb") as f:
                np.save(f, np.asarray(maps[i], dtype=np.float32))
        written = sorted({*written, f"{stem}.png", f"{stem}.npy"})
        atomic_write_text(out / MARKER, json.dumps(
            {"command": "skmedtl explain", "files": written}, indent=1))
        print(f"{path} -> {out / (stem + '.png')}")
    return EXIT_OK
