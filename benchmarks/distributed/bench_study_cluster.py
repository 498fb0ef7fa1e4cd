"""A study's grid of independent cells on a Dask cluster: 1 worker against 2 (and more).

Runs the same grid of study-like cells, in one invocation:

- ``local``: one after another in this process, torch on 1 thread (one
  worker's share of the machine; the reference for the results);
- ``dask, W worker(s)``: through :class:`skmedtl.distributed.DaskCellExecutor`
  on a ``LocalCluster(n_workers=W, threads_per_worker=1, processes=True)``;
  Dask starts every worker with ``OMP_NUM_THREADS=1`` and each cell checks that
  torch runs on one thread there, so W workers use W cores.

The cells are what a study's cells do (``--cells``):

- ``fine_tune``: ``FineTuneClassifier`` (random-weight ``--backbone``, strategy
  ``full``, ``--epochs`` epochs) on BreastMNIST's training images, one per seed
  and learning rate; it predicts the test images;
- ``head``: a hybrid head (logistic regression, calibrated SVM, random forest)
  fitted on embeddings extracted once beforehand (as the study extracts once
  per backbone and ships the rows to its head cells), one per head and seed.

Every run's predictions are compared with the local run's (they must be equal:
where a cell runs changes nothing). The cluster is warmed before it is timed
(each worker imports torch and skmedtl once: "cold" column). Speed-up is
1-worker time over W-worker time, both measured in this invocation. Load
(``os.getloadavg``) is printed before and after: other jobs on the machine take
cores from the workers.

Usage::

    nice python benchmarks/distributed/bench_study_cluster.py
    nice python benchmarks/distributed/bench_study_cluster.py --workers 1 2 \\
        --write benchmarks/distributed/RESULTS_study.md
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
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


def _dask(tasks, n_workers: int) -> dict:
    from distributed import Client, LocalCluster

    from skmedtl.distributed import DaskCellExecutor

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
        started = time.perf_counter() - start
        client.run(_warm)
        cold = time.perf_counter() - start
        threads = client.run(lambda: __import__("torch").get_num_threads())
        # No worker offers a GPU here: "ignore" skips the note saying so.
        executor = DaskCellExecutor(client, resources="ignore", verbose=0)
        start = time.perf_counter()
        out = {}
        for task, value in executor.run(tasks):
            if isinstance(value, BaseException):
                raise value
            out[task.key] = value
        seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "out": out,
        "start": started,
        "cold": cold,
        "threads": sorted(set(threads.values())),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--backbone", default="resnet18")
    parser.add_argument("--n", type=int, default=256, help="training images")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument(
        "--cells",
        nargs="+",
        default=["fine_tune", "head"],
        choices=["fine_tune", "head"],
    )
    parser.add_argument("--no-local", action="store_true")
    parser.add_argument("--write", help="append the table to this Markdown file")
    args = parser.parse_args(argv)

    os.environ.setdefault("SKMEDTL_OFFLINE", "1")
    load_before = os.getloadavg()
    data = _data(args)
    embedded = _embedded(args, data) if "head" in args.cells else None
    tasks = _grid(args, data, embedded)
    print(
        f"{len(tasks)} cells ({', '.join(args.cells)}), backbone {args.backbone}, "
        f"{args.n} training images, {args.epochs} epoch(s); load before "
        f"{load_before[0]:.2f}",
        flush=True,
    )
    rows, reference = [], None
    if not args.no_local:
        seconds, reference = _local(tasks)
        rows.append(("local, 1 torch thread", seconds, None, None, 0.0))
        print(f"local: {seconds:.1f} s", flush=True)
    base = None
    for w in args.workers:
        run = _dask(tasks, w)
        if reference is None:
            reference = run["out"]
        diff = max(
            float(np.max(np.abs(run["out"][k] - reference[k]))) for k in reference
        )
        base = base if base is not None else (run["seconds"] if w == 1 else None)
        rows.append((f"dask, {w} worker(s) x 1 thread", run["seconds"], w, run, diff))
        print(
            f"dask {w}: {run['seconds']:.1f} s (cold {run['cold']:.1f} s, torch "
            f"threads {run['threads']}, max diff {diff:.1e})",
            flush=True,
        )
    load_after = os.getloadavg()
    lines = [
        "| run | seconds | cells/min | vs 1 worker | cold start s "
        "| max abs diff vs local |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for label, seconds, w, run, diff in rows:
        speed = f"{base / seconds:.2f}x" if base and w else ""
        cold = f"{run['cold']:.1f}" if run else ""
        lines.append(
            f"| {label} | {seconds:.1f} | {60 * len(tasks) / seconds:.1f} | {speed} "
            f"| {cold} | {diff:.1e} |"
        )
    import torch

    header = (
        f"{len(tasks)} cells ({', '.join(args.cells)}; backbone {args.backbone}, "
        f"{args.n} images, {args.epochs} epochs, {args.seeds} seeds). "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, torch "
        f"{torch.__version__}; load average {load_before[0]:.2f} before, "
        f"{load_after[0]:.2f} after.\n\n"
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
