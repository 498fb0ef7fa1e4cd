"""The study report: results tables (CSV), Markdown and self-contained HTML."""

from __future__ import annotations

import base64
import csv
import html
import os
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from ..metrics import CONFIDENCE
from ..utils._files import atomic_path, atomic_write_text
from ._choices import COSTS
from ._evaluate import METRICS
from ._localisation import localisation_blocks
from ._measure import MEMORY_HELP, CellTimes, StudyTimes
from ._per_label_report import (
    per_label_blocks,
    pooled_reliability_records,
)
from ._predictions import write_predictions
from ._report_stats import (
    limitations,
    methods_paragraph,
    plot_reliability,
    statistics_blocks,
)
from ._summary import COST_FIELDS
from ._task import Task

__all__ = ["TABLE_COLUMNS", "format_metric", "write_outputs"]

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
    "input_size",
    "epochs",
    "lr",
    "selection",
    "run_id",
]


# -- formatting (the only place numbers become text) ---------------------------------
def format_metric(row: dict, metric: str) -> str:
    """``"0.880 [0.831, 0.925]"``."""
    est = row.get(metric)  # absent: not measured (e.g. Brier of multi-label)
    if est is None or est != est:
        return "n/a"
    low, high = row[f"{metric}_low"], row[f"{metric}_high"]
    return f"{est:.3f} [{low:.3f}, {high:.3f}]"


def format_seconds(value) -> str:
    return "–" if value is None else f"{value:.1f}"


def format_ms(value) -> str:
    return "–" if value is None else f"{value:.2f}"


def format_count(value) -> str:
    return "–" if value is None else f"{int(value):,}"


def format_mb(value) -> str:
    return "–" if value is None else f"{value:.0f}"


def _size(value) -> str:
    if not value:
        return "–"
    return "x".join(str(v) for v in value) if isinstance(value, list) else str(value)


# -- document model: rendered to Markdown and to HTML from the same blocks -----------
def _validation_text(r: dict) -> str:
    est = r.get("validation_score")
    if est is None or est != est:
        return "n/a"
    text = f"{est:.3f}"  # no interval: the selected score is optimistic
    if r.get("validation_sd") is not None:
        text += f" (SD {r['validation_sd']:.3f})"
    return text


def _score_text(value) -> str:
    return "n/a" if value is None or value != value else f"{value:.3f}"


def _test_text(r: dict, metric: str) -> str:
    text = format_metric(r, metric)
    if r.get(f"{metric}_sd") is not None:
        text += f" (SD {r[f'{metric}_sd']:.3f}"
        low, high = r.get(f"{metric}_seed_low"), r.get(f"{metric}_seed_high")
        if low is not None:
            text += f"; seeds' t 95% CI [{low:.3f}, {high:.3f}]"
        text += ")"
    return text


def _table_block(rows: list[dict], recommendation, metric: str = "auc") -> tuple:
    best = recommendation["best"]["config"] if recommendation else None
    cheapest = recommendation["cheapest"]["config"] if recommendation else None
    header = [
        "#",
        "backbone",
        "approach",
        f"inner {METRICS[metric]} (tuning)",
        f"validation {METRICS[metric]} (selection)",
        *(f"test {METRICS[m]} [95% CI]" for m in METRICS),
        "extract s",
        "train s",
        "infer ms/img",
        "trained params",
        "peak MB",
        "input",
        "device",
    ]
    size_flags, engine_flags = unlike_rows(rows)
    body = []
    for i, r in enumerate(rows, start=1):
        mark = (" ★" if r["config"] == best else "") + (
            " ◆" if r["config"] == cheapest else ""
        )
        seeds = f" ({r['n_seeds']} seeds)" if r["n_seeds"] > 1 else ""
        body.append(
            [
                f"{i}{mark}",
                r["backbone"],
                r["approach"] + seeds,
                _score_text(r.get("inner_score")),
                _validation_text(r),
                *(
                    _test_text(r, m) if m == metric else format_metric(r, m)
                    for m in METRICS
                ),
                format_seconds(r["extract_time_s"]),
                format_seconds(r["train_time_s"]),
                format_ms(r["inference_ms_per_image"]),
                format_count(r["trainable_params"]),
                format_mb(r["peak_memory_mb"]),
                _size(r["input_size"]) + (" ‡" if r["config"] in size_flags else ""),
                (r["device"] or "–") + (" †" if r["config"] in engine_flags else ""),
            ]
        )
    return ("table", header, body)


