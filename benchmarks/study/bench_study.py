"""Wall time of ``skmedtl study``, split by stage where the study records it.

Runs the real command (``python -m skmedtl.cli study``, a subprocess, as a user
runs it) on the bundled BreastMNIST and, with ``--data-dir``, on the Kermany
chest X-rays (``chest_xray_kermany_224`` under it; ``--xray-subset N`` links a
stratified subset of N training and N/4 test images into the work folder, so
the run stays short), for each ``--profiles`` profile; then runs the same
command again on the finished study ("resume": nothing left to compute) and
reports its time as a fraction of the first run.

Per-stage times: read from the study's ``study.json`` when it records them (a
``timings`` field, or a ``profile`` field holding a mapping of stage to
seconds, per cell or for the study); when it records none, the table says so
and only the whole-run times are given.

GPU: the figures of a CUDA run are recorded only when a GPU is present
(``torch.cuda.is_available()``); on CPU they are reported as missing.

Usage::

    nice python benchmarks/study/bench_study.py --work /tmp/study_bench \\
        --datasets breastmnist
    nice python benchmarks/study/bench_study.py --work /tmp/study_bench \\
        --data-dir /work/shared/data --xray-subset 400
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

MARK = ".bench_study"  # lists, in the work folder, the study folders written


def uptime() -> str:
    try:
        return subprocess.run(
            ["uptime"], capture_output=True, text=True, check=False
        ).stdout.strip()
    except OSError:
        return f"load average {os.getloadavg()}"


def xray_subset(data_dir: Path, out: Path, n_train: int) -> Path:
    """A stratified subset of the Kermany set as symbolic links under ``out``."""
    import numpy as np

    src = data_dir / "chest_xray_kermany_224"
    rng = np.random.RandomState(0)
    for split, n in (("train", n_train), ("test", max(n_train // 4, 20))):
        classes = sorted(p.name for p in (src / split).iterdir() if p.is_dir())
        files = {c: sorted((src / split / c).iterdir()) for c in classes}
        total = sum(len(v) for v in files.values())
        for c, fs in files.items():
            k = max(1, round(n * len(fs) / total))
            folder = out / split / c
            folder.mkdir(parents=True, exist_ok=True)
            for i in sorted(rng.choice(len(fs), k, replace=False)):
                link = folder / fs[i].name
                if not link.exists():
                    link.symlink_to(fs[i])
    return out


def stage_times(manifest: dict) -> dict[str, float] | None:
    """Seconds per stage summed over the study, or None if not recorded."""
    found = manifest.get("timings")
    if found is None and isinstance(manifest.get("profile"), dict):
        found = manifest["profile"]
    if found is None:
        for cell in manifest.get("cells", []) or []:
            t = cell.get("timings") if isinstance(cell, dict) else None
            if isinstance(t, dict):
                found = found or {}
                for k, v in t.items():
                    if isinstance(v, (int, float)):
                        found[k] = found.get(k, 0.0) + float(v)
    if not isinstance(found, dict):
        return None
    flat: dict[str, float] = {}

    def walk(prefix, value):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            flat[prefix] = flat.get(prefix, 0.0) + float(value)
        elif isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)

    walk("", found)
    return flat or None


def cell_times(out: Path) -> list[dict]:
    """Per-cell ``*_time_s`` fields of ``results.jsonl`` (what studies record today)."""
    path = out / "results.jsonl"
    rows = []
    if not path.exists():
        return rows
    for line in path.read_text().splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        name = rec.get("cell_id") or rec.get("type")
        times = {
            k: float(v)
            for k, v in rec.items()
            if k.endswith("_time_s") and isinstance(v, (int, float))
        }
        if times:
            rows.append({"cell": name, **times})
    return rows


def run_study(dataset: str, out: Path, profile: str, extra: list[str]) -> float:
    cmd = [sys.executable, "-m", "skmedtl.cli", "study", "--dataset", dataset]
    cmd += ["--out", str(out), "--profile", profile, "-q", *extra]
    env = dict(os.environ, SKMEDTL_OFFLINE="1")
    t = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - t
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-3000:])
        raise SystemExit(f"{' '.join(cmd)} failed with exit code {proc.returncode}")
    return elapsed


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", default="/tmp/skmedtl_study_bench")
    parser.add_argument(
        "--datasets",
        nargs="+",
        choices=["breastmnist", "chest_xray"],
        default=["breastmnist", "chest_xray"],
    )
    parser.add_argument("--data-dir", help="folder holding chest_xray_kermany_224")
    parser.add_argument("--xray-subset", type=int, default=400, metavar="N")
    parser.add_argument("--profiles", nargs="+", default=["quick"])
    parser.add_argument("--no-resume", action="store_true")
    parser.add_argument("--label", default="", help="e.g. 'before' / 'after'")
    parser.add_argument(
        "--study-args", default="", help="extra `skmedtl study` arguments"
    )
    args = parser.parse_args(argv)

    import torch

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    datasets = {}
    if "breastmnist" in args.datasets:
        datasets["breastmnist"] = "breastmnist"
    if "chest_xray" in args.datasets:
        if args.data_dir is None:
            print("# chest_xray skipped: no --data-dir", file=sys.stderr)
        else:
            sub = xray_subset(
                Path(args.data_dir), work / "xray_subset", args.xray_subset
            )
            datasets[f"chest_xray ({args.xray_subset} train)"] = str(sub)
    ledger = work / MARK
    ours = set(ledger.read_text().split()) if ledger.exists() else set()
    gpu = torch.cuda.is_available()
    print(f"# start: {uptime()}", flush=True)
    print(f"# device: {'CUDA ' + torch.cuda.get_device_name() if gpu else 'CPU'}")
    rows = []
    for name, dataset in datasets.items():
        for profile in args.profiles:
            out = work / f"{name.split()[0]}_{profile}{args.label and '_' + args.label}"
            if out.name in ours:
                shutil.rmtree(out, ignore_errors=True)  # a previous run of ours
            elif out.exists():
                raise SystemExit(f"{out} exists and was not written by this benchmark")
            extra = args.study_args.split()
            # the study writes only a new or empty --out: the folders this
            # benchmark wrote are listed in the work folder instead
            ours.add(out.name)
            ledger.write_text("".join(f"{n}\n" for n in sorted(ours)))
            first = run_study(dataset, out, profile, extra)
            # the stages of the first run (a resume rewrites study.json)
            manifest = json.loads((out / "study.json").read_text())
            resume = None if args.no_resume else run_study(dataset, out, profile, extra)
            row = {
                "data": name,
                "profile": profile,
                "label": args.label,
                "first_s": first,
                "resume_s": resume,
                "resume_fraction": None if resume is None else resume / first,
                "stages": stage_times(manifest),
                "cells": cell_times(out),
                "load": os.getloadavg()[0],
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
    print(f"# end: {uptime()}")
    print("\n| data | profile | device | first run (s) | resume (s) | resume / first |")
    print("|---|---|---|---:|---:|---:|")
    for r in rows:
        res = "—" if r["resume_s"] is None else f"{r['resume_s']:.1f}"
        frac = "—" if r["resume_s"] is None else f"{r['resume_fraction']:.1%}"
        print(
            f"| {r['data']} | {r['profile']} | CPU | {r['first_s']:.1f} | {res} | "
            f"{frac} |"
        )
        if not gpu:
            print(f"| {r['data']} | {r['profile']} | GPU | missing (no GPU) | — | — |")
    for r in rows:
        if r["cells"]:
            keys = sorted({k for c in r["cells"] for k in c if k != "cell"})
            print(f"\nPer-cell times of {r['data']} / {r['profile']} (results.jsonl):")
            print("| cell | " + " | ".join(keys) + " |")
            print("|---|" + "---:|" * len(keys))
            for c in r["cells"]:
                vals = " | ".join(f"{c[k]:.1f}" if k in c else "" for k in keys)
                print(f"| {c['cell']} | {vals} |")
    for r in rows:
        print(f"\nStages of {r['data']} / {r['profile']}:")
        if r["stages"] is None:
            print("  not recorded (study.json has no `timings` / `profile` times)")
            continue
        total = sum(r["stages"].values())
        print("| stage | s | share |\n|---|---:|---:|")
        for k, v in sorted(r["stages"].items(), key=lambda kv: -kv[1]):
            print(f"| {k} | {v:.1f} | {v / total:.0%} |")


if __name__ == "__main__":
    main()
