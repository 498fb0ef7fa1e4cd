"""A study's grid of independent cells on a Dask cluster: 1 worker against 2 (and more).

Runs the same grid, in one invocation:

- ``local``: the cells one after another in this process, torch on 1 thread
  (one worker's share of the machine; the reference for the results);
- ``dask, W worker(s)``: on a ``LocalCluster(n_workers=W, threads_per_worker=1,
  processes=True)`` through :class:`skmedtl.distributed.DaskCellExecutor`. Dask
  starts every worker with ``OMP_NUM_THREADS=1`` (checked: torch runs on one
  thread there), so W workers use W cores.

``--mode study`` (default) runs a real :class:`skmedtl.study.TransferStudy`
(``executor=``): one backbone with random weights, one seed, eight approaches
(three hybrid heads, the feature extractor, two partial fine-tunings, full
fine-tuning, random initialisation) on a BreastMNIST subset, so all eight cells
form one batch. "cells s" times the cells (from the first task sent to the last
result); "run s" the whole ``run()``, which adds the driver's serial work (the
frozen extraction, sharded on the cluster, and the report with its figures).
``results.csv`` (cost columns aside) and ``predictions.csv`` must equal the
local run's. ``--mode cells`` sends study-like cells (``FineTuneClassifier``
runs and hybrid heads on embeddings extracted beforehand) straight through
``DaskCellExecutor``.

The cluster is warmed before it is timed (each worker imports torch and
skmedtl once: "cold" column). Speed-up is 1-worker time over W-worker time,
both from this invocation. Load (``os.getloadavg``) is printed before and
after: other jobs on the machine take cores from the workers.

Usage::

    nice python benchmarks/distributed/bench_study_cluster.py
    nice python benchmarks/distributed/bench_study_cluster.py --mode cells \\
        --workers 1 2 --write benchmarks/distributed/RESULTS.md
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import sys
import tempfile
import time
from dataclasses import dataclass, field

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@dataclass(frozen=True)
class CellTask:
    """A study cell task (the study's executor seam: key, label, fn, args)."""

    key: str
    label: str
    fn: object
    args: tuple
    resources: dict = field(default_factory=dict)


# -- the cells (module level: the workers unpickle them) ------------------------------
def fine_tune_cell(data, backbone, epochs, lr, seed):
    """Train a backbone from random weights; test-set probabilities."""
    import torch

    from skmedtl.finetune import FineTuneClassifier

    if torch.get_num_threads() != 1 and _on_worker():
        raise RuntimeError(f"worker torch threads: {torch.get_num_threads()}")
    X, y, X_test = data["X"], data["y"], data["X_test"]
    clf = FineTuneClassifier(
        backbone,
        weights=None,
        strategy="full",
        max_epochs=epochs,
        early_stopping=False,
        validation_fraction=None,
        batch_size=32,
        lr=lr,
        input_size=32,
        class_weight="balanced",
        device="cpu",
        random_state=seed,
        verbose=0,
    ).fit(X, y)
    return clf.predict_proba(X_test)


def head_cell(embedded, head, seed):
    """A hybrid head on frozen embeddings; test-set probabilities."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from skmedtl.hybrid import hybrid_head

    model = make_pipeline(
        StandardScaler(), hybrid_head(head, class_weight="balanced", random_state=seed)
    )
    model.fit(embedded["Z"], embedded["y"])
    return model.predict_proba(embedded["Z_test"])


def cpu_timed(fn, *args):
    """``fn(*args)`` and the CPU seconds of this thread it took (torch runs on
    this thread with 1 torch thread): what the cell got of the machine."""
    start = time.thread_time()
    value = fn(*args)
    return value, time.thread_time() - start


def _on_worker() -> bool:
    try:
        from distributed import get_worker

        get_worker()
    except (ImportError, ValueError):
        return False
    return True


def _warm():
    """Import what the cells import (the worker's one-time cost)."""
    import torch  # noqa: F401

    import skmedtl.finetune  # noqa: F401
    import skmedtl.hybrid  # noqa: F401

    return os.getpid()


# -- the grid ---------------------------------------------------------------------
def _data(args):
    from skmedtl.datasets import load_breastmnist

    X, y = load_breastmnist("train")
    X_test, _ = load_breastmnist("test")
    rng = np.random.default_rng(0)
    keep = rng.permutation(len(X))[: args.n]
    return {"X": X[keep], "y": y[keep], "X_test": X_test}


def _embedded(args, data):
    from skmedtl import CNNFeatures

    features = CNNFeatures(
        args.backbone, weights=None, random_state=0, input_size=32, verbose=0
    )
    Z = features.fit(data["X"][:1]).transform(data["X"])
    return {"Z": Z, "y": data["y"], "Z_test": features.transform(data["X_test"])}


def _grid(args, data, embedded) -> list[CellTask]:
    tasks = []
    if "fine_tune" in args.cells:
        for seed in range(args.seeds):
            for lr in (1e-3, 3e-4):
                tasks.append(
                    CellTask(
                        f"ft-{seed}-{lr}",
                        f"{args.backbone} / full / lr {lr} / seed {seed}",
                        fine_tune_cell,
                        (data, args.backbone, args.epochs, lr, seed),
                        {"GPU": 1},
                    )
                )
    if "head" in args.cells:
        for seed in range(args.seeds):
            for head in ("logreg", "svm", "rf"):
                tasks.append(
                    CellTask(
                        f"head-{head}-{seed}",
                        f"{args.backbone} / hybrid-{head} / seed {seed}",
                        head_cell,
                        (embedded, head, seed),
                    )
                )
    return tasks


def _local(tasks) -> tuple[float, dict]:
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        start = time.perf_counter()
        out = {t.key: t.fn(*t.args) for t in tasks}
        return time.perf_counter() - start, out
    finally:
        torch.set_num_threads(previous)


@contextlib.contextmanager
def _cluster(n_workers: int):
    """A warmed LocalCluster's client, and how long it took to get there."""
    from distributed import Client, LocalCluster

    env = {"SKMEDTL_OFFLINE": "1", "PYTHONPATH": ROOT}
    start = time.perf_counter()
    with (
        LocalCluster(
            n_workers=n_workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            env=env,
        ) as cluster,
        Client(cluster) as client,
    ):
        client.wait_for_workers(n_workers)
        client.run(_warm)
        info = {
            "cold": time.perf_counter() - start,
            "threads": sorted(
                set(client.run(lambda: __import__("torch").get_num_threads()).values())
            ),
        }
        yield client, info


def _dask(tasks, n_workers: int) -> dict:
    from skmedtl.distributed import DaskCellExecutor

    with _cluster(n_workers) as (client, info):
        # No worker offers a GPU here: "ignore" skips the note saying so.
        executor = DaskCellExecutor(client, resources="ignore", verbose=0)
        start = time.perf_counter()
        out = {}
        for task, value in executor.run(tasks):
            if isinstance(value, BaseException):
                raise value
            out[task.key] = value
        seconds = time.perf_counter() - start
    return {"seconds": seconds, "out": out, **info}


# -- the study mode -------------------------------------------------------------------
STUDY_APPROACHES = [
    "hybrid-logreg",
    "hybrid-svm",
    "hybrid-rf",
    "feature_extractor",
    "fine_tune:1",
    "fine_tune:2",
    "full",
    "random_init",
]


def _timed(base):
    """``base`` (an executor class) that adds up the time its cells take."""

    class Timed(base):
        seconds = 0.0

        def run(self, tasks):
            start = time.perf_counter()
            yield from super().run(tasks)
            self.seconds += time.perf_counter() - start

    return Timed


def _study_dataset(args):
    from skmedtl.datasets import load_breastmnist
    from skmedtl.study import StudyDataset

    parts = [load_breastmnist(split) for split in ("train", "val", "test")]
    parts[0] = (parts[0][0][: args.n], parts[0][1][: args.n])
    split = np.repeat(["train", "val", "test"], [len(p[1]) for p in parts])
    return StudyDataset.from_arrays(
        np.concatenate([p[0] for p in parts]),
        np.concatenate([p[1] for p in parts]),
        split=split,
    )


#: results.csv columns that measure the run (time, memory, where), not the result.
_COST_WORDS = ("time", "_s", "inference", "memory", "peak", "device", "engine")


def _without_cost(text: str) -> str:
    """``results.csv`` without its cost columns: what must equal across runs."""
    import csv
    import io

    rows = list(csv.reader(io.StringIO(text)))
    keep = [i for i, n in enumerate(rows[0]) if not any(w in n for w in _COST_WORDS)]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    for row in rows:
        writer.writerow([row[i] for i in keep])
    return buf.getvalue()


def _run_study(args, out: str, executor) -> dict:
    from skmedtl.study import TransferStudy
    study = TransferStudy(
        _study_dataset(args),
        out,
        backbones=[args.backbone],
        approaches=STUDY_APPROACHES,
        weights=None,
        seeds=1,
        input_size=32,
        train_input_size=32,
        max_epochs=args.epochs,
        lrs=[1e-3],
        n_bootstraps=20,
        save="none",
        n_threads=1,
        verbose=0,
        executor=executor,
    )
    start = time.perf_counter()
    results = study.run()
    run_s = time.perf_counter() - start
    if results.failures:
        raise RuntimeError(f"cells failed: {results.failures}")
    with open(os.path.join(out, "results.csv"), encoding="utf-8") as f:
        table = _without_cost(f.read())
    with open(os.path.join(out, "predictions.csv"), encoding="utf-8") as f:
        predictions = f.read()
    return {
        "seconds": executor.seconds,
        "run": run_s,
        "out": (table, predictions),
        "n_cells": len(study.cells_),
    }


def _study_rows(args, workdir: str) -> tuple[list, int]:
    from skmedtl.distributed import DaskCellExecutor
    from skmedtl.study import LocalExecutor

    rows, reference, n_cells = [], None, 0
    if not args.no_local:
        run = _run_study(args, os.path.join(workdir, "local"), _timed(LocalExecutor)())
        reference, n_cells = run["out"], run["n_cells"]
        rows.append(("local, 1 torch thread", run, None))
        print(
            f"local: cells {run['seconds']:.1f} s, run {run['run']:.1f} s", flush=True
        )
    for w in args.workers:
        with _cluster(w) as (client, info):
            executor = _timed(DaskCellExecutor)(client, resources="ignore")
            run = _run_study(args, os.path.join(workdir, f"dask{w}"), executor)
        run.update(info)
        n_cells = run["n_cells"]
        same = reference is None or run["out"] == reference
        reference = reference or run["out"]
        rows.append((f"dask, {w} worker(s) x 1 thread", run, w))
        print(
            f"dask {w}: cells {run['seconds']:.1f} s, run {run['run']:.1f} s (cold "
            f"{run['cold']:.1f} s, torch threads {run['threads']}, outputs equal the "
            f"local run's: {same})",
            flush=True,
        )
        if not same:
            raise AssertionError("results.csv / predictions.csv differ from local")
    return rows, n_cells


def _cells_rows(args) -> tuple[list, int]:
    from dataclasses import replace

    data = _data(args)
    embedded = _embedded(args, data) if "head" in args.cells else None
    tasks = [
        replace(t, fn=cpu_timed, args=(t.fn, *t.args))
        for t in _grid(args, data, embedded)
    ]
    rows, reference = [], None
    if not args.no_local:
        seconds, out = _local(tasks)
        cpu = sum(c for _, c in out.values())
        reference = {k: v for k, (v, _) in out.items()}
        rows.append(("local, 1 torch thread", {"seconds": seconds, "cpu": cpu}, None))
        print(f"local: {seconds:.1f} s ({cpu:.1f} CPU s in the cells)", flush=True)
    for w in args.workers:
        run = _dask(tasks, w)
        run["cpu"] = sum(c for _, c in run["out"].values())
        run["out"] = {k: v for k, (v, _) in run["out"].items()}
        reference = reference or run["out"]
        diff = max(
            float(np.max(np.abs(run["out"][k] - reference[k]))) for k in reference
        )
        rows.append((f"dask, {w} worker(s) x 1 thread", run, w))
        print(
            f"dask {w}: {run['seconds']:.1f} s, {run['cpu']:.1f} CPU s in the "
            f"cells (cold {run['cold']:.1f} s, torch "
            f"threads {run['threads']}, max abs diff vs local {diff:.1e})",
            flush=True,
        )
        if diff != 0:
            raise AssertionError("results differ from the local run's")
    return rows, len(tasks)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=["study", "cells"], default="study")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--backbone", default="resnet18")
    parser.add_argument("--n", type=int, default=256, help="training images")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--seeds", type=int, default=3, help="--mode cells")
    parser.add_argument(
        "--cells",
        nargs="+",
        default=["fine_tune", "head"],
        choices=["fine_tune", "head"],
        help="--mode cells",
    )
    parser.add_argument("--no-local", action="store_true")
    parser.add_argument("--write", help="append the table to this Markdown file")
    args = parser.parse_args(argv)

    os.environ.setdefault("SKMEDTL_OFFLINE", "1")
    load_before = os.getloadavg()
    print(f"load average before: {load_before[0]:.2f}", flush=True)
    if args.mode == "study":
        with tempfile.TemporaryDirectory() as workdir:
            rows, n_cells = _study_rows(args, workdir)
        what = (
            f"a TransferStudy of {n_cells} cells ({', '.join(STUDY_APPROACHES)}; "
            f"backbone {args.backbone}, random weights, 1 seed, {args.n} training "
            f"images at 32 px, {args.epochs} epoch(s))"
        )
    else:
        rows, n_cells = _cells_rows(args)
        what = (
            f"{n_cells} cells ({', '.join(args.cells)}; backbone {args.backbone}, "
            f"{args.n} images, {args.epochs} epochs, {args.seeds} seeds)"
        )
    load_after = os.getloadavg()
    base = next((run["seconds"] for _, run, w in rows if w == 1), None)
    lines = [
        "| run | cells s | cells/min | vs 1 worker | cores used | whole run s "
        "| cold start s |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for label, run, w in rows:
        speed = f"{base / run['seconds']:.2f}x" if base and w else ""
        # CPU seconds the cells got per wall second: the cores they had.
        cores = f"{run['cpu'] / run['seconds']:.2f}" if "cpu" in run else ""
        whole = f"{run['run']:.1f}" if "run" in run else ""
        cold = f"{run['cold']:.1f}" if "cold" in run else ""
        lines.append(
            f"| {label} | {run['seconds']:.1f} | {60 * n_cells / run['seconds']:.1f} "
            f"| {speed} | {cores} | {whole} | {cold} |"
        )
    import torch

    header = (
        f"Mode {args.mode}: {what}. {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, torch {torch.__version__}; load average "
        f"{load_before[0]:.2f} before, {load_after[0]:.2f} after.\n\n"
        f"Command: `python {' '.join(sys.argv)}`\n"
    )
    table = header + "\n" + "\n".join(lines) + "\n"
    print(table)
    if args.write:
        with open(args.write, "a", encoding="utf-8") as f:
            f.write("\n" + table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
