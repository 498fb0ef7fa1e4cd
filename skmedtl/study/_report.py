"""The study report: results tables (CSV), Markdown and self-contained HTML.

:func:`write_outputs` writes ``results.csv``, ``cells.csv`` and
``predictions.csv``, draws the figures, and assembles the report from its
sections, each built by its own module: the recommendation
(:mod:`._report_recommendation`), the results table (:mod:`._report_results`),
the time profile (:mod:`._report_timings`), the statistics
(:mod:`._report_stats`), the Methods (:mod:`._methods`), the limitations
(:mod:`._limitations`) and the protocol (:mod:`._report_protocol`); the blocks
are rendered by :mod:`._report_render`.
"""

from __future__ import annotations

import csv
import os
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from ..utils._files import atomic_path, atomic_write_text
from ._evaluate import METRICS
from ._limitations import limitations
from ._localisation import localisation_blocks
from ._methods import methods_paragraph
from ._per_label_report import per_label_blocks
from ._predictions import write_predictions
from ._reliability import reliability_figure
from ._report_protocol import appendix_blocks
from ._report_recommendation import recommendation_blocks
from ._report_render import render_html, render_markdown
from ._report_results import results_blocks
from ._report_stats import statistics_blocks
from ._report_timings import timings_blocks
from ._summary import COST_FIELDS
from ._task import Task

__all__ = ["CELL_COLUMNS", "TABLE_COLUMNS", "write_outputs"]

#: Columns of ``results.csv`` (one row per backbone x approach).
TABLE_COLUMNS = [
    "config",
    "backbone",
    "approach",
    "category",
    "n_seeds",
    *[f"{m}{s}" for m in METRICS for s in ("", "_low", "_high", "_sd")],
    *COST_FIELDS,
    "device",
    "input_size",
    "seeds",
]
#: Columns of ``cells.csv`` (one row per backbone x approach x seed).
CELL_COLUMNS = [
    "cell",
    "backbone",
    "approach",
    "category",
    "seed",
    *[f"{m}{s}" for m in METRICS for s in ("", "_low", "_high")],
    *COST_FIELDS,
    "device",
    "cpu_threads",
    "input_size",
    "epochs",
    "lr",
    "selection",
    "run_id",
]


#: Captions of the figures, by name (the reliability diagram's is built).
CAPTIONS = {
    "performance_vs_cost": "Performance against compute time and inference time "
    "(in the spirit of Fig. 6 of Kim et al. 2022). Colour: approach; marker: "
    "backbone; bars: 95% CI.",
    "cost_by_backbone": "Per backbone: its approaches by performance and compute time.",
    "cost_by_approach": "Per approach: the backbones by performance and compute time.",
    "performance_vs_parameters": "Performance against the number of trained "
    "parameters.",
    "roc_best": "ROC curves (test set) of the three configurations best on "
    "validation and the cheaper alternative.",
    "explanations": "Where the selected model looks: saliency maps (Grad-CAM "
    "where the whole model has gradients, else occlusion) on the most confident "
    "test images of each outcome (two classes: true/false positives and "
    "negatives at the 0.5 threshold; more classes: correct and wrong). Maps "
    "show what drives the score, not that the reason is clinically right.",
}


def _reliability_caption(per_label: bool) -> str:
    return (
        "Reliability diagrams (test set, seed-mean probabilities, "
        "equal-mass bins) of the selected configuration and the cheaper "
        "alternative; the dotted line is perfect calibration."
        + (
            " Multi-label: one curve per configuration over every (image, label) "
            "pair, labels pooled."
            if per_label
            else ""
        )
    )


def _header_blocks(results, context: dict) -> list:
    """Title, provenance and the recommendation."""
    return [
        ("h1", f"Transfer-learning study: {context['dataset']['source']}"),
        (
            "p",
            f"Generated {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC by skmedtl "
            f"{context['version']}: {len(results.cells)} of {results.n_cells} cells "
            f"finished ({len(results.table)} configurations). Profile "
            f"`{context['profile'].name}`.",
        ),
        ("h2", "Recommendation"),
        *recommendation_blocks(
            results.recommendation,
            context["metric"],
            context["cost"],
            context["n_test"],
        ),
    ]


def _figure_blocks(figures: dict, per_label: bool) -> list:
    """The "Figures" section: every figure with its caption."""
    captions = {**CAPTIONS, "reliability": _reliability_caption(per_label)}
    return [("h2", "Figures")] + [
        ("img", path, captions.get(name, name)) for name, path in figures.items()
    ]


def report_blocks(results, records: list[dict], context: dict, figures: dict) -> list:
    """Every block of the report, in order (see :mod:`._report_render`)."""
    rec = results.recommendation
    settings = context["settings"]
    return [
        *_header_blocks(results, context),
        *results_blocks(
            results.table, rec, context["metric"], settings.get("n_bootstraps")
        ),
        *per_label_blocks(records, rec),  # multi-label studies only
        *timings_blocks(records, context.get("timings")),
        *localisation_blocks(context.get("localisation")),
        *_figure_blocks(figures, Task.of_records(records).per_label),
        *statistics_blocks(results, context),
        *(context.get("extra_blocks") or []),  # learning curves, external sets
        ("h2", "Methods (for a paper)"),
        ("p", methods_paragraph(results, context)),
        ("h2", "Limitations"),
        ("ul", limitations(results, context)),
        *appendix_blocks(results, context),
    ]


def _columns(base: list[str], rows: list[dict]) -> list[str]:
    """``base``, then the other scalar fields of the rows (validation, extras)."""
    extra = []
    for row in rows:
        for k, v in row.items():
            if k not in base and k not in extra and not isinstance(v, dict):
                extra.append(k)
    return base + extra


def _write_csv(path: Path, rows: list[dict], columns: list[str]) -> None:
    with (
        atomic_path(path) as tmp,
        open(tmp, "w", newline="", encoding="utf-8") as f,
    ):
        writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            out = {}
            for c in columns:
                v = row.get(c)
                if isinstance(v, (list, dict)):
                    v = ";".join(map(str, v)) if isinstance(v, list) else repr(v)
                if isinstance(v, (float, np.floating)):
                    v = repr(float(v))
                out[c] = "" if v is None else v
            writer.writerow(out)


def write_outputs(out: Path, results, records: list[dict], context: dict) -> dict:
    """Write ``results.csv``, ``cells.csv``, figures, ``report.md``, ``report.html``.

    Returns
    -------
    dict
        ``{name: path}`` of every file written.
    """
    from .. import __version__
    from ._plots import plot_all

    files = {
        "results": out / "results.csv",
        "cells": out / "cells.csv",
        "predictions": out / "predictions.csv",
    }
    _write_csv(files["results"], results.table, _columns(TABLE_COLUMNS, results.table))
    _write_csv(files["cells"], results.cells, _columns(CELL_COLUMNS, results.cells))
    write_predictions(files["predictions"], records, context.get("images"))
    per_label = Task.of_records(records).per_label
    rec = results.recommendation
    figures = plot_all(results.table, records, context["metric"], rec, out / "figures")
    reliability = reliability_figure(records, rec, per_label, out)
    if reliability is not None:
        figures["reliability"] = reliability
    figures.update(context.get("extra_figures") or {})
    context = {**context, "version": __version__}
    blocks = report_blocks(results, records, context, figures)
    files["markdown"] = out / "report.md"
    files["html"] = out / "report.html"
    atomic_write_text(files["markdown"], render_markdown(blocks, out))
    atomic_write_text(files["html"], render_html(blocks))
    files.update(figures)
    return {k: os.fspath(v) for k, v in files.items()}
