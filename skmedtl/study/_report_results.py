"""The report's results section: one row per configuration, one per seed.

The main table puts the inner (tuning) and validation (selection) scores beside
the test metrics with their intervals and the measured costs; rows whose input
size or engine differ from the others' are flagged, so a comparison that mixes
the approach with the resolution or the engine reads as such.
"""

from __future__ import annotations

from ..metrics import CONFIDENCE
from ._evaluate import METRICS
from ._measure import MEMORY_HELP
from ._report_format import (
    format_count,
    format_mb,
    format_metric,
    format_ms,
    format_seconds,
    format_size,
    score_text,
    seeded_metric_text,
    validation_text,
)

__all__ = ["cells_table", "results_blocks", "results_table", "unlike_rows"]


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


def _results_header(metric: str) -> list[str]:
    return [
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


def _marks(config: str, recommendation) -> str:
    """★ on the selected row, ◆ on the cheaper alternative."""
    if not recommendation:
        return ""
    best = recommendation["best"]["config"]
    cheapest = recommendation["cheapest"]["config"]
    return (" ★" if config == best else "") + (" ◆" if config == cheapest else "")


def results_table(rows: list[dict], recommendation, metric: str = "auc") -> tuple:
    """The main table: scores, test metrics with intervals, costs, input, device."""
    size_flags, engine_flags = unlike_rows(rows)
    body = []
    for i, r in enumerate(rows, start=1):
        seeds = f" ({r['n_seeds']} seeds)" if r["n_seeds"] > 1 else ""
        body.append(
            [
                f"{i}{_marks(r['config'], recommendation)}",
                r["backbone"],
                r["approach"] + seeds,
                score_text(r.get("inner_score")),
                validation_text(r),
                *(
                    seeded_metric_text(r, m) if m == metric else format_metric(r, m)
                    for m in METRICS
                ),
                format_seconds(r["extract_time_s"]),
                format_seconds(r["train_time_s"]),
                format_ms(r["inference_ms_per_image"]),
                format_count(r["trainable_params"]),
                format_mb(r["peak_memory_mb"]),
                format_size(r["input_size"])
                + (" ‡" if r["config"] in size_flags else ""),
                (r["device"] or "–") + (" †" if r["config"] in engine_flags else ""),
            ]
        )
    return ("table", _results_header(metric), body)


#: What each cost column of the results table measures.
COLUMN_NOTES = (
    "**extract s**: embedding the development and test images with the "
    "frozen backbone (once per backbone; shared by its frozen approaches; "
    "measured when computed, reused from the log on resume, or estimated "
    "from an uncached sample when the embedding cache already held them).",
    "**train s**: model fitting on the training images, hyperparameter "
    "search included (hybrid heads: every grid candidate scored inside the "
    "training images, by inner folds and then the choice refitted on all of "
    "them, or, for a forest without patient ids, by its trees' out-of-bag "
    "predictions; trained approaches: every learning rate tried).",
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
)


def _results_intro(metric: str, n_bootstraps) -> str:
    name = METRICS[metric]
    return (
        f"The inner {name} (tuning, inside the training images) and "
        f"the validation {name} (what selection uses; no interval: "
        "the selected one is optimistic, see the disclosure below) beside the "
        f"test-set metrics, each with {CONFIDENCE:.0%} stratified percentile "
        f"bootstrap confidence intervals ({n_bootstraps} resamples); "
        "with several seeds, the mean over seeds, the interval of that mean and "
        "the SD over seeds. "
        "Only the selected row's test values are confirmatory; the others are "
        "exploratory. The same numbers, unrounded, are in `results.csv` (per "
        "seed: `cells.csv`; per test image: `predictions.csv`)."
    )


def results_blocks(rows: list[dict], recommendation, metric: str, n_bootstraps) -> list:
    """The "Results" section: its introduction, the table, the column notes."""
    note = _unlike_note(rows)
    return [
        ("h2", "Results"),
        ("p", _results_intro(metric, n_bootstraps)),
        results_table(rows, recommendation, metric),
        ("ul", [*COLUMN_NOTES, *([note] if note else [])]),
    ]


def cells_table(cells: list[dict]) -> tuple:
    """One row per cell (backbone x approach x seed): scores, metrics, training."""
    names = [METRICS[m] for m in METRICS]
    header = ["cell", "inner (tuning)", "validation", *names, "train s", "epochs", "lr"]
    body = [
        [
            c["cell"],
            score_text(c.get("inner_score")),
            f"{c['validation_score']:.3f}",
            *(f"{c[m]:.3f}" for m in METRICS),
            format_seconds(c["train_time_s"]),
            "–" if c["epochs"] is None else str(c["epochs"]),
            "–" if c["lr"] is None else f"{c['lr']:g}",
        ]
        for c in cells
    ]
    return ("table", header, body)