def unlike_rows(rows: list[dict]) -> tuple[set, set]:
    """Rows whose input size, and rows whose engine, differ from the most common.

    Returns
    -------
    sizes, engines : set of str
        Configurations flagged (empty when every row agrees).
    """

    def odd(key) -> set:
        values = [str(r.get(key)) for r in rows]
        if len(set(values)) < 2:
            return set()
        common = max(dict.fromkeys(values), key=values.count)
        return {r["config"] for r, v in zip(rows, values, strict=True) if v != common}

    return odd("input_size"), odd("engine")


def _unlike_note(rows: list[dict]) -> str | None:
    sizes, engines = unlike_rows(rows)
    notes = []
    if sizes:
        notes.append(
            "‡ input size differs from the other rows' (the comparison mixes the "
            f"approach with the resolution): {', '.join(sorted(sizes))}"
        )
    if engines:
        notes.append(
            "† runs on another engine than the other rows' (its cost is not "
            f"like for like): {', '.join(sorted(engines))}"
        )
    return "; ".join(notes) + "." if notes else None


#: The profile's rows: (label, field, where the time is counted, note).
_CELL_STAGES = (
    ("frozen embeddings", "extraction_s", "once per backbone, shared"),
    ("head tuning (inner CV on training)", "head_tuning_s", "hybrids"),
    ("training epochs", "training_s", "every learning rate tried"),
    ("prediction (validation + test)", "prediction_s", ""),
    ("test metrics (bootstrap CIs)", "evaluation_s", ""),
    ("calibration, operating point", "calibration_s", "validation statistics"),
)
_STUDY_STAGES = (
    ("reading the data, planning", "preparation_s"),
    ("saving each cell's model", "cell_save_s"),
    ("pooled statistics, comparisons", "statistics_s"),
    ("saving the selected models", "model_save_s"),
    ("saliency figure", "saliency_s"),
    ("localisation table (annotations)", "localisation_s"),
)


def timings_blocks(records: list[dict], times: StudyTimes | None) -> list:
    """The "where the time went" table: the cells' stages and this run's others.

    The cells' figures come from their records (the run that computed each
    cell); the study's stages are this run's, up to the report (whose own
    rendering time is in ``study.json``).
    """
    cells = [CellTimes.from_dict(r["timings"]) for r in records if r.get("timings")]
    if not cells and times is None:
        return []
    body = []
    for label, name, note in _CELL_STAGES:
        values = [getattr(c, name) for c in cells if getattr(c, name) is not None]
        if not values:
            continue
        if name == "head_tuning_s":
            fits = sum(c.head_fit_s or 0.0 for c in cells)
            note += f"; then the selected candidates' refits: {fits:.1f} s"
        if name == "training_s":
            known = [c.cached_trunk for c in cells if c.cached_trunk is not None]
            note += f"; cached frozen trunk in {sum(known)} of {len(values)} cells"
        body.append([label, format_seconds(sum(values)), str(len(values)), note])
    for label, name in _STUDY_STAGES if times is not None else ():
        value = getattr(times, name)
        if value is not None:
            body.append([label, format_seconds(value), "–", "this run"])
    if not body:
        return []
    return [
        ("h2", "Where the time went"),
        (
            "p",
            "Wall time by stage (the study's profiler): the cells' stages summed "
            f"over the {len(cells)} profiled cells, as measured by the run that "
            "computed each; the study's stages as measured by the run that wrote "
            "this report (the report's own rendering: `study.json`, `timings`).",
        ),
        ("table", ["stage", "seconds", "cells", "note"], body),
    ]


