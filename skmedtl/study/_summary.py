"""From cell records to the results table and the recommendation."""

from __future__ import annotations

import math

import numpy as np

from ._choices import COSTS
from ._evaluate import METRICS, pooled_metrics

__all__ = ["recommend", "summarize"]

#: Cost columns, in the order of the results tables.
COST_FIELDS = (
    "extract_time_s",
    "train_time_s",
    "compute_time_s",
    "inference_ms_per_image",
    "trainable_params",
    "peak_memory_mb",
    "peak_gpu_memory_mb",
)


def _mean(values):
    values = [v for v in values if v is not None and not _isnan(v)]
    return float(np.mean(values)) if values else None


def _isnan(v) -> bool:
    return isinstance(v, float) and math.isnan(v)


def cell_row(record: dict) -> dict:
    """One row of the per-seed table (no predictions)."""
    row = {
        "cell": record["cell_id"],
        "backbone": record["backbone"],
        "approach": record["approach"],
        "category": record["category"],
        "seed": record["seed"],
    }
    for m in METRICS:
        est, low, high = record["metrics"][m]
        row.update({m: est, f"{m}_low": low, f"{m}_high": high})
    for f in COST_FIELDS:
        row[f] = record.get(f)
    for f in ("device", "input_size", "epochs", "lr", "selection", "run_id"):
        row[f] = record.get(f)
    return row


def summarize(cells: list, records: dict, n_bootstraps: int) -> tuple[list, list]:
    """The results table: one row per (backbone, approach), seeds pooled.

    Parameters
    ----------
    cells : list of Cell
        The study's plan, in order.
    records : dict
        Finished cell records by key.
    n_bootstraps : int

    Returns
    -------
    rows : list of dict
        Configurations with at least one finished cell, in plan order.
    cell_rows : list of dict
        Finished cells, in plan order.
    """
    groups: dict[tuple[str, str], list[dict]] = {}
    cell_rows = []
    for cell in cells:
        record = records.get(cell.key)
        if record is None:
            continue
        groups.setdefault((cell.backbone, cell.approach.name), []).append(record)
        cell_rows.append(cell_row(record))
    rows = []
    for (backbone, approach), recs in groups.items():
        first = recs[0]
        row = {
            "config": f"{backbone} / {approach}",
            "backbone": backbone,
            "approach": approach,
            "category": first["category"],
            "n_seeds": len(recs),
        }
        pooled = pooled_metrics(recs, n_bootstraps)
        for m in METRICS:
            est, low, high = pooled[m]
            row.update({m: est, f"{m}_low": low, f"{m}_high": high})
            row[f"{m}_sd"] = (
                float(np.std([r["metrics"][m][0] for r in recs], ddof=1))
                if len(recs) > 1
                else None
            )
        for f in COST_FIELDS:
            row[f] = _mean(r.get(f) for r in recs)
        if row["trainable_params"] is not None:
            row["trainable_params"] = int(round(row["trainable_params"]))
        row["device"] = first.get("device")
        row["input_size"] = first.get("input_size")
        row["seeds"] = [r["seed"] for r in recs]
        rows.append(row)
    return rows, cell_rows


def recommend(rows: list[dict], metric: str = "auc", cost: str = "time") -> dict | None:
    """The best configuration, and the cheapest one within the best's CI.

    Best: the highest point estimate of ``metric`` (ties: the cheaper). Cheapest
    within the CI: among configurations whose estimate is at least the lower
    end of the best's 95% interval, the one with the lowest ``cost`` (ties: the
    higher estimate). This is a screening rule, not a test of equivalence.

    Returns
    -------
    dict or None
        ``best`` and ``cheapest`` (rows of the table), ``metric``, ``cost``,
        ``cost_column``, ``candidates`` (configurations within the CI).
        ``None`` when no configuration has a finite ``metric``.
    """
    column = COSTS[cost][0]

    def cost_of(row):
        value = row.get(column)
        return math.inf if value is None else value

    scored = [r for r in rows if r.get(metric) is not None and not _isnan(r[metric])]
    if not scored:
        return None
    best = min(scored, key=lambda r: (-r[metric], cost_of(r)))
    low = best[f"{metric}_low"]
    candidates = [r for r in scored if r[metric] >= low]
    cheapest = min(candidates, key=lambda r: (cost_of(r), -r[metric]))
    return {
        "metric": metric,
        "cost": cost,
        "cost_column": column,
        "best": best,
        "cheapest": cheapest,
        "candidates": [r["config"] for r in candidates],
    }
