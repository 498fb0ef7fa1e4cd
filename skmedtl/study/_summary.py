"""From cell records to the results table and the recommendation."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from ._choices import COSTS
from ._evaluate import METRICS, pooled_metrics
from ._stats import pooled_extras, pooled_validation, seed_interval
from ._task import Task

__all__ = ["NONINFERIORITY_MARGIN", "recommend", "summarize"]

#: Cost columns, in the order of the results tables.
COST_FIELDS = (
    "extract_time_s",
    "train_time_s",
    "compute_time_s",
    "test_inference_s",
    "inference_ms_per_image",
    "trainable_params",
    "peak_memory_mb",
    "peak_gpu_memory_mb",
)


class Poolers(NamedTuple):
    """How one configuration's seeds are pooled for a task (see :func:`poolers`)."""

    validation: Callable  # (records, metric, n_bootstraps) -> dict
    metrics: Callable  # (records, n_bootstraps) -> {metric: (est, low, high)}
    extras: Callable  # (records, study_task, n_bootstraps) -> dict


def poolers(task: Task) -> Poolers:
    """The seed-pooling statistics of ``task``'s cell records.

    One class per image: :func:`~skmedtl.study._stats.pooled_validation`,
    :func:`~skmedtl.study._evaluate.pooled_metrics` and
    :func:`~skmedtl.study._stats.pooled_extras`; per label: their
    counterparts in :mod:`skmedtl.study._per_label`.
    """
    if task.per_label:
        from . import _per_label as pl

        return Poolers(
            pl.pooled_per_label_validation,
            pl.pooled_per_label_metrics,
            lambda recs, study_task, n: pl.per_label_extras(recs, n),
        )
    return Poolers(
        pooled_validation,
        pooled_metrics,
        lambda recs, study_task, n: pooled_extras(
            recs, recs[0]["y_true"], study_task, n
        ),
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
    for f in ("device", "cpu_threads", "input_size", "epochs", "lr", "selection"):
        row[f] = record.get(f)
    row["run_id"] = record.get("run_id")
    row["key"] = record["key"]
    row["validation_score"] = record["validation"]["score"]
    row["inner_score"] = _inner_score(record)
    for name, (est, low, high) in record["extras"].items():
        row.update({name: est, f"{name}_low": low, f"{name}_high": high})
    row["threshold"] = (record.get("operating_point") or {}).get("threshold")
    return row


def _inner_score(record: dict) -> float | None:
    """The cell's tuning score inside its training images (``None``: not logged)."""
    value = (record.get("selection") or {}).get("inner_score")
    return None if value is None or _isnan(value) else float(value)


def summarize(
    cells: list,
    records: dict,
    n_bootstraps: int,
    *,
    metric: str = "auc",
    task: str = "classification",
) -> tuple[list, list, dict]:
    """The results table: one row per (backbone, approach), seeds pooled.

    Parameters
    ----------
    cells : list of Cell
        The study's plan, in order.
    records : dict
        Finished cell records by key.
    n_bootstraps : int
    metric : str
        The selection metric: each row's ``validation_score`` (seed mean, with
        ``validation_low`` / ``validation_high`` / ``validation_sd``).
    task : str

    Returns
    -------
    rows : list of dict
        Configurations with at least one finished cell, in plan order.
    cell_rows : list of dict
        Finished cells, in plan order.
    groups : dict
        ``{config: [records]}``, the finished cells of each configuration.
    """
    groups: dict[tuple[str, str], list[dict]] = {}
    cell_rows = []
    for cell in cells:
        record = records.get(cell.key)
        if record is None:
            continue
        groups.setdefault((cell.backbone, cell.approach.name), []).append(record)
        cell_rows.append(cell_row(record))
    rows = [
        config_row(backbone, approach, recs, n_bootstraps, metric=metric, task=task)
        for (backbone, approach), recs in groups.items()
    ]
    by_config = {f"{b} / {a}": recs for (b, a), recs in groups.items()}
    return rows, cell_rows, by_config


#: Default non-inferiority margin of the cheaper alternative (AUC points).
NONINFERIORITY_MARGIN = 0.02


def recommend(
    rows: list[dict],
    metric: str = "auc",
    cost: str = "time",
    *,
    difference=None,
    margin: float = NONINFERIORITY_MARGIN,
) -> dict | None:
    """The configuration selected on validation, and a cheaper non-inferior one.

    Selected: the highest validation score of ``metric`` (with seeds, the mean;
    ties: the cheaper). Cheaper alternative: among the configurations cheaper
    than the selected one whose paired difference to it on validation has a
    95% CI lower bound above ``-margin`` (non-inferiority), the one with the
    lowest ``cost`` (ties: the higher validation score); none when no
    configuration qualifies. The test set plays no part in either choice.

    Parameters
    ----------
    rows : list of dict
    metric, cost : str
    difference : callable, optional
        ``difference(other, selected)`` -> dict with ``difference``,
        ``ci_low``, ``ci_high``: the paired validation difference
        (:func:`~skmedtl.study._stats.validation_difference`). Without it no
        alternative is proposed.
    margin : float, default=0.02

    Returns
    -------
    dict or None
        ``best`` and ``cheapest`` (rows of the table; ``cheapest`` is ``best``
        when there is no alternative), ``metric``, ``cost``, ``cost_column``,
        ``margin``, ``differences`` ({config: difference dict} of every cheaper
        configuration), ``candidates`` (the non-inferior ones),
        ``selected_on`` (``"validation"``). ``None`` when no configuration has
        a finite validation score.
    """
    column = COSTS[cost][0]

    def cost_of(row):
        value = row.get(column)
        return math.inf if value is None else value

    scored = [
        r
        for r in rows
        if r.get("validation_score") is not None and not _isnan(r["validation_score"])
    ]
    if not scored:
        return None
    best = min(scored, key=lambda r: (-r["validation_score"], cost_of(r)))
    differences = {}
    if difference is not None:
        for r in scored:
            if r is not best and cost_of(r) < cost_of(best):
                differences[r["config"]] = difference(r["config"], best["config"])
    candidates = [
        r
        for r in scored
        if r["config"] in differences
        and not _isnan(differences[r["config"]]["ci_low"])
        and differences[r["config"]]["ci_low"] > -margin
    ]
    cheapest = min(
        candidates or [best], key=lambda r: (cost_of(r), -r["validation_score"])
    )
    return {
        "metric": metric,
        "cost": cost,
        "cost_column": column,
        "best": best,
        "cheapest": cheapest,
        "margin": float(margin),
        "differences": differences,
        "candidates": [r["config"] for r in candidates],
        "selected_on": "validation",
    }


def config_row(
    backbone: str,
    approach: str,
    recs: list[dict],
    n_bootstraps: int,
    *,
    metric: str,
    task: str,
) -> dict:
    """One row of the results table: the seeds ``recs`` of one configuration pooled.

    Test metrics and the validation score are seed means with bootstrap
    intervals (the task's :func:`poolers`), costs seed means, the operating
    point and settings the first seed's (thresholds: every seed's).
    """
    first = recs[0]
    pool = poolers(Task.of_mapping(first))
    validation = pool.validation(recs, metric, n_bootstraps)
    row = {
        "config": f"{backbone} / {approach}",
        "backbone": backbone,
        "approach": approach,
        "category": first["category"],
        "n_seeds": len(recs),
    }
    row.update(_pooled_metric_fields(recs, pool.metrics(recs, n_bootstraps)))
    for f in COST_FIELDS:
        row[f] = _mean(r.get(f) for r in recs)
    if row["trainable_params"] is not None:
        row["trainable_params"] = int(round(row["trainable_params"]))
    row["validation_score"] = validation["score"]
    row["validation_low"] = validation["low"]
    row["validation_high"] = validation["high"]
    row["validation_sd"] = validation["sd"]
    row["inner_score"] = _mean(_inner_score(r) for r in recs)
    row["n_validation"] = validation["n"]
    low, high = seed_interval([r["metrics"][metric][0] for r in recs])
    row[f"{metric}_seed_low"], row[f"{metric}_seed_high"] = low, high
    if len(recs) == 1:
        extras = first["extras"]
    else:
        extras = pool.extras(recs, task, n_bootstraps)
    for name, (est, low, high) in extras.items():
        row.update({name: est, f"{name}_low": low, f"{name}_high": high})
    row.update(_operating_point_fields(recs))
    row["calibrate"] = first["calibration"]["method"]
    row["device"] = first.get("device")
    row["engine"] = first.get("engine")
    row["input_size"] = first.get("input_size")
    row["seeds"] = [r["seed"] for r in recs]
    return row


def _pooled_metric_fields(recs: list[dict], pooled: dict) -> dict:
    """Each metric's pooled estimate and interval, and its standard deviation
    over seeds (``None`` for one seed)."""
    fields = {}
    for m in METRICS:
        est, low, high = pooled[m]
        fields.update({m: est, f"{m}_low": low, f"{m}_high": high})
        fields[f"{m}_sd"] = (
            float(np.std([r["metrics"][m][0] for r in recs], ddof=1))
            if len(recs) > 1
            else None
        )
    return fields


def _operating_point_fields(recs: list[dict]) -> dict:
    """The threshold rule, and each seed's threshold (one seed: a number)."""
    op = recs[0].get("operating_point")
    # each seed's model has its own threshold: their mean is no model's
    thresholds = [float(r["operating_point"]["threshold"]) for r in recs] if op else []
    return {
        "threshold_rule": op["rule"] if op else None,
        "threshold": None
        if not op
        else thresholds[0]
        if len(thresholds) == 1
        else thresholds,
    }