def _cells_block(cells: list[dict]) -> tuple:
    header = [
        "cell",
        "inner (tuning)",
        "validation",
        *(METRICS[m] for m in METRICS),
        "train s",
        "epochs",
        "lr",
    ]
    body = [
        [
            c["cell"],
            _score_text(c.get("inner_score")),
            f"{c['validation_score']:.3f}",
            *(f"{c[m]:.3f}" for m in METRICS),
            format_seconds(c["train_time_s"]),
            "–" if c["epochs"] is None else str(c["epochs"]),
            "–" if c["lr"] is None else f"{c['lr']:g}",
        ]
        for c in cells
    ]
    return ("table", header, body)


def _recommendation_blocks(rec, metric: str, cost: str, n_test: int) -> list:
    if rec is None:
        return [("p", "No finished cell has a finite score: nothing to recommend.")]
    name = METRICS[metric]
    column, cost_label = COSTS[cost]
    best, cheap = rec["best"], rec["cheapest"]

    def cost_text(row) -> str:
        value = row.get(column)
        if value is None:
            return "cost not measured"
        if column == "trainable_params":
            return f"{format_count(value)} trained parameters"
        if column == "peak_memory_mb":
            return f"{format_mb(value)} MB peak memory"
        if column == "inference_ms_per_image":
            return f"{format_ms(value)} ms per image"
        return f"{format_seconds(value)} s compute"

    items = [
        f"**Selected on validation**: **{best['config']}** ({best['category']}), "
        f"validation {name} {_validation_text(best)}; on the test set (scored "
        f"once, after selection) {name} {format_metric(best, metric)}, "
        f"{cost_text(best)}.",
    ]
    items.append(_optimism_text(rec.get("optimism"), name))
    margin = rec.get("margin", 0.0)
    rule = (
        f"non-inferior on validation: the {CONFIDENCE:.0%} CI lower bound of its "
        f"paired difference to the selected one above -{margin:g}"
    )
    if cheap["config"] == best["config"]:
        items.append(
            f"**Cheaper alternative** ({cost_label}; {rule}): none; no cheaper "
            "configuration is non-inferior."
        )
    else:
        ratio = ""
        b, c = best.get(column), cheap.get(column)
        if b and c:
            ratio = f", {b / c:.1f}x less than the best" if c > 0 else ""
        d = rec["differences"][cheap["config"]]
        items.append(
            f"**Cheaper alternative** ({cost_label}; {rule}): "
            f"**{cheap['config']}** ({cheap['category']}), validation difference "
            f"{d['difference']:+.3f} [{d['ci_low']:+.3f}, {d['ci_high']:+.3f}], "
            f"test {name} {format_metric(cheap, metric)}, {cost_text(cheap)}{ratio}."
        )
    tried = ", ".join(
        f"{c} {d['difference']:+.3f} [{d['ci_low']:+.3f}, {d['ci_high']:+.3f}]"
        for c, d in (rec.get("differences") or {}).items()
    )
    return [
        ("ul", items),
        (
            "p",
            f"Rule: the configuration is **selected by its validation {name}** "
            "(with several seeds, the mean), never by a test result; the cheaper "
            f"alternative has the lowest {cost_label} among the cheaper "
            f"configurations whose paired validation difference to the selected "
            f"one (other minus selected, paired stratified bootstrap) has a "
            f"{CONFIDENCE:.0%} CI lower bound above -{margin:g} "
            f"({tried or 'no cheaper configuration'}). The test set ({n_test} "
            "images) was scored once per finished model, after these choices; the "
            "test ranking of the other rows is **exploratory** (picking the best "
            "test row would overstate its performance: the winner's curse). "
            "★ marks the selected row, ◆ the cheaper alternative.",
        ),
    ]


