"""Tiny studies of each task whose outputs are pinned in ``tests/study/golden/``.

``python -m tests.study._golden`` rewrites the golden files from the current code
(do it only when a change of results is intended, and say so in the commit).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

GOLDEN = Path(__file__).parent / "golden"
TASKS = ("binary", "multiclass", "ordinal", "multilabel")
#: results.csv columns that measure the machine (time, memory), not the results.
COST_COLUMNS = (
    "time",
    "extract_s",
    "train_s",
    "total_s",
    "inference",
    "memory",
    "peak",
    "device",
)


def _images(rng, n, k):
    labels = np.arange(n) % k
    images = rng.integers(60, 200, (n, 16, 16)).astype(np.uint8)
    for c in range(k):  # a faint patch per class: the metrics are not all 1
        images[labels == c, 2 + 4 * c : 6 + 4 * c, 4:12] += 25
    return images, labels


def dataset(task: str):
    """The tiny data set of ``task``."""
    from skmedtl.study import StudyDataset

    rng = np.random.default_rng(0)
    if task == "multilabel":
        from tests.multilabel._synthetic import make_multilabel

        sizes = enumerate((32, 16, 24))
        parts = [make_multilabel(n, seed=s, size=16) for s, n in sizes]
        images = np.concatenate([p[0] for p in parts])
        labels = np.concatenate([p[1] for p in parts])
        split = np.repeat(["train", "val", "test"], [32, 16, 24])
        return StudyDataset.from_arrays(images, labels, split=split)
    k = 2 if task == "binary" else 3
    images, labels = _images(rng, 48, k)
    return StudyDataset.from_arrays(images, labels, random_state=0)


def study_args(task: str) -> dict:
    """Keyword arguments of the tiny study of ``task``."""
    approaches = ["hybrid-logreg", "hybrid-svm", "full"]
    if task == "multilabel":
        approaches = ["hybrid-logreg", "hybrid-svm", "fine_tune:1"]
    args = dict(
        backbones=["lenet5"],
        approaches=approaches,
        weights=None,
        input_size=32,
        train_input_size=32,
        max_epochs=1,
        n_bootstraps=30,
        seeds=2 if task == "binary" else 1,
        verbose=0,
        n_threads=1,  # the thread count changes float sums: pinned for equality
        cost="params",  # ties in validation go to the cheaper: not by timing
        cv=0,  # the hold-out tasks would get nested folds (auto): tested apart
    )
    if task == "ordinal":
        args["task"] = "ordinal"
    if task == "binary":
        args["calibrate"] = "temperature"
        args["target_sensitivity"] = 0.8
    return args


def run(task: str, out: Path) -> dict[str, str]:
    """Run the tiny study of ``task`` in ``out``; its pinned outputs, as text."""
    from skmedtl import load
    from skmedtl.study import TransferStudy

    data = dataset(task)
    TransferStudy(data, out, **study_args(task)).run()
    model = load(out / "model")
    test = data.split == "test"
    images = [data.images[i] for i in np.flatnonzero(test)]
    proba = np.asarray(model.predict_proba(images))
    pred = np.asarray(model.predict(images))
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    rows = zip(pred.reshape(len(pred), -1), proba.reshape(len(proba), -1), strict=True)
    for p, row in rows:
        writer.writerow([*map(str, p), *(repr(float(v)) for v in row)])
    return {
        "results.csv": _without_cost((out / "results.csv").read_text()),
        "predictions.csv": (out / "predictions.csv").read_text(),
        "model.csv": buf.getvalue(),
    }


def _without_cost(text: str) -> str:
    rows = list(csv.reader(io.StringIO(text)))
    keep = [
        i
        for i, name in enumerate(rows[0])
        if not any(word in name for word in COST_COLUMNS)
    ]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    for row in rows:
        writer.writerow([row[i] for i in keep])
    return buf.getvalue()


if __name__ == "__main__":  # pragma: no cover - regenerates the golden files
    import tempfile

    for task in TASKS:
        with tempfile.TemporaryDirectory() as tmp:
            for name, text in run(task, Path(tmp)).items():
                (GOLDEN / task).mkdir(parents=True, exist_ok=True)
                (GOLDEN / task / name).write_text(text)
        print(task, "written")
