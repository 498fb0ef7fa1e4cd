"""``predictions.csv``: every test prediction of every finished cell."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np

from ..utils._files import atomic_path
from ._task import prediction_columns

__all__ = ["PREDICTION_COLUMNS", "write_predictions"]

#: The fixed columns of ``predictions.csv`` (then the task's columns: see
#: :func:`skmedtl.study._task.prediction_columns`).
PREDICTION_COLUMNS = [
    "config",
    "backbone",
    "approach",
    "seed",
    "cell_key",
    "index",
    "image",
    "true_label",
    "predicted_label",
]


def write_predictions(path: Path, records: list[dict], images) -> None:
    """``predictions.csv``: one row per test image x finished cell (x seed).

    Probabilities are written with Python's ``repr``, so the report's metrics
    recompute exactly from the file. ``image`` is the image's path when the
    data set has paths.
    """
    if not records:
        return
    task = prediction_columns(records)
    paths = images is not None and not isinstance(images, np.ndarray)
    with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(PREDICTION_COLUMNS + task.header())
        for r in records:
            config = f"{r['backbone']} / {r['approach']}"
            fixed = [config, r["backbone"], r["approach"], r["seed"], r["key"]]
            for i, index in enumerate(r["test_index"]):
                item = images[index] if paths else None
                image = os.fspath(item) if isinstance(item, (str, os.PathLike)) else ""
                writer.writerow(
                    [*fixed, index, image, *task.labels(r, i), *task.cells(r, i)]
                )
