"""The report's recommendation: the selected configuration and a cheaper one.

The configuration is selected by its validation score; the cheaper
alternative is the cheapest configuration non-inferior to it on validation.
Both are then stated with their test scores (scored once, after selection),
with the optimism of the selection disclosed.
"""

from __future__ import annotations

from ..metrics import CONFIDENCE
from ._choices import COSTS
from ._evaluate import METRICS
from ._report_format import (
    format_count,
    format_mb,
    format_metric,
    format_ms,
    format_seconds,
    validation_text,
)

__all__ = ["cost_text", "optimism_text", "recommendation_blocks"]


def cost_text(row: dict, column: str) -> str:
    """The cost of ``row`` in ``column`` (a ``COSTS`` column), in words."""
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


def _difference_text(d: dict) -> str:
    return f"{d['difference']:+.3f} [{d['ci_low']:+.3f}, {d['ci_high']:+.3f}]"


def _selected_item(best: dict, metric: str, column: str) -> str:
    name = METRICS[metric]
    return (
        f"**Selected on validation**: **{best['config']}** ({best['category']}), "
        f"validation {name} {validation_text(best)}; on the test set (scored "
        f"once, after selection) {name} {format_metric(best, metric)}, "
        f"{cost_text(best, column)}."
    )


def optimism_text(disclosure: dict | None, name: str) -> str:
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


def _cheaper_item(rec: dict, metric: str, cost: str) -> str:
    column, cost_label = COSTS[cost]
    best, cheap = rec["best"], rec["cheapest"]
    rule = (
        f"non-inferior on validation: the {CONFIDENCE:.0%} CI lower bound of its "
        f"paired difference to the selected one above -{rec.get('margin', 0.0):g}"
    )
    if cheap["config"] == best["config"]:
        return (
            f"**Cheaper alternative** ({cost_label}; {rule}): none; no cheaper "
            "configuration is non-inferior."
        )
    ratio = ""
    b, c = best.get(column), cheap.get(column)
    if b and c:
        ratio = f", {b / c:.1f}x less than the best" if c > 0 else ""
    d = rec["differences"][cheap["config"]]
    return (
        f"**Cheaper alternative** ({cost_label}; {rule}): "
        f"**{cheap['config']}** ({cheap['category']}), validation difference "
        f"{_difference_text(d)}, test {METRICS[metric]} "
        f"{format_metric(cheap, metric)}, {cost_text(cheap, column)}{ratio}."
    )


def _rule_paragraph(rec: dict, metric: str, cost: str, n_test: int) -> str:
    name, cost_label = METRICS[metric], COSTS[cost][1]
    tried = ", ".join(
        f"{c} {_difference_text(d)}" for c, d in (rec.get("differences") or {}).items()
    )
    return (
        f"Rule: the configuration is **selected by its validation {name}** "
        "(with several seeds, the mean), never by a test result; the cheaper "
        f"alternative has the lowest {cost_label} among the cheaper "
        f"configurations whose paired validation difference to the selected "
        f"one (other minus selected, paired stratified bootstrap) has a "
        f"{CONFIDENCE:.0%} CI lower bound above -{rec.get('margin', 0.0):g} "
        f"({tried or 'no cheaper configuration'}). The test set ({n_test} "
        "images) was scored once per finished model, after these choices; the "
        "test ranking of the other rows is **exploratory** (picking the best "
        "test row would overstate its performance: the winner's curse). "
        "★ marks the selected row, ◆ the cheaper alternative."
    )


def recommendation_blocks(rec, metric: str, cost: str, n_test: int) -> list:
    """The "Recommendation" section's list and the rule that made it."""
    if rec is None:
        return [("p", "No finished cell has a finite score: nothing to recommend.")]
    items = [
        _selected_item(rec["best"], metric, COSTS[cost][0]),
        optimism_text(rec.get("optimism"), METRICS[metric]),
        _cheaper_item(rec, metric, cost),
    ]
    return [("ul", items), ("p", _rule_paragraph(rec, metric, cost, n_test))]
