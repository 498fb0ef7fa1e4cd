"""Figures of the study report (matplotlib, drawn off-screen)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ._evaluate import METRICS

__all__ = ["plot_all"]

_MARKERS = "os^DvP*Xh<>p"


def _figure(width: float, height: float):
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as e:  # pragma: no cover - matplotlib is a dependency
        raise ImportError(
            "The study report's figures need matplotlib: pip install matplotlib"
        ) from e
    fig = Figure(figsize=(width, height), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _styles(rows: list[dict]):
    from matplotlib import colormaps

    approaches = list(dict.fromkeys(r["approach"] for r in rows))
    backbones = list(dict.fromkeys(r["backbone"] for r in rows))
    cmap = colormaps["tab10"]
    colour = {a: cmap(i % 10) for i, a in enumerate(approaches)}
    marker = {b: _MARKERS[i % len(_MARKERS)] for i, b in enumerate(backbones)}
    return approaches, backbones, colour, marker


def _positive(value) -> float:
    return max(float(value or 0.0), 1e-3)


def _scatter(ax, rows, x_key, metric, colour, marker):
    for r in rows:
        x = _positive(r.get(x_key))
        y, low, high = r[metric], r[f"{metric}_low"], r[f"{metric}_high"]
        ax.errorbar(
            x,
            y,
            yerr=[[y - low], [high - y]],
            fmt=marker[r["backbone"]],
            color=colour[r["approach"]],
            ecolor=colour[r["approach"]],
            alpha=0.9,
            markersize=7,
            capsize=3,
            linewidth=1,
        )
    ax.set_xscale("log")
    _readable_log_ticks(ax)
    ax.grid(True, which="both", alpha=0.3)


def _readable_log_ticks(ax) -> None:
    """Plain numbers (0.5, 2, 20) on a log axis, not 2x10^0."""
    from matplotlib.ticker import FuncFormatter

    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(
        FuncFormatter(lambda v, _: f"{v:g}" if f"{v:.0e}"[0] in "25" else "")
    )
    ax.tick_params(axis="x", which="minor", labelsize=7)


def _highlight(ax, rows, recommendation, x_key, metric):
    if recommendation is None:
        return
    for which, style in (("best", "*"), ("cheapest", "o")):
        r = recommendation[which]
        ax.plot(
            _positive(r.get(x_key)),
            r[metric],
            style,
            markersize=18,
            markerfacecolor="none",
            markeredgecolor="black",
            markeredgewidth=1.2,
            label=f"{which}: {r['config']}",
        )


def _legend(fig, rows, colour, marker, recommendation):
    from matplotlib.lines import Line2D

    handles = [
        Line2D([], [], color=colour[a], marker="s", linestyle="", label=a)
        for a in colour
    ]
    if len(marker) > 1:
        handles += [
            Line2D([], [], color="grey", marker=marker[b], linestyle="", label=b)
            for b in marker
        ]
    if recommendation is not None:
        handles += [
            Line2D(
                [],
                [],
                color="black",
                marker=marker,
                markerfacecolor="none",
                linestyle="",
                markersize=12,
                label=f"{label}: {recommendation[which]['config']}",
            )
            for marker, label, which in (
                ("*", "best", "best"),
                ("o", "cheaper non-inferior", "cheapest"),
            )
        ]
    # Below the panels, never beside the title (a right-hand legend collided
    # with a long suptitle on narrow figures).
    fig.legend(
        handles=handles,
        loc="outside lower center",
        ncols=min(len(handles), 5),
        fontsize=8,
        frameon=False,
    )


def plot_performance_vs_cost(rows, metric, recommendation, path: Path) -> None:
    """Metric (95% CI) against compute time and against inference time."""
    _, _, colour, marker = _styles(rows)
    fig = _figure(11, 4.5)
    axes = fig.subplots(1, 2, sharey=True)
    for ax, key, label in (
        (axes[0], "compute_time_s", "compute time: extraction + training (s, log)"),
        (axes[1], "inference_ms_per_image", "inference time (ms per image, log)"),
    ):
        _scatter(ax, rows, key, metric, colour, marker)
        _highlight(ax, rows, recommendation, key, metric)
        ax.set_xlabel(label)
    axes[0].set_ylabel(f"test {METRICS[metric]} (95% CI)")
    fig.suptitle(f"Performance vs. cost: every backbone x approach ({METRICS[metric]})")
    _legend(fig, rows, colour, marker, recommendation)
    fig.savefig(path)


def _panels(
    rows, key: str, metric: str, title: str, path: Path, x_key: str, x_label: str
) -> None:
    _, _, colour, marker = _styles(rows)
    names = list(dict.fromkeys(r[key] for r in rows))
    ncols = min(3, len(names))
    nrows = math.ceil(len(names) / ncols)
    fig = _figure(4.2 * ncols + 2.5, 3.4 * nrows + 0.6)
    axes = np.atleast_1d(fig.subplots(nrows, ncols, sharey=True, squeeze=False)).ravel()
    for ax, name in zip(axes, names, strict=False):
        subset = [r for r in rows if r[key] == name]
        _scatter(ax, subset, x_key, metric, colour, marker)
        ax.set_title(name, fontsize=10)
        ax.set_xlabel(x_label, fontsize=8)
        ax.set_ylabel(f"test {METRICS[metric]}", fontsize=8)
    for ax in axes[len(names) :]:
        ax.set_visible(False)
    fig.suptitle(title)
    _legend(fig, rows, colour, marker, None)
    fig.savefig(path)


def plot_roc(records_by_config: dict, configs: list[str], path: Path) -> None:
    """ROC curves of the given configurations (their first seed)."""
    from sklearn.metrics import auc, roc_curve
    from sklearn.preprocessing import label_binarize

    fig = _figure(6.5, 5.5)
    ax = fig.subplots()
    for config in configs:
        record = records_by_config[config]
        y = np.asarray(record["y_true"])
        score = np.asarray(record["y_score"], dtype=float)
        if score.ndim == 1:
            fpr, tpr, _ = roc_curve(y, score)
            kind = ""
        else:  # micro-average one-vs-rest
            onehot = label_binarize(y, classes=list(range(score.shape[1])))
            fpr, tpr, _ = roc_curve(onehot.ravel(), score.ravel())
            kind = " micro-avg."
        ax.plot(
            fpr,
            tpr,
            linewidth=1.6,
            label=f"{config} (seed {record['seed']}; AUC{kind} {auc(fpr, tpr):.3f})",
        )
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=0.8)
    ax.set_xlabel("1 - specificity (false positive rate)")
    ax.set_ylabel("sensitivity (true positive rate)")
    ax.set_title("ROC curves of the best configurations (test set)")
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(True, alpha=0.3)
    fig.savefig(path)


def plot_all(
    rows: list[dict],
    records: list[dict],
    metric: str,
    recommendation: dict | None,
    folder: Path,
) -> dict:
    """Write every figure into ``folder``; returns ``{name: path}``."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    path = folder / "performance_vs_cost.png"
    plot_performance_vs_cost(rows, metric, recommendation, path)
    files["performance_vs_cost"] = path
    path = folder / "cost_by_backbone.png"
    _panels(
        rows,
        "backbone",
        metric,
        "Per backbone: approaches by performance and compute time",
        path,
        "compute_time_s",
        "compute time (s, log)",
    )
    files["cost_by_backbone"] = path
    path = folder / "cost_by_approach.png"
    _panels(
        rows,
        "approach",
        metric,
        "Per approach: backbones by performance and compute time",
        path,
        "compute_time_s",
        "compute time (s, log)",
    )
    files["cost_by_approach"] = path
    path = folder / "performance_vs_parameters.png"
    _, _, colour, marker = _styles(rows)
    fig = _figure(8, 4.5)
    ax = fig.subplots()
    _scatter(ax, rows, "trainable_params", metric, colour, marker)
    _highlight(ax, rows, recommendation, "trainable_params", metric)
    ax.set_xlabel("trained parameters (log)")
    ax.set_ylabel(f"test {METRICS[metric]} (95% CI)")
    ax.set_title("Performance vs. trained parameters")
    _legend(fig, rows, colour, marker, recommendation)
    fig.savefig(path)
    files["performance_vs_parameters"] = path
    by_config: dict[str, dict] = {}
    for record in records:
        by_config.setdefault(f"{record['backbone']} / {record['approach']}", record)
    by_validation = sorted(rows, key=lambda r: -r["validation_score"])
    ranked = [r["config"] for r in by_validation][:3]
    if (
        recommendation is not None
        and recommendation["cheapest"]["config"] not in ranked
    ):
        ranked.append(recommendation["cheapest"]["config"])
    path = folder / "roc_best.png"
    plot_roc(by_config, ranked, path)
    files["roc_best"] = path
    return files
