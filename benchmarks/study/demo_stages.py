"""Per-stage wall time of finished study folders (e.g. two ``skmedtl demo`` runs).

For a folder written by a profiled study (issue #31: cell records with
``timings``, the log's ``"timings"`` record of each run), the stages come from
the profiler. For a folder written before the profiler, they are rebuilt from
what the study left: the extraction and cell records (their wall times and
finishing times) and the modification times of the selected model, the saliency
figure, ``results.csv`` and ``report.html`` (statistics + model save: last cell
to ``model/``; saliency: ``model/`` to ``explanations.png``; report: to
``report.html``). Whole-run times are not in the folders: pass them with
``--wall`` (``label=first,resume`` seconds, as measured around the command).

Usage::

    python benchmarks/study/demo_stages.py before=/tmp/demo-base \\
        after=/tmp/demo-after --wall before=504.2,21.0 --wall after=300,9
"""

from __future__ import annotations

import argparse
import json
import os
from datetime import datetime
from pathlib import Path

#: Cell stages (CellTimes fields) and study stages (StudyTimes fields).
CELL_STAGES = (
    "extraction_s",
    "head_tuning_s",
    "training_s",
    "prediction_s",
    "evaluation_s",
    "calibration_s",
)
STUDY_STAGES = (
    "preparation_s",
    "cell_save_s",
    "statistics_s",
    "model_save_s",
    "saliency_s",
    "report_s",
)


def _log(folder: Path) -> list[dict]:
    lines = (folder / "results.jsonl").read_text(encoding="utf-8").splitlines()
    records = []
    for line in lines:
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def _mtime(path: Path) -> float | None:
    return path.stat().st_mtime if path.exists() else None


def profiled(folder: Path, manifest: Path | None = None) -> dict[str, float]:
    """Stages of the run that computed the cells (from the profiler)."""
    log = _log(folder)
    cells = [r for r in log if r["type"] == "cell" and r.get("timings")]
    stages = {
        name: sum(r["timings"][name] or 0.0 for r in cells) for name in CELL_STAGES
    }
    stages["cells (own wall)"] = sum(r["wall_time_s"] for r in cells)
    runs = [r for r in log if r["type"] == "timings"]
    run_id = cells[0]["run_id"] if cells else None
    first = next((r["timings"] for r in runs if r["run_id"] == run_id), None)
    if first is None:  # no per-run record: a copy of study.json after that run
        path = manifest or folder / "study.json"
        first = json.loads(path.read_text(encoding="utf-8")).get("timings") or {}
    for name in STUDY_STAGES:
        stages[name] = first.get(name) or 0.0
    return stages


def rebuilt(folder: Path) -> dict[str, float]:
    """Stages of a study run before the profiler, from its records and files."""
    log = _log(folder)
    cells = [r for r in log if r["type"] == "cell"]
    extraction = [r for r in log if r["type"] == "extraction"]
    last = max(datetime.fromisoformat(r["finished"]).timestamp() for r in cells)
    model = _mtime(folder / "model")
    saliency = _mtime(folder / "figures" / "explanations.png")
    report = _mtime(folder / "report.html")
    stages = {name: 0.0 for name in CELL_STAGES}
    stages["extraction_s"] = sum(r["wall_time_s"] for r in extraction)
    stages["cells (own wall)"] = sum(r["wall_time_s"] for r in cells)
    for name in STUDY_STAGES:
        stages[name] = 0.0
    stages["statistics_s"] = (model or last) - last  # + model save (not apart)
    if model and saliency:
        stages["saliency_s"] = saliency - model
    if saliency and report:
        stages["report_s"] = report - saliency
    return stages


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", help="label=folder")
    parser.add_argument("--wall", action="append", default=[], help="label=a,b")
    parser.add_argument(
        "--manifest",
        action="append",
        default=[],
        help="label=path: study.json as left by the first run (folders whose log "
        "has no 'timings' records)",
    )
    args = parser.parse_args(argv)
    wall = {}
    for item in args.wall:
        label, values = item.split("=", 1)
        wall[label] = [float(v) for v in values.split(",")]
    columns = {}
    for item in args.folders:
        label, folder = item.split("=", 1)
        folder = Path(folder)
        has_profile = any(
            r["type"] == "cell" and r.get("timings") for r in _log(folder)
        )
        manifests = dict(item.split("=", 1) for item in args.manifest)
        if has_profile:
            manifest = manifests.get(label)
            columns[label] = profiled(folder, manifest and Path(manifest))
        else:
            columns[label] = rebuilt(folder)
    names = list(dict.fromkeys(n for c in columns.values() for n in c))
    print("| stage | " + " | ".join(columns) + " |")
    print("|---|" + "---:|" * len(columns))
    for name in names:
        print(
            f"| {name} | "
            + " | ".join(f"{c.get(name, 0.0):.1f}" for c in columns.values())
            + " |"
        )
    for i, what in enumerate(("whole first run", "resume (nothing to do)")):
        if any(len(wall.get(label, [])) > i for label in columns):
            print(
                f"| **{what}** | "
                + " | ".join(
                    f"{wall[label][i]:.1f}" if len(wall.get(label, [])) > i else "–"
                    for label in columns
                )
                + " |"
            )
    print(f"\n(load: {os.getloadavg()[0]:.1f} now)")


if __name__ == "__main__":
    main()
