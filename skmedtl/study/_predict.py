"""Applying a saved model to image files: one row per image, failures included.

What ``skmedtl predict`` runs: image paths from files, folders and CSV lists,
each read and checked against the input the model was trained on, then
predicted in batches. An image that cannot be read or does not fit the model
gets a row with the reason in ``error``; nothing is dropped.
"""

from __future__ import annotations

import contextlib
import csv
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from ..utils._prefetch import prefetched
from ._task import Task

__all__ = [
    "collect_images",
    "predict_files",
    "prediction_columns",
]

logger = logging.getLogger(__name__)

_SYSTEM_FILES = {"thumbs.db", "desktop.ini", "icon\r"}
#: Batches per call of the model in :func:`predict_files`. One batch per call
#: left the engine nothing to overlap: preprocessing and network ran in turn
#: (+7% per image on 256 chest X-rays, benchmarks/predict/RESULTS.md).
CALL_BATCHES = 4
_PATH_COLUMNS = ("path", "image", "file", "filename")


def collect_images(inputs) -> list[str]:
    """Image paths from files, folders (recursively) and CSV files of paths.

    A ``.csv`` file is a list of images: its column ``path`` (or ``image``,
    ``file``, ``filename``), relative paths relative to the CSV file. Every
    other file is an image; a folder contributes every file under it except
    hidden and system files (files of unknown formats are kept, so that they
    are reported, not skipped). Repeated paths are predicted once.

    Raises
    ------
    FileNotFoundError
        For a path that does not exist.
    ValueError
        For a CSV without a path column, or when no file is found.
    """
    paths: list[str] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found = [
                os.fspath(f)
                for f in sorted(path.rglob("*"))
                if f.is_file()
                and not any(p.startswith(".") for p in f.relative_to(path).parts)
                and f.name.lower() not in _SYSTEM_FILES
            ]
            if not found:
                raise ValueError(f"--images: no files under the folder {path}.")
            paths += found
        elif path.is_file() and path.suffix.lower() == ".csv":
            paths += _csv_paths(path)
        elif path.is_file():
            paths.append(os.fspath(path))
        else:
            raise FileNotFoundError(f"--images: no such file or folder: {path}")
    unique = list(dict.fromkeys(paths))
    if len(unique) < len(paths):
        logger.info("%d repeated paths predicted once.", len(paths) - len(unique))
    if not unique:
        raise ValueError("--images: no images given.")
    return unique


def _csv_paths(path: Path) -> list[str]:
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        fields = reader.fieldnames or []
        column = next((c for c in _PATH_COLUMNS if c in fields), None)
        if column is None:
            raise ValueError(
                f"--images {path}: a CSV list of images needs a column named "
                f"'path' (or {', '.join(repr(c) for c in _PATH_COLUMNS[1:])}); its "
                f"columns are {fields}."
            )
        values = []
        for row in reader:
            value = (row.get(column) or "").strip()
            if not value:  # a row without a path: never dropped silently
                raise ValueError(
                    f"--images {path}, line {reader.line_num}: the {column!r} column "
                    "is empty. Give every row an image path, or delete the line."
                )
            values.append(value)
    if not values:
        raise ValueError(f"--images {path}: the column {column!r} is empty.")
    return [os.fspath(p if Path(p).is_absolute() else path.parent / p) for p in values]


def _calibrated(model) -> bool:
    return bool(getattr(model, "calibrated_", False))


def prediction_columns(model) -> list[str]:
    """The columns of :func:`predict_files`' rows for ``model`` (a StudyModel).

    A multi-label :class:`StudyModel`: ``path``, ``predicted_labels`` (the
    labels present, ``;``-joined), ``p_<label>`` (the model's own
    probability), ``decision_<label>`` (0/1 at the label's validation
    threshold), ``p_calibrated_<label>`` when the study recalibrated, and
    ``error``.
    """
    if Task.of_model(model).per_label:
        names = list(model.labels_)
        columns = [
            "path",
            "predicted_labels",
            *[f"p_{c}" for c in names],
            *[f"decision_{c}" for c in names],
        ]
        if _calibrated(model):
            columns += [f"p_calibrated_{c}" for c in names]
        return [*columns, "error"]
    labels = [str(c) for c in model.classes_.tolist()]
    columns = [
        "path",
        "predicted_label",
        "predicted_class",
        "decision_label",
        "decision_class",
        *[f"p_{c}" for c in labels],
    ]
    if getattr(model, "calibrator", None) is not None:
        columns += [f"p_calibrated_{c}" for c in labels]
    return [*columns, "error"]