def _optimism_text(disclosure: dict | None, name: str) -> str:
    """The selected validation score's optimism, or why it is not estimated."""
    if disclosure is None:
        return (
            "**Optimism of the selection**: not estimated (one configuration, or "
            f"a selection metric other than AUC); the selected validation {name} "
            "is the best of several noisy scores and overstates its performance."
        )
    rates = ", ".join(
        f"{c} {r:.0%}" for c, r in disclosure["selection_rates"].items() if r > 0
    )
    low, high = disclosure["interval"]
    return (
        f"**Optimism of the selection**: validation {name} "
        f"{disclosure['validation_score']:.3f} is the best of several; the "
        f"bias-corrected estimate is {disclosure['corrected']:.3f} "
        f"[{low:.3f}, {high:.3f}] ({disclosure['method']}, "
        f"{disclosure['n_resamples']} resamples of the validation predictions), an "
        f"optimism of {disclosure['optimism']:+.3f}. The validation score is what "
        "selection saw, not an estimate; the test score is the estimate. Selected "
        f"in the resamples: {rates}."
    )


def _blocks(results, records, context, figures: dict) -> list:
    rows, rec = results.table, results.recommendation
    metric, cost = context["metric"], context["cost"]
    ds, s = context["dataset"], context["settings"]
    blocks = [
        ("h1", f"Transfer-learning study: {ds['source']}"),
        (
            "p",
            f"Generated {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC by skmedtl "
            f"{context['version']}: {len(results.cells)} of {results.n_cells} cells "
            f"finished ({len(rows)} configurations). Profile "
            f"`{context['profile'].name}`.",
        ),
        ("h2", "Recommendation"),
        *_recommendation_blocks(rec, metric, cost, context["n_test"]),
        ("h2", "Results"),
        (
            "p",
            f"The inner {METRICS[metric]} (tuning, inside the training images) and "
            f"the validation {METRICS[metric]} (what selection uses; no interval: "
            "the selected one is optimistic, see the disclosure below) beside the "
            f"test-set metrics, each with {CONFIDENCE:.0%} stratified percentile "
            f"bootstrap confidence intervals ({s.get('n_bootstraps')} resamples); "
            "with several seeds, the mean over seeds, the interval of that mean and "
            "the SD over seeds. "
            "Only the selected row's test values are confirmatory; the others are "
            "exploratory. The same numbers, unrounded, are in `results.csv` (per "
            "seed: `cells.csv`; per test image: `predictions.csv`).",
        ),
        _table_block(rows, rec, metric),
        (
            "ul",
            [
                "**extract s**: embedding the development and test images with the "
                "frozen backbone (once per backbone; shared by its frozen approaches; "
                "measured when computed, reused from the log on resume, or estimated "
                "from an uncached sample when the embedding cache already held them).",
                "**train s**: model fitting on the training images, hyperparameter "
                "search included (hybrid heads: every grid candidate cross-validated "
                "inside the training images, then the choice refitted on all of "
                "them; trained approaches: every learning rate tried).",
                "**infer ms/img**: predicting the test set, per image, from the image "
                "(frozen approaches: embedding + head).",
                "**trained params**: parameters that training changed (fine-tuning: "
                "the trainable network parameters; hybrids: what the head learned - "
                "coefficients, dual coefficients, or tree nodes).",
                f"**peak MB**: {MEMORY_HELP} Frozen approaches: the larger of the "
                "shared extraction's peak and their own.",
                "**compute time** (the 'time' cost): the training side (embedding "
                "the development images, training, tuning) plus predicting the test "
                "set from its images, charged alike for every approach.",
                *([_unlike_note(rows)] if _unlike_note(rows) else []),
            ],
        ),
        ("h2", "Figures"),
    ]
    blocks[-1:-1] = per_label_blocks(records, rec)  # multi-label studies only
    blocks[-1:-1] = timings_blocks(records, context.get("timings"))
    blocks[-1:-1] = localisation_blocks(context.get("localisation"))
    captions = {
        "performance_vs_cost": "Performance against compute time and inference time "
        "(in the spirit of Fig. 6 of Kim et al. 2022). Colour: approach; marker: "
        "backbone; bars: 95% CI.",
        "cost_by_backbone": "Per backbone: its approaches by performance and compute "
        "time.",
        "cost_by_approach": "Per approach: the backbones by performance and compute "
        "time.",
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
    captions["reliability"] = (
        "Reliability diagrams (test set, seed-mean probabilities, "
        "equal-mass bins) of the selected configuration and the cheaper "
        "alternative; the dotted line is perfect calibration."
        + (
            " Multi-label: one curve per configuration over every (image, label) "
            "pair, labels pooled."
            if Task.of_records(records).per_label
            else ""
        )
    )
    for name, path in figures.items():
        blocks.append(("img", path, captions.get(name, name)))
    blocks += statistics_blocks(results, context)
    blocks += context.get("extra_blocks") or []  # learning curves, external sets
    blocks += [
        ("h2", "Methods (for a paper)"),
        ("p", methods_paragraph(results, context)),
        ("h2", "Limitations"),
        ("ul", limitations(results, context)),
    ]
    blocks += [("h2", "Data and protocol"), ("ul", _data_items(ds, context))]
    blocks += [("h2", "Settings"), ("ul", _settings_items(s))]
    if any(r["n_seeds"] > 1 for r in rows):
        blocks += [("h2", "Per seed"), _cells_block(results.cells)]
    selection = [
        f"{c['cell']}: {_selection_text(c['selection'])}"
        for c in results.cells
        if c.get("selection")
    ]
    if selection:
        blocks += [
            ("h2", "Hyperparameters chosen inside the training images"),
            ("ul", selection),
        ]
    if results.failures:
        blocks += [
            ("h2", "Failed cells"),
            ("ul", [f"{f['cell']}: {f['error']}" for f in results.failures]),
        ]
    if len(results.cells) < results.n_cells:
        blocks.append(
            (
                "p",
                f"**Incomplete**: {results.n_cells - len(results.cells)} cells have "
                "no result yet; run the study again to finish them.",
            )
        )
    return blocks


def _selection_text(selection: dict) -> str:
    inner = selection.get("inner_score")
    inner_text = "" if inner is None else f"inner score {inner:.3f}, "
    if "params" in selection:
        params = ", ".join(f"{k}={v}" for k, v in selection["params"].items())
        note = f"; {selection['inner_note']}" if selection.get("inner_note") else ""
        return (
            f"{params} ({selection['scheme']}{note}, {inner_text}validation score "
            f"{selection['validation_score']:.3f}, {selection['n_candidates']} "
            "candidates)"
        )
    if "inner_loss" in selection:
        lrs = selection["lrs_tried"]
        lr_text = (
            f"lr={selection['lr']:g} chosen of {lrs}"
            if len(lrs) > 1
            else f"lr={selection['lr']:g}"
        )
        return (
            f"{lr_text} ({selection['scheme']}; inner loss "
            f"{selection['inner_loss']:.4f}, {inner_text}best epoch "
            f"{selection['best_epoch']} of at most {selection['max_epochs']}, "
            f"patience {selection['patience']})"
        )
    return (
        f"lr={selection['lr']:g} of {selection['lrs_tried']} (validation loss "
        f"{selection['validation_loss']:.4f}, best epoch {selection['best_epoch']},"
        f" validation share {selection['validation_fraction']:.0%})"
    )


def _data_items(ds: dict, context: dict | None = None) -> list[str]:
    counts = ds["counts"]
    parts = []
    for split in ("train", "val", "test"):
        n = ds.get("n_per_split", {}).get(split)  # multi-label: images per split
        n = sum(counts[split].values()) if n is None else n
        if n:
            per_class = ", ".join(f"{k}: {v}" for k, v in counts[split].items())
            parts.append(f"{split} {n} ({per_class})")
    items = [
        f"Source: {ds['source']}; {ds['n_images']} images, classes: "
        f"{', '.join(ds['classes'])}.",
        f"Splits: {'; '.join(parts)}.",
        f"Test set: {ds['test_protocol']}; touched only to score each finished model.",
        f"Validation: {(context or {}).get('validation', ds['validation'])} "
        f"({(context or {}).get('n_validation', '?')} images), the same for every "
        "cell. Every model is fitted and tuned on the training images only: "
        "hybrid heads choose their hyperparameters by inner cross-validation of "
        "the training images, trained approaches take early stopping, best epoch "
        "and learning rate from a share of the training images held out. The "
        "validation images are predicted once per model: the configuration is "
        "selected by its validation score, and recalibration and the operating "
        "point are fitted there.",
    ]
    if ds.get("positive_class") is not None:
        items.append(
            f"Positive class (sensitivity): {ds['positive_class']}. Predictions take "
            "the most probable class; every approach weights classes as 'balanced'."
        )
    items.append(
        "Patients: "
        + (
            f"{ds['groups']} groups; no group is on two sides of a split."
            if ds.get("groups")
            else "no patient ids given (images are assumed independent)."
        )
    )
    return items


def _settings_items(s: dict) -> list[str]:
    def size(v):
        return "native" if v is None else f"{v} px"

    return [
        f"Profile: {s.get('profile')} ({s.get('profile_description')}); explicit "
        "options override it.",
        f"Backbones: {', '.join(s.get('backbones', []))}; weights: {s.get('weights')}.",
        f"Approaches: {', '.join(s.get('approaches', []))}.",
        f"Seeds: {s.get('seeds')}; selection metric: {s.get('metric')}; cost: "
        f"{s.get('cost')}.",
        f"Input size: frozen approaches {size(s.get('input_size'))}, trained "
        f"approaches {size(s.get('train_input_size'))}.",
        f"Training: at most {s.get('max_epochs')} epochs (patience "
        f"{s.get('patience')}), feature_extractor head {s.get('head_max_epochs')} "
        f"epochs; learning rates {s.get('lrs')}; batch size {s.get('batch_size')}; "
        f"hybrid grids '{s.get('head_grid')}', searched by inner CV of the training "
        "images.",
        f"Device: {s.get('device')}.",
    ]


# -- renderers ------------------------------------------------------------------------
def _markdown(blocks, out: Path) -> str:
    lines = []
    for block in blocks:
        kind = block[0]
        if kind == "h1":
            lines += [f"# {block[1]}", ""]
        elif kind == "h2":
            lines += [f"## {block[1]}", ""]
        elif kind == "p":
            lines += [block[1], ""]
        elif kind == "ul":
            lines += [f"- {item}" for item in block[1]] + [""]
        elif kind == "table":
            header, body = block[1], block[2]
            lines.append("| " + " | ".join(header) + " |")
            lines.append("|" + "|".join("---" for _ in header) + "|")
            lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in body]
            lines.append("")
        elif kind == "img":
            rel = Path(os.path.relpath(block[1], out)).as_posix()
            lines += [f"![{block[2]}]({rel})", "", f"*{block[2]}*", ""]
    return "\n".join(lines)


