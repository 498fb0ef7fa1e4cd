"""Old and new code on the same study cells, interleaved: time per stage, same numbers.

Runs ``skmedtl study`` (BreastMNIST, quick profile, EfficientNet-Lite0: the
demo's study) as a subprocess once per tree per round, alternating which tree
goes first, so both see the same load. ``--old`` is a folder holding an older
``skmedtl`` package (e.g. ``git archive <commit> skmedtl | tar -x -C DIR``),
``--new`` this checkout. Every run starts from a copy of one embedding cache
(``--cache``, e.g. the ``embeddings.h5`` of a finished demo), so the frozen
cells do not extract again unless the cache misses.

Reported per tree (median over rounds): the whole command's wall and CPU time
(user + system of the child process, all its threads), the cells' stages
(``results.jsonl`` ``timings``, summed over cells, and per cell), and whether
``results.csv`` and ``predictions.csv`` are identical between the trees in
every column that is not a time, a memory or a device.

``--threads 2`` (the default here) fixes PyTorch's threads for both trees as
``n_threads="auto"`` chooses them on an idle 2-core machine, so a busy machine
does not change what either tree computes.

Usage::

    git archive 882e9d6 skmedtl | tar -x -C /tmp/base
    nice python benchmarks/study/bench_interleaved.py --old /tmp/base \\
        --cache /tmp/demo/embeddings.h5 --work /tmp/inter --rounds 2 \\
        --approaches hybrid-svm,hybrid-logreg,hybrid-rf,hybrid-xgboost
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

MARK = ".bench_interleaved"  # marks the folders this benchmark wrote
#: Columns that are costs or places, not results: not compared.
_COST_ENDINGS = ("_s", "_mb", "_ms_per_image")
_COST_COLUMNS = ("device", "engine", "run_id")


def _is_cost(column: str) -> bool:
    return column.endswith(_COST_ENDINGS) or column in _COST_COLUMNS


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def run_once(tree: Path, out: Path, cache: Path, args) -> dict:
    """One study in ``out`` with the package under ``tree``; its costs."""
    if out.exists():
        if not (out / MARK).exists():
            raise SystemExit(f"{out} exists and was not written by this benchmark.")
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / MARK).touch()
    h5 = out / "cache.h5"
    shutil.copyfile(cache, h5)
    cmd = [sys.executable, "-c", "from skmedtl.cli import main; main()", "study"]
    cmd += ["--dataset", "breastmnist", "--profile", "quick", "-q"]
    cmd += ["--backbones", "efficientnet_lite0", "--out", str(out / "study")]
    cmd += ["--cache", str(h5), "--threads", str(args.threads)]
    if args.approaches:
        cmd += ["--approaches", args.approaches]
    env = dict(os.environ, PYTHONPATH=str(tree), SKMEDTL_OFFLINE="1")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-3000:])
        raise SystemExit(f"{tree}: study failed ({proc.returncode})")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall": wall, "cpu": cpu, **stages(out / "study")}


def stages(study: Path) -> dict:
    """Cell stages summed, per-cell stages, and the study's own stages."""
    cells, total, run = {}, {}, {}
    for line in (study / "results.jsonl").read_text().splitlines():
        rec = json.loads(line)
        timings = rec.get("timings") or {}
        if rec.get("approach"):
            cells[rec["approach"]] = {
                k: v for k, v in timings.items() if isinstance(v, (int, float))
            }
            for k, v in cells[rec["approach"]].items():
                if not isinstance(v, bool):
                    total[k] = total.get(k, 0.0) + v
        elif "preparation_s" in timings:
            run = {k: v for k, v in timings.items() if isinstance(v, (int, float))}
    return {"cells": cells, "cell_stages": total, "study_stages": run}


def results_of(study: Path, name: str) -> list[dict]:
    with open(study / name, newline="") as f:
        rows = list(csv.DictReader(f))
    return [{k: v for k, v in r.items() if not _is_cost(k)} for r in rows]


def median(values) -> float:
    values = [v for v in values if v is not None and not isinstance(v, bool)]
    return statistics.median(values) if values else float("nan")


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--old", required=True, type=Path)
    p.add_argument("--new", default=Path(__file__).resolve().parents[2], type=Path)
    p.add_argument("--cache", required=True, type=Path)
    p.add_argument("--work", required=True, type=Path)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--approaches", default="")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument(
        "--tabulate", action="store_true", help="only tabulate WORK/runs.json"
    )
    args = p.parse_args(argv)
    saved = args.work / "runs.json"
    if args.tabulate:
        runs = json.loads(saved.read_text())
        args.rounds = len(runs["old"])
        return tabulate(runs, args)
    print(f"start: {uptime()}", flush=True)
    runs = {"old": [], "new": []}
    for r in range(args.rounds):
        order = ("old", "new") if r % 2 == 0 else ("new", "old")
        for label in order:
            tree = getattr(args, label)
            found = run_once(tree, args.work / f"{label}{r}", args.cache, args)
            runs[label].append(found)
            print(
                f"round {r} {label}: wall {found['wall']:.1f} s, cpu "
                f"{found['cpu']:.1f} s ({uptime()})",
                flush=True,
            )
            saved.write_text(json.dumps(runs))
    print(f"end: {uptime()}\n")
    tabulate(runs, args)


def tabulate(runs: dict, args) -> None:
    """The median table of ``runs`` and the comparison of the outputs."""
    print("| stage (s, median) | old | new | old / new |\n|---|---:|---:|---:|")

    def row(name, get):
        old = median(get(x) for x in runs["old"])
        new = median(get(x) for x in runs["new"])
        ratio = f"{old / new:.2f}x" if new > 0 else "–"
        print(f"| {name} | {old:.2f} | {new:.2f} | {ratio} |")

    row("command wall", lambda x: x["wall"])
    row("command CPU (all threads)", lambda x: x["cpu"])
    keys = sorted({k for x in runs["old"] + runs["new"] for k in x["cell_stages"]})
    for k in keys:
        row(f"cells: {k}", lambda x, k=k: x["cell_stages"].get(k))
    keys = sorted({k for x in runs["old"] for k in x["study_stages"]})
    for k in keys:
        row(f"study: {k}", lambda x, k=k: x["study_stages"].get(k))
    for cell in sorted(runs["old"][0]["cells"]):
        for k in ("head_tuning_s", "head_fit_s", "training_s"):
            if runs["old"][0]["cells"][cell].get(k) is not None:
                row(f"{cell}: {k}", lambda x, c=cell, k=k: x["cells"][c].get(k))
    for name in ("results.csv", "predictions.csv", "cells.csv"):
        same = all(
            results_of(args.work / f"old{r}" / "study", name)
            == results_of(args.work / f"new{r}" / "study", name)
            for r in range(args.rounds)
        )
        print(f"\n{name}: {'identical' if same else 'DIFFERENT'} (non-cost columns)")
        if not same:
            old = results_of(args.work / "old0" / "study", name)
            new = results_of(args.work / "new0" / "study", name)
            for a, b in zip(old, new, strict=False):
                for k in a:
                    if a[k] != b.get(k):
                        print(f"  {k}: {a[k][:60]!r} != {b.get(k, '')[:60]!r}")


if __name__ == "__main__":
    main()
