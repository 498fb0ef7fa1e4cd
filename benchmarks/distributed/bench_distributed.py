"""Distributed extraction: 2 Dask workers against 1 worker and against one process.

All figures of one table come from the same invocation on the same machine:

- ``local, N torch threads``: ``CNNFeatures.transform`` in this process, torch
  intra-op parallelism over N threads (N = all cores is what a user gets by
  default; N = 1 is one worker's share);
- ``dask, W workers x 1 thread``: :func:`skmedtl.distributed.extract` on a
  ``LocalCluster(n_workers=W, threads_per_worker=1)``. Dask's nanny starts each
  worker with ``OMP_NUM_THREADS=1``, so every worker runs torch on one thread: W
  workers use W cores, and the comparison with the local runs is like for like.

Every run goes through a fresh embedding cache (all misses), so the distributed
runs pay for hashing, shipping shards and storing rows like real use. Timed runs
reuse the models the workers already built; "cold" is the first call on a new
cluster and includes each worker importing torch and building the backbone. The
runs are interleaved in ``--repeat`` rounds (so load from other jobs falls on all
of them alike) and each keeps its best time.

Usage::

    nice python benchmarks/distributed/bench_distributed.py
    nice python benchmarks/distributed/bench_distributed.py --n 384 --size 112 \\
        --write benchmarks/distributed/RESULTS.md
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import sys
import tempfile
import time

import numpy as np


def _features(args, **params):
    from skmedtl import CNNFeatures

    return CNNFeatures(
        args.backbone,
        weights=None,
        random_state=0,
        input_size=args.size,
        batch_size=args.batch_size,
        backend=args.backend,
        verbose=0,
        **params,
    )


class _Local:
    """``CNNFeatures.transform`` in this process with ``threads`` torch threads."""

    def __init__(self, args, X, threads: int, workdir: str):
        self.args, self.X, self.threads, self.workdir = args, X, threads, workdir
        self.label = f"local, {threads} torch thread(s)"
        self.runs = 0
        self.result = None

    def cpu_seconds(self) -> float:
        return time.process_time()

    def __call__(self):
        import torch

        previous = torch.get_num_threads()
        torch.set_num_threads(self.threads)
        try:
            self.runs += 1
            path = os.path.join(self.workdir, f"local{self.threads}-{self.runs}.h5")
            _features(self.args, cache_path=path).fit(self.X).transform(self.X)
        finally:
            torch.set_num_threads(previous)

    def close(self):
        pass


class _Dask:
    """:func:`skmedtl.distributed.extract` on ``n_workers`` x 1 thread."""

    def __init__(self, args, X, n_workers: int, workdir: str, reference):
        from distributed import Client, LocalCluster

        from skmedtl.distributed import _worker, extract

        self.X, self.workdir, self.n_workers = X, workdir, n_workers
        self.label = f"dask, {n_workers} worker(s) x 1 thread"
        self.extract, self.stats = extract, _worker.stats
        start = time.perf_counter()
        self.cluster = LocalCluster(
            n_workers=n_workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
        )
        self.client = Client(self.cluster, set_as_default=False)
        self.client.wait_for_workers(n_workers)
        self.result = {"start": time.perf_counter() - start}
        self.features = _features(args).fit(X)
        self.runs = 0
        start = time.perf_counter()
        out = self()  # cold: each worker imports torch and builds the model
        self.result["cold"] = time.perf_counter() - start
        self.result["error"] = float(np.abs(out - reference).max())

    def cpu_seconds(self) -> float:
        """CPU time of this process (the client) and of every worker process."""
        workers = self.client.run(_process_cpu_seconds)
        return time.process_time() + sum(workers.values())

    def __call__(self):
        self.runs += 1
        path = os.path.join(self.workdir, f"dask{self.n_workers}-{self.runs}.h5")
        return self.extract(self.X, self.features, client=self.client, cache_path=path)

    def close(self):
        stats = self.client.run(self.stats)
        self.result["torch_threads"] = sorted(
            {s["torch_threads"] for s in stats.values()}
        )
        self.result["workers"] = len(stats)
        self.result["builds"] = sum(sum(s["builds"].values()) for s in stats.values())
        self.client.close()
        self.cluster.close()


def _process_cpu_seconds() -> float:
    """User + system CPU time of the calling process (run on each worker)."""
    import psutil

    times = psutil.Process().cpu_times()
    return times.user + times.system


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", default="resnet18")
    parser.add_argument("--n", type=int, default=384, help="images")
    parser.add_argument("--size", type=int, default=112, help="input size (px)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--backend", default="torch")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--write", help="write the Markdown table to this file")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    import torch

    cores = os.cpu_count() or 1
    X = np.random.default_rng(0).integers(
        0, 256, (args.n, args.size, args.size, 3), dtype=np.uint8
    )
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as workdir:
        reference = _features(args).fit(X).transform(X)
        runs = [_Local(args, X, t, workdir) for t in sorted({cores, 1}, reverse=True)]
        runs += [
            _Dask(args, X, w, workdir, reference)
            for w in sorted({1, min(2, cores), cores})
        ]
        # Rounds interleave the runs, so load from other jobs on a shared machine
        # falls on all of them alike; each keeps its best time.
        best = {run.label: float("inf") for run in runs}
        cpu = {run.label: float("inf") for run in runs}
        for _ in range(args.repeat):
            for run in runs:
                cpu_start = run.cpu_seconds()
                start = time.perf_counter()
                run()
                best[run.label] = min(best[run.label], time.perf_counter() - start)
                cpu[run.label] = min(cpu[run.label], run.cpu_seconds() - cpu_start)
        for run in runs:
            run.close()
        rows = [
            (run.label, best[run.label], cpu[run.label], run.result) for run in runs
        ]
    for row in rows:
        print(row, file=sys.stderr)
    load = (load_before, os.getloadavg()[0])
    table = _markdown(rows, args, cores, torch.__version__, load)
    print(table)
    if args.write:
        with open(args.write, "w") as fh:
            fh.write(table)
    return 0


def _markdown(rows, args, cores: int, torch_version: str, load) -> str:
    local_all = rows[0][1]
    one_worker = next(s for _, s, _, r in rows if r and r.get("workers") == 1)
    lines = [
        f"Backbone {args.backbone} (random weights), {args.n} images "
        f"{args.size}x{args.size} RGB uint8 at input size {args.size}, batch "
        f"{args.batch_size}, backend {args.backend}; {cores} CPU cores "
        f"({platform.machine()}), torch {torch_version}. Best of {args.repeat} "
        f"interleaved rounds. Load average (1 min) {load[0]:.1f} before, "
        f"{load[1]:.1f} after.",
        "",
        "| run | seconds | images/s | vs local (all cores) | vs 1 worker | "
        "CPU ms/image | cold s | cluster start s | max abs diff vs local |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for label, seconds, cpu, result in rows:
        extra = ["", "", "", ""]
        if result is not None:
            extra = [
                f"{one_worker / seconds:.2f}x",
                f"{result['cold']:.2f}",
                f"{result['start']:.1f}",
                f"{result['error']:.1e}",
            ]
        lines.append(
            f"| {label} | {seconds:.2f} | {args.n / seconds:.0f} | "
            f"{local_all / seconds:.2f}x | {extra[0]} | {1000 * cpu / args.n:.1f} | "
            + " | ".join(extra[1:])
            + " |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