def _inline(text: str) -> str:
    """Markdown ``**bold**`` and ``code`` spans to HTML (text escaped)."""
    out, bold, code = [], False, False
    i = 0
    text = html.escape(text)
    while i < len(text):
        if text.startswith("**", i) and not code:
            out.append("</b>" if bold else "<b>")
            bold = not bold
            i += 2
        elif text[i] == "`":
            out.append("</code>" if code else "<code>")
            code = not code
            i += 1
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;
max-width:1360px;padding:0 1em;color:#222;line-height:1.45}
.table{overflow-x:auto;margin:1em 0}
table{border-collapse:collapse;font-size:0.8em}
th,td{border:1px solid #ccc;padding:3px 5px;text-align:right;white-space:nowrap}
th{background:#f3f3f3;white-space:normal;vertical-align:bottom}
td:nth-child(2),td:nth-child(3),td:first-child{text-align:left}
table.device td:last-child{white-space:normal;min-width:8em;text-align:left}
.ci{color:#666;font-size:0.9em}
figure{margin:1.5em 0}img{max-width:100%}figcaption{font-size:0.9em;color:#555}
code{background:#f3f3f3;padding:0 3px}
"""


def _table_class(header) -> str:
    return "results device" if header and header[-1] == "device" else "results"


def _header_cell(text: str) -> str:
    """A header whose interval note goes on its own line (narrow columns)."""
    head, sep, tail = str(text).partition(" [")
    if not sep:
        return html.escape(head)
    return f"{html.escape(head)}<br><span class='ci'> [{html.escape(tail)}</span>"


def _value_cell(value) -> str:
    """``0.867 [0.765, 0.948]`` as the estimate over its interval, smaller.

    The text stays the Markdown cell's (the space before ``[`` is kept, and
    collapses at the start of the line), so copied values read the same.
    """
    estimate, sep, interval = str(value).partition(" [")
    if not sep or not interval.endswith("]"):
        return html.escape(str(value))
    interval = html.escape(interval)
    return f"{html.escape(estimate)}<br><span class='ci'> [{interval}</span>"


def _html(blocks) -> str:
    parts = [
        "<!DOCTYPE html>",
        "<html lang='en'><head><meta charset='utf-8'>",
        f"<title>{html.escape(blocks[0][1])}</title><style>{_CSS}</style>",
        "</head><body>",
    ]
    for block in blocks:
        kind = block[0]
        if kind in ("h1", "h2"):
            parts.append(f"<{kind}>{_inline(block[1])}</{kind}>")
        elif kind == "p":
            parts.append(f"<p>{_inline(block[1])}</p>")
        elif kind == "ul":
            parts.append(
                "<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in block[1]) + "</ul>"
            )
        elif kind == "table":
            header, body = block[1], block[2]
            parts.append(
                # A free-text last column (the device) wraps; numbers never do.
                f"<div class='table'><table class='{_table_class(header)}'>"
                "<thead><tr>"
                + "".join(f"<th>{_header_cell(h)}</th>" for h in header)
                + "</tr></thead><tbody>"
            )
            for row in body:
                parts.append(
                    "<tr>"
                    + "".join(f"<td>{_value_cell(c)}</td>" for c in row)
                    + "</tr>"
                )
            parts.append("</tbody></table></div>")
        elif kind == "img":
            data = base64.b64encode(Path(block[1]).read_bytes()).decode("ascii")
            parts.append(
                f"<figure><img alt='{html.escape(block[2], quote=True)}' "
                f"src='data:image/png;base64,{data}'><figcaption>"
                f"{html.escape(block[2])}</figcaption></figure>"
            )
    parts.append("</body></html>")
    return "\n".join(parts)


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


def _write_text(path: Path, text: str) -> None:
    atomic_write_text(path, text)


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
    figures = plot_all(
        results.table,
        records,
        context["metric"],
        results.recommendation,
        out / "figures",
    )
    rec = results.recommendation
    if rec is not None:
        groups: dict = {}
        for r in records:
            groups.setdefault(f"{r['backbone']} / {r['approach']}", []).append(r)
        if per_label:  # one curve over every (image, label) pair
            groups = {c: pooled_reliability_records(g) for c, g in groups.items()}
        configs = list(
            dict.fromkeys([rec["best"]["config"], rec["cheapest"]["config"]])
        )
        path = out / "figures" / "reliability.png"
        plot_reliability(
            groups,
            configs,
            path,
            xlabel="predicted probability (every label, pooled)" if per_label else None,
        )
        figures["reliability"] = path
    figures.update(context.get("extra_figures") or {})
    context = {**context, "version": __version__}
    blocks = _blocks(results, records, context, figures)
    files["markdown"] = out / "report.md"
    files["html"] = out / "report.html"
    _write_text(files["markdown"], _markdown(blocks, out))
    _write_text(files["html"], _html(blocks))
    files.update(figures)
    return {k: os.fspath(v) for k, v in files.items()}
