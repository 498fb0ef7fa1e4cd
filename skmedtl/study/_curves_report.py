"""The learning-curve section of a study's report: data, figure, crossover.

Reads the ``"curve"`` records (and, for size ``"all"``, the study's own cell
records) of a :class:`~._curves.CurvePlan`, writes ``learning_curves.csv`` and
``figures/learning_curves.png``, and states where the fine-tuning family
overtakes the best frozen hybrid (:func:`~skmedtl.metrics.learning_curve_crossover`).
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

from ._evaluate import METRICS
from ._plots import _figure
from ._report_format import interval_text
from ._stats import seed_interval

__all__ = ["CURVE_COLUMNS", "curve_rows", "curve_section"]

CURVE_COLUMNS = [
    "config",
    "approach",
    "backbone",
    "category",
    "size",
    "repeat",
    "n_train",
    "validation_score",
    "test_auc",
    "train_time_s",
    "compute_time_s",
]


def curve_rows(plan, records: dict, curve_records: dict) -> list[dict]:
    """One row per finished curve cell (size ``"all"``: the study's cell)."""
    rows = []
    for point in plan.points:
        r = curve_records.get(point.cell.key) or records.get(point.cell.key)
        if r is None:
            continue
        rows.append(
            {
                "config": f"{point.cell.backbone} / {point.cell.approach.name}",
                "approach": point.cell.approach.name,
                "backbone": point.cell.backbone,
                "category": point.cell.approach.category,
                "family": point.cell.approach.family,
                "size": point.size,
                "repeat": point.repeat,
                "n_train": point.n_train,
                "validation_score": float(r["validation"]["score"]),
                "test_auc": float(r["metrics"]["auc"][0]),
                "train_time_s": r.get("train_time_s"),
                "compute_time_s": r.get("compute_time_s"),
                "_y_true": r.get("y_true"),
                "_y_score": r.get("y_score"),
            }
        )
    return rows


def _mean_ci(values) -> tuple[float, float, float]:
    """Mean over repeats and its 95% t-interval (NaN bounds for one repeat)."""
    v = [x for x in values if x is not None and x == x]
    if not v:
        return math.nan, math.nan, math.nan
    low, high = seed_interval(v)  # the study's interval of a mean over runs
    if low is None:
        return float(np.mean(v)), math.nan, math.nan
    # The scores (AUC, accuracies) lie in [0, 1]; so does the interval.
    return float(np.mean(v)), max(0.0, low), min(1.0, high)


def _summary(rows: list[dict]) -> list[dict]:
    """Per configuration and size: means with CIs over repeats, costs."""
    out = []
    keys = list(dict.fromkeys((r["config"], r["size"]) for r in rows))
    for config, size in keys:
        group = [r for r in rows if r["config"] == config and r["size"] == size]
        val, test = (
            _mean_ci([r[k] for r in group]) for k in ("validation_score", "test_auc")
        )
        out.append(
            {
                "config": config,
                "family": group[0]["family"],
                "size": size,
                "n_train": float(np.mean([r["n_train"] for r in group])),
                "n_repeats": len(group),
                "validation": val,
                "test_auc": test,
                "train_time_s": float(
                    np.mean([r["train_time_s"] or 0.0 for r in group])
                ),
            }
        )
    return out


def _plot(summary: list[dict], metric: str, path: Path) -> Path:
    from matplotlib import colormaps

    fig = _figure(10, 4)
    axes = fig.subplots(1, 2, sharex=True)
    configs = list(dict.fromkeys(s["config"] for s in summary))
    cmap = colormaps["tab10"]
    for i, config in enumerate(configs):
        pts = sorted(
            (s for s in summary if s["config"] == config), key=lambda s: s["n_train"]
        )
        x = [s["n_train"] for s in pts]
        for ax, key in zip(axes, ("validation", "test_auc"), strict=True):
            m = np.array([s[key][0] for s in pts])
            lo = np.array([s[key][1] for s in pts])
            hi = np.array([s[key][2] for s in pts])
            err = np.vstack([m - lo, hi - m])
            err = np.where(np.isfinite(err), err, 0.0)
            ax.errorbar(x, m, yerr=err, marker="o", capsize=3, color=cmap(i % 10))
            if ax is axes[0]:
                ax.lines[-1].set_label(config)
    axes[0].set_ylabel(f"validation {METRICS.get(metric, metric)} (selection)")
    axes[1].set_ylabel("test AUC")
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xlabel("training images")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path


def _crossover(rows: list[dict], summary: list[dict]):
    """Fine-tuning (best at full size) vs the best frozen hybrid, per size."""
    from ..metrics import learning_curve_crossover

    def best(families):
        full = [s for s in summary if s["family"] in families and s["size"] == "all"]
        full = full or [s for s in summary if s["family"] in families]
        return max(full, key=lambda s: s["validation"][0], default=None)

    a = best(("fine_tune", "gradual", "full"))
    b = best(("hybrid",))
    if a is None or b is None:
        return (
            "No crossover test: it compares the fine-tuning family with the frozen "
            "hybrids, and the study ran only one of the two."
        ), None
    if not rows or rows[0]["_y_score"] is None or np.ndim(rows[0]["_y_score"]) != 1:
        return "No crossover test: it needs a two-class study.", None
    sizes, sa, sb = [], [], []
    for size in dict.fromkeys(r["size"] for r in rows):
        ra, rb = (
            {r["repeat"]: r for r in rows if r["config"] == c and r["size"] == size}
            for c in (a["config"], b["config"])
        )
        common = sorted(set(ra) & set(rb))
        if not common:
            continue
        sizes.append(int(round(np.mean([ra[k]["n_train"] for k in common]))))
        sa.append(np.array([ra[k]["_y_score"] for k in common], float))
        sb.append(np.array([rb[k]["_y_score"] for k in common], float))
    if len(sizes) < 2:
        return "No crossover test: fewer than two sizes where both finished.", None
    y = np.asarray(rows[0]["_y_true"])
    result = learning_curve_crossover(
        y, sizes, sa, sb, pos_label=1, name_a=a["config"], name_b=b["config"]
    )
    return result.note, result


def _intro(plan) -> str:
    sizes = ", ".join(str(s) for s in plan.sizes)
    return (
        f"Every approach and backbone trained on nested, stratified "
        f"(patient-level with groups) subsamples of the {plan.n_train} training "
        f"images: sizes {sizes}, {plan.n_repeats} repeat(s) each (size 'all' is "
        "the study's own cell, one draw); the validation and test sets are the "
        "study's. Frozen approaches reuse the study's embeddings. Intervals: "
        "95% t-intervals over repeats (clipped to [0, 1]; wide with few "
        "repeats). The selected model is the full-size study's."
    )


def _write_rows(rows: list[dict], path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, CURVE_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def _table(summary: list[dict], metric: str) -> tuple:
    """Per configuration and size: means over repeats with their intervals."""
    header = [
        "configuration",
        "size",
        "train images",
        "repeats",
        f"validation {METRICS.get(metric, metric)}",
        "test AUC",
        "train s (mean)",
    ]
    body = [
        [
            s["config"],
            str(s["size"]),
            f"{s['n_train']:.0f}",
            str(s["n_repeats"]),
            interval_text(*s["validation"]),
            interval_text(*s["test_auc"]),
            f"{s['train_time_s']:.1f}",
        ]
        for s in summary
    ]
    return ("table", header, body)


def _result_blocks(rows: list[dict], out: Path, metric: str) -> tuple[list, Path]:
    """The figure, the table and the crossover of the finished curve cells."""
    summary = _summary(rows)
    fig = _plot(summary, metric, out / "figures" / "learning_curves.png")
    caption = (
        f"Validation {METRICS.get(metric, metric)} (what selection uses) "
        "and test AUC against the number of training images, per "
        "configuration; bars: 95% CI over repeats."
    )
    note, _ = _crossover(rows, summary)
    blocks = [("img", fig, caption), _table(summary, metric)]
    return [*blocks, ("p", f"**Crossover.** {note}")], fig


def curve_section(
    plan, records: dict, curve_records: dict, out: Path, metric: str, failures=()
) -> tuple[list, dict]:
    """The report blocks and files of the learning curves."""
    rows = curve_rows(plan, records, curve_records)
    blocks: list = [
        ("h2", "Learning curves (label efficiency)"),
        ("p", _intro(plan)),
    ]
    path = out / "learning_curves.csv"
    _write_rows(rows, path)
    files: dict = {"learning_curves": str(path)}
    if not rows:
        blocks.append(("p", "No learning-curve cell has finished yet."))
    else:
        results, fig = _result_blocks(rows, out, metric)
        blocks += results
        files["learning_curves_figure"] = str(fig)
    if plan.skipped:
        blocks.append(("p", "Sizes skipped (an approach cannot train on them):"))
        blocks.append(("ul", list(plan.skipped)))
    if failures:
        blocks.append(("ul", [f"failed: {f['cell']}: {f['error']}" for f in failures]))
    return blocks, files
