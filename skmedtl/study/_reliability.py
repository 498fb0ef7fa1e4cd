"""Reliability diagrams of the selected configuration and the cheaper one.

Test-set probabilities, averaged over seeds, in equal-mass bins (the ECE's
bins); multi-label studies pool every (image, label) pair into one curve.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ._per_label_report import pooled_reliability_records
from ._stats import ECE_BINS

__all__ = ["plot_reliability", "reliability_figure"]


def reliability_figure(
    records: list[dict], recommendation, per_label: bool, out: Path
) -> Path | None:
    """Draw ``figures/reliability.png`` under ``out``; ``None`` with no selection.

    Parameters
    ----------
    records : list of dict
        The cells' records (each with ``y_true`` and ``test_proba``).
    recommendation : dict or None
        The study's recommendation: its ``best`` and ``cheapest`` are drawn.
    per_label : bool
        Multi-label: one curve over every (image, label) pair per configuration.
    out : Path
        The study's output folder.
    """
    if recommendation is None:
        return None
    groups: dict = {}
    for r in records:
        groups.setdefault(f"{r['backbone']} / {r['approach']}", []).append(r)
    if per_label:  # one curve over every (image, label) pair
        groups = {c: pooled_reliability_records(g) for c, g in groups.items()}
    configs = list(
        dict.fromkeys(
            [recommendation["best"]["config"], recommendation["cheapest"]["config"]]
        )
    )
    path = out / "figures" / "reliability.png"
    plot_reliability(
        groups,
        configs,
        path,
        xlabel="predicted probability (every label, pooled)" if per_label else None,
    )
    return path


def plot_reliability(
    groups: dict, configs: list[str], path: Path, xlabel: str | None = None
) -> None:
    """Reliability diagrams (test set) of ``configs``; seed-mean probabilities.

    ``xlabel`` replaces the default axis label (multi-label studies pass
    records pooled over labels, see ``pooled_reliability_records``).
    """
    from ..metrics import reliability_curve
    from ._plots import _figure

    fig = _figure(4.2 * len(configs), 4.2)
    axes = fig.subplots(1, len(configs), squeeze=False)[0]
    for ax, config in zip(axes, configs, strict=True):
        records = groups[config]
        y = np.asarray(records[0]["y_true"])
        curves = [("predicted", "test_proba", "o-")]
        if records[0].get("test_proba_calibrated") is not None:
            method = records[0]["calibration"]["method"]
            curves.append((f"after {method}", "test_proba_calibrated", "s--"))
        for label, key, style in curves:
            proba = np.mean([np.asarray(r[key], dtype=float) for r in records], axis=0)
            if proba.shape[1] == 2:
                proba = proba[:, 1]
            c = reliability_curve(y, proba, n_bins=ECE_BINS, strategy="quantile")
            ax.plot(
                c.mean_predicted, c.observed, style, label=f"{label} (ECE {c.ece:.3f})"
            )
        ax.plot([0, 1], [0, 1], color="grey", linewidth=1, linestyle=":")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_xlabel(
            xlabel
            or "predicted probability"
            + (
                " (positive class)"
                if np.shape(records[0]["test_proba"])[1] == 2
                else " (top label)"
            )
        )
        ax.set_ylabel("observed frequency")
        ax.set_title(config, fontsize=9)
        ax.legend(loc="upper left", fontsize=8)
        ax.grid(True, alpha=0.3)
    fig.savefig(path)
