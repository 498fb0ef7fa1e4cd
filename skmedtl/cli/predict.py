"""``skmedtl predict``: a saved model (a study's ``DIR/model``) on new images.

Nothing heavy is imported at module level, so ``skmedtl --help`` stays fast.
"""

from __future__ import annotations

import argparse
import csv
import logging
import os
import sys
from pathlib import Path

from ._base import EXIT_ERROR, EXIT_OK, check_writable, command_parser
from ._common import MODEL_PARAMS, OUTPUT_PARAMS, QUIET, load_model_flags
from ._params import REQUIRED, Param, add_params

#: Some images could not be predicted (each is a row with its reason).
EXIT_FAILED = EXIT_ERROR

logger = logging.getLogger(__name__)

_EPILOG = """\
examples:
  skmedtl study --dataset images/ --out study        # saves study/model/
  skmedtl predict --model study/model --images new_cases/ --out predictions.csv
  skmedtl predict --model study/model --images scan.dcm    # a table on the terminal
  skmedtl predict --model study/model --images list.csv    # a CSV with a 'path' column

One row per image: path, the most probable class (predicted_*), the decision at
the operating point chosen on validation (decision_*; two classes), per-class
probabilities (p_<class>, and p_calibrated_<class> when the study recalibrated),
and error: why an image could not be predicted (unreadable, wrong channels).
A multi-label model (several findings per image) gives per label p_<label>,
decision_<label> (0/1 at the label's threshold chosen on validation) and
p_calibrated_<label>, and predicted_labels: the labels present, ';'-joined.
Exit status: 0 all predicted, 1 some images failed (listed), 2 usage errors.
"""


#: The flags of ``skmedtl predict``.
PREDICT_PARAMS = [
    *MODEL_PARAMS,
    Param("images", "--images", default=REQUIRED, nargs="+", metavar="PATH",
          help="image files, folders, or .csv files with a 'path' column"),
    Param("out", "--out", metavar="CSV",
          help="write the rows here (default: print a table)"),
    *OUTPUT_PARAMS,
    QUIET,
]


def add_parser(subparsers, parents: list) -> None:
    p = command_parser(
        subparsers,
        "predict",
        parents,
        help="apply a saved model (e.g. a study's DIR/model) to new images",
        description="Predict images with a model saved by `skmedtl study` (or "
        "skmedtl.save): files, folders (recursively) or CSV lists of paths, read "
        "like the training images; batched, with a progress bar.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_params(p, PREDICT_PARAMS)
    p.set_defaults(run=run, flags={q.name: q for q in PREDICT_PARAMS})


def _is_own_csv(path: Path) -> bool:
    """Whether ``path`` is a CSV that predict wrote (its header is predict's)."""
    try:
        with open(path, newline="", encoding="utf-8") as f:
            header = next(csv.reader(f), [])
    except (OSError, UnicodeDecodeError, csv.Error):
        return False
    return (
        len(header) >= 3
        and header[0] == "path"
        and header[-1] == "error"
        and any(c.startswith("p_") for c in header)
    )


def check_predict_outputs(args) -> None:
    """``--out`` by the one output rule, before any model or image is read."""
    if not args.out:
        return
    from ..utils._outputs import check_output

    if os.path.isdir(args.out):
        raise IsADirectoryError(
            f"--out {args.out} is a folder; give a file name, e.g. "
            f"{os.path.join(args.out, 'predictions.csv')}."
        )
    inputs = [("--images", p) for p in args.images] + [("--model", args.model)]
    check_output(args.out, flag="--out", inputs=inputs, is_own=_is_own_csv,
                 overwrite=args.overwrite)
    check_writable("--out", Path(os.path.abspath(args.out)).parent, args.out)


def run(args) -> int:
    from ..study._model import MultiLabelStudyModel, StudyModel
    from ..study._predict import collect_images, predict_files, prediction_columns

    check_predict_outputs(args)
    paths = collect_images(args.images)
    model, metadata = load_model_flags(args)
    if not isinstance(model, (StudyModel, MultiLabelStudyModel)):
        if not hasattr(model, "predict_proba"):
            raise TypeError(
                f"--model {args.model} holds a {type(model).__name__}, which does "
                "not predict classes; give a classifier (e.g. a study's DIR/model)."
            )
        from sklearn.exceptions import NotFittedError
        from sklearn.utils.validation import check_is_fitted

        try:
            check_is_fitted(model)
        except NotFittedError:
            raise ValueError(
                f"--model {args.model} holds a {type(model).__name__} that is not "
                "fitted; save the model after fit (skmedtl.save(model.fit(X, y), "
                "path)), or use a study's DIR/model."
            ) from None
        if isinstance(getattr(model, "classes_", None), list):  # multi-label
            model = MultiLabelStudyModel(
                model, thresholds=getattr(model, "thresholds_", 0.5)
            ).fit()
        else:
            model = StudyModel(model).fit()
    rows, notes = predict_files(
        model,
        paths,
        expected_input=metadata.get("input"),
        batch_size=args.batch_size,
        verbose=QUIET.value(args),
    )
    columns = prediction_columns(model)
    if args.out:
        _write_csv(args.out, rows, columns)
    else:
        _print_rows(rows, columns)
    failed = [r for r in rows if r["error"]]
    for note in notes:
        print(f"warning: {note}", file=sys.stderr)
    print(
        f"{len(rows)} image(s): {len(rows) - len(failed)} predicted, {len(failed)} "
        "failed" + (f"; written to {args.out}" if args.out else ""),
        file=sys.stderr,
    )
    for r in failed:
        print(f"  {r['path']}: {r['error']}", file=sys.stderr)
    return EXIT_FAILED if failed else EXIT_OK


def _cell(value) -> str:
    if isinstance(value, float):
        return repr(value)
    return "" if value is None else str(value)


def _write_csv(path: str, rows: list[dict], columns: list[str]) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    from ..utils._files import atomic_path

    with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(columns)
        for r in rows:
            writer.writerow([_cell(r.get(c)) for c in columns])


def _print_rows(rows: list[dict], columns: list[str]) -> None:
    shown = [c for c in columns if c not in ("predicted_label", "decision_label")]

    def text(row, c):
        v = row.get(c)
        return f"{v:.4f}" if isinstance(v, float) else ("" if v is None else str(v))

    table = [[text(r, c) for c in shown] for r in rows]
    widths = [
        max(len(h), *(len(t[i]) for t in table)) if table else len(h)
        for i, h in enumerate(shown)
    ]
    widths[-1] = len(shown[-1])  # error: no padding
    print("  ".join(h.ljust(w) for h, w in zip(shown, widths, strict=True)).rstrip())
    for t in table:
        print("  ".join(v.ljust(w) for v, w in zip(t, widths, strict=True)).rstrip())