def _channel_text(n: int) -> str:
    return {
        1: "1 channel (greyscale)",
        3: "3 channels (RGB)",
        4: "4 channels (RGBA)",
    }.get(n, f"{n} channels")


def check_input(array: np.ndarray, expected: dict | None) -> str | None:
    """Why an image does not fit the model's expected input (None: it fits)."""
    from ._save import image_channels

    if not expected or not expected.get("channels"):
        return None
    channels = image_channels(array)
    allowed = expected["channels"]
    if channels in allowed:
        return None
    wanted = " or ".join(_channel_text(c) for c in allowed)
    fix = (
        "convert it to greyscale (e.g. PIL's Image.convert('L')) first"
        if allowed == [1]
        else "convert it to the channels the model was trained on first"
    )
    return (
        f"the image has {_channel_text(channels)}, but the model was trained on "
        f"images with {wanted} (intensity policy "
        f"{expected.get('intensity', 'auto')!r}); {fix}, or use a model trained on "
        "such images."
    )


def predict_files(
    model,
    paths: list[str],
    *,
    expected_input: dict | None = None,
    batch_size: int = 32,
    verbose: int = 1,
) -> tuple[list[dict], list[str]]:
    """Predict every image file; unreadable or unfitting ones get an ``error``.

    Parameters
    ----------
    model : StudyModel
        A model saved by a study (``skmedtl.load("study/model")``).
    paths : list of str
    expected_input : dict, optional
        The saved model's ``metadata["input"]`` (channels, dtypes, intensity
        policy of the training images): images with other channels are not
        predicted (their ``error`` says why); other bit depths are warned about.
    batch_size : int, default=32
        Images per batch. The model gets :data:`CALL_BATCHES` batches per call,
        so that its own read-ahead preprocesses batch ``k + 1`` while its network
        runs on batch ``k``; the next call's images are read and checked on a
        thread meanwhile. At most two calls' decoded images are held, however
        many files there are.
    verbose : int, default=1
        0 hides the progress bar.

    Returns
    -------
    rows : list of dict
        One per path, in order, with the keys of :func:`prediction_columns`.
    warnings : list of str
        Input mismatches that did not stop a prediction (bit depth).
    """
    fill = _row_filler(model)
    dtypes = set((expected_input or {}).get("dtypes") or [])
    other_dtypes: dict[str, int] = {}
    rows: list[dict] = [{"path": p, "error": ""} for p in paths]
    step = batch_size * CALL_BATCHES
    spans = [
        range(start, min(start + step, len(paths)))
        for start in range(0, len(paths), step)
    ]

    def read(span: range) -> _Batch:
        return _read_batch(paths, span, expected_input)

    bar = tqdm(total=len(paths), desc="predict", unit="img", disable=verbose <= 0)
    # Batch k + 1 is read and checked on a thread while batch k is predicted; the
    # model gets the decoded arrays, not the paths: each file is read once.
    with bar, contextlib.closing(prefetched(read, spans)) as batches:
        for batch in batches:
            for i, reason in batch.errors.items():
                rows[i]["error"] = reason
            for dtype in batch.dtypes:
                if dtypes and dtype not in dtypes:
                    other_dtypes[dtype] = other_dtypes.get(dtype, 0) + 1
            for i, raw, final in _predict(model, batch.arrays, batch.ready, rows):
                rows[i].update(fill(raw, final))
            bar.update(len(batch.span))
    return rows, _dtype_notes(other_dtypes, dtypes, expected_input)


@dataclass
class _Batch:
    """One batch of files, read and checked: what is predicted, and why not.

    Attributes
    ----------
    span : range
        The indices of the batch's paths.
    ready : list of int
        The indices of the images that fit the model, in order.
    arrays : list of ndarray
        Their decoded arrays (one per ``ready`` index).
    dtypes : list of str
        Their bit depths (one per ``ready`` index).
    errors : dict
        ``index -> reason`` for the files that could not be read or do not fit.
    """

    span: range
    ready: list[int] = field(default_factory=list)
    arrays: list[np.ndarray] = field(default_factory=list)
    dtypes: list[str] = field(default_factory=list)
    errors: dict[int, str] = field(default_factory=dict)


