"""Tabulate a study before and after issue #28 from the two output folders.

``python benchmarks/protocol/before_after_table.py BEFORE_DIR AFTER_DIR`` prints a
markdown table with, per configuration, the after run's inner (tuning) score and
both runs' validation score, test score and validation - test gap (in the
selection metric, AUC), then each run's selected configuration (the highest
validation score, as the study selects; the after run's ``study.json`` names it)
and the optimism the after report discloses (bootstrap bias-corrected estimate).
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path


def _rows(out: Path) -> dict[str, dict]:
    with open(out / "results.csv", encoding="utf-8") as f:
        return {r["config"]: r for r in csv.DictReader(f)}


def _num(value) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _fmt(value, sign=False) -> str:
    if value is None:
        return "–"
    text = f"{value:+.3f}" if sign else f"{value:.3f}"
    return text.replace("0.", ".", 1)


def _scores(row: dict) -> tuple:
    val, test = _num(row.get("validation_score")), _num(row.get("auc"))
    gap = None if val is None or test is None else val - test
    return val, test, gap


def _selected(out: Path, rows: dict) -> str:
    study = json.loads((out / "study.json").read_text(encoding="utf-8"))
    chosen = (study.get("selection") or {}).get("selected")
    if chosen:
        return chosen
    return max(rows, key=lambda c: _num(rows[c]["validation_score"]) or -1.0)


def main(before_dir: str, after_dir: str) -> None:
    before_out, after_out = Path(before_dir), Path(after_dir)
    before, after = _rows(before_out), _rows(after_out)
    print(
        "| configuration | before: val | before: test | before: gap "
        "| after: inner | after: val | after: test | after: gap |"
    )
    print("|---|---|---|---|---|---|---|---|")
    gaps = {"before": [], "after": []}
    for config in dict.fromkeys([*before, *after]):
        b, a = before.get(config, {}), after.get(config, {})
        bv, bt, bg = _scores(b)
        av, at, ag = _scores(a)
        gaps["before"].append(bg)
        gaps["after"].append(ag)
        print(
            f"| {config} | {_fmt(bv)} | {_fmt(bt)} | {_fmt(bg, True)} "
            f"| {_fmt(_num(a.get('inner_score')))} | {_fmt(av)} | {_fmt(at)} "
            f"| {_fmt(ag, True)} |"
        )
    print()
    sides = (("before", before_out, before), ("after", after_out, after))
    for side, out, rows in sides:
        g = [v for v in gaps[side] if v is not None]
        chosen = _selected(out, rows)
        val, test, gap = _scores(rows[chosen])
        rank = 1 + sum((_num(r["auc"]) or -1.0) > (test or -1.0) for r in rows.values())
        print(
            f"- {side}: selected {chosen}: validation {_fmt(val)}, test {_fmt(test)}"
            f" (gap {_fmt(gap, True)}; {rank} of {len(rows)} on test); mean gap of "
            f"all {len(g)} configurations {_fmt(sum(g) / len(g), True)}, "
            f"{sum(v > 0 for v in g)} of {len(g)} positive"
        )
        study = json.loads((out / "study.json").read_text(encoding="utf-8"))
        selection = study.get("selection") or {}
        if selection:
            print(f"  - study.json selection: {json.dumps(selection)[:700]}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
