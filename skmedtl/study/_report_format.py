"""Numbers as report text: the only place a study's figures become words.

Every table and sentence of the report formats its estimates, intervals,
p-values, times and sizes with these functions, so a value reads the same
wherever it appears (``"0.880 [0.831, 0.925]"``, ``"n/a"`` for a missing or
NaN estimate, ``"–"`` for an unmeasured cost).
"""

from __future__ import annotations

__all__ = [
    "format_count",
    "format_mb",
    "format_metric",
    "format_ms",
    "format_seconds",
    "format_size",
    "interval_text",
    "p_text",
    "row_interval",
    "score_text",
    "seeded_metric_text",
    "thresholds_text",
    "validation_text",
]


def _missing(value) -> bool:
    return value is None or value != value


def interval_text(estimate, low=None, high=None) -> str:
    """``"0.880 [0.831, 0.925]"``; the estimate alone without a finite interval.

    Examples
    --------
    >>> interval_text(0.88, 0.831, 0.925)
    '0.880 [0.831, 0.925]'
    >>> interval_text(0.88, float("nan"), float("nan"))
    '0.880'
    >>> interval_text(float("nan"))
    'n/a'
    """
    if _missing(estimate):
        return "n/a"
    if _missing(low):
        return f"{estimate:.3f}"
    return f"{estimate:.3f} [{low:.3f}, {high:.3f}]"


def row_interval(row: dict, name: str) -> str:
    """:func:`interval_text` of ``row[name]`` and its ``_low`` / ``_high``."""
    return interval_text(row.get(name), row.get(f"{name}_low"), row.get(f"{name}_high"))


def format_metric(row: dict, metric: str) -> str:
    """``"0.880 [0.831, 0.925]"`` of a results row (``"n/a"`` when not measured)."""
    est = row.get(metric)  # absent: not measured (e.g. Brier of multi-label)
    if _missing(est):
        return "n/a"
    low, high = row[f"{metric}_low"], row[f"{metric}_high"]
    return f"{est:.3f} [{low:.3f}, {high:.3f}]"


def format_seconds(value) -> str:
    """Seconds with one decimal, ``"–"`` when not measured."""
    return "–" if value is None else f"{value:.1f}"


def format_ms(value) -> str:
    """Milliseconds with two decimals, ``"–"`` when not measured."""
    return "–" if value is None else f"{value:.2f}"


def format_count(value) -> str:
    """An integer with thousands separators, ``"–"`` when not measured."""
    return "–" if value is None else f"{int(value):,}"


def format_mb(value) -> str:
    """Megabytes without decimals, ``"–"`` when not measured."""
    return "–" if value is None else f"{value:.0f}"


def format_size(value) -> str:
    """An input size: ``"224"``, ``"224x192"``, ``"–"`` when unrecorded."""
    if not value:
        return "–"
    return "x".join(str(v) for v in value) if isinstance(value, list) else str(value)


def score_text(value) -> str:
    """A score without an interval (``"n/a"`` when missing)."""
    return "n/a" if _missing(value) else f"{value:.3f}"


def validation_text(row: dict) -> str:
    """The validation score, with its SD over seeds; never an interval.

    The selected configuration's validation score is optimistic (it won the
    selection), so no interval is given that would read as an estimate.
    """
    est = row.get("validation_score")
    if _missing(est):
        return "n/a"
    text = f"{est:.3f}"
    if row.get("validation_sd") is not None:
        text += f" (SD {row['validation_sd']:.3f})"
    return text


def seeded_metric_text(row: dict, metric: str) -> str:
    """The test metric with its interval and, over seeds, its SD and t interval."""
    text = format_metric(row, metric)
    if row.get(f"{metric}_sd") is not None:
        text += f" (SD {row[f'{metric}_sd']:.3f}"
        low, high = row.get(f"{metric}_seed_low"), row.get(f"{metric}_seed_high")
        if low is not None:
            text += f"; seeds' t 95% CI [{low:.3f}, {high:.3f}]"
        text += ")"
    return text


def p_text(value) -> str:
    """A p-value: ``"<0.001"``, ``"0.042"``, ``"–"`` when not computed."""
    if value is None:
        return "–"
    return "<0.001" if value < 0.001 else f"{value:.3f}"


def thresholds_text(value) -> str:
    """A decision threshold, or several (one per seed) separated by ``;``."""
    if value is None:
        return "–"
    if isinstance(value, list):
        return "; ".join(f"{v:.3f}" for v in value)
    return f"{value:.3f}"