def _read_batch(paths: list[str], span: range, expected_input: dict | None) -> _Batch:
    """Read and check ``paths[span]``; a missing reader's ImportError is raised."""
    from ..io import read_image

    batch = _Batch(span)
    for i in span:
        try:
            array = read_image(paths[i])
        except ImportError:
            raise
        except Exception as e:  # noqa: BLE001 - reported per image
            batch.errors[i] = _reason(e)
            continue
        problem = check_input(array, expected_input)
        if problem is not None:
            batch.errors[i] = problem
            continue
        batch.ready.append(i)
        batch.arrays.append(array)
        batch.dtypes.append(str(array.dtype))
    return batch


def _row_filler(model):
    """``fill(raw, final) -> dict``: one image's columns for ``model``."""
    calibrated = _calibrated(model)
    if Task.of_model(model).per_label:
        labels, thresholds = list(model.labels_), model.thresholds_
        return lambda raw, final: _per_label_row(
            labels, raw, final if calibrated else None, thresholds
        )
    labels = [str(c) for c in model.classes_.tolist()]
    names = list(getattr(model, "class_names_", labels))
    threshold = getattr(model, "threshold_", None)

    def fill(raw, final) -> dict:
        top = int(np.argmax(raw))
        if threshold is not None and len(labels) == 2:
            decision = int(final[1] >= threshold)
        else:
            decision = top
        row = {
            "predicted_label": labels[top],
            "predicted_class": names[top],
            "decision_label": labels[decision],
            "decision_class": names[decision],
            **{f"p_{c}": float(v) for c, v in zip(labels, raw, strict=True)},
        }
        if calibrated:
            row.update(
                {
                    f"p_calibrated_{c}": float(v)
                    for c, v in zip(labels, final, strict=True)
                }
            )
        return row

    return fill


def _dtype_notes(other_dtypes: dict, dtypes: set, expected_input) -> list[str]:
    """A warning per bit depth the model was not trained on."""
    policy = (expected_input or {}).get("intensity", "auto")
    return [
        f"{n} image(s) are {dtype} but the model was trained on "
        f"{' / '.join(sorted(dtypes))} images: their intensities are mapped by the "
        f"policy {policy!r}, which may not match what the model saw; check that "
        "they come from the same kind of source."
        for dtype, n in sorted(other_dtypes.items())
    ]


def _per_label_row(labels, raw, final, thresholds) -> dict:
    """One image's multi-label columns: probabilities and 0/1 decisions."""
    present = np.asarray(raw) >= np.asarray(thresholds)
    row = {
        "predicted_labels": ";".join(
            c for c, v in zip(labels, present, strict=True) if v
        )
    }
    row.update({f"p_{c}": float(v) for c, v in zip(labels, raw, strict=True)})
    row.update({f"decision_{c}": int(v) for c, v in zip(labels, present, strict=True)})
    if final is not None:
        row.update(
            {f"p_calibrated_{c}": float(v) for c, v in zip(labels, final, strict=True)}
        )
    return row


def _predict(model, images: list, index: list[int], rows: list[dict]):
    """``(row index, raw proba, final proba)`` per image; failures go to ``error``."""
    if not images:
        return []
    try:
        raw = model.predict_proba(images, calibrated=False)
        # The images go through the network once: recalibrated from ``raw``.
        final = model.recalibrate(raw) if _calibrated(model) else raw
        return list(zip(index, raw, final, strict=True))
    except Exception as e:  # noqa: BLE001 - one bad image must not sink the batch
        if len(images) == 1:
            rows[index[0]]["error"] = _reason(e)
            return []
        logger.info("A batch failed (%s); predicting its images one by one.", e)
        out = []
        for i, image in zip(index, images, strict=True):
            out += _predict(model, [image], [i], rows)
        return out


def _reason(error: Exception) -> str:
    reason = getattr(error, "reason", None) or str(error) or type(error).__name__
    return f"{type(error).__name__}: {reason}"
