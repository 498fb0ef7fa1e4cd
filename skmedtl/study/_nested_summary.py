"""The numbers of a nested cross-validation, from its fold records.

Per outer fold the study's own selection rule (:func:`~._summary.summarize`,
:func:`~._summary.recommend`) picks a configuration from the fold's validation
scores; the fold's outer test score of that configuration is the procedure's
score in the fold. Over folds: each configuration's mean and SD, how often each
was selected, and the procedure's estimate (mean, SD, t-interval).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..utils._files import atomic_write_text
from ._records import to_json
from ._summary import recommend, summarize

__all__ = [
    "ConfigFolds",
    "FoldResult",
    "NestedSummary",
    "nested_key",
    "record_nested",
    "summarize_nested",
]

#: Key of the nested cross-validation in ``study.json``.
MANIFEST_KEY = "nested_cv"


@dataclass(frozen=True)
class FoldResult:
    """One outer fold: its sizes, the configuration selected, its scores.

    ``selected`` is ``None`` when a cell of the fold has not finished (the fold
    then takes no part in the estimate). ``scores`` maps each configuration to
    its ``[validation, outer test]`` score of the metric.
    """

    fold: int
    sizes: dict
    complete: bool
    selected: str | None
    selected_validation: float | None
    selected_test: float | None
    scores: dict


@dataclass(frozen=True)
class ConfigFolds:
    """One configuration over the complete folds: outer test mean and SD."""

    config: str
    test_mean: float | None
    test_sd: float | None
    validation_mean: float | None
    n_folds: int
    n_selected: int


@dataclass(frozen=True)
class NestedSummary:
    """Everything the report says about the nested cross-validation.

    ``estimate`` is the mean over complete folds of the selected
    configuration's outer test score, ``sd`` its SD over folds and
    ``low``/``high`` a 95% t-interval of the mean.
    """

    k: int
    requested: str
    grouped: bool
    random_state: int
    metric: str
    n_complete: int
    folds: list[FoldResult]
    configs: list[ConfigFolds]
    estimate: float | None
    sd: float | None
    low: float | None
    high: float | None
    selected_validation_mean: float | None
    study_selected: str | None

    def to_dict(self) -> dict:
        """The JSON form written to ``study.json``."""
        return asdict(self)


def _sd(values) -> float | None:
    return float(np.std(values, ddof=1)) if len(values) > 1 else None


def _mean(values) -> float | None:
    return float(np.mean(values)) if len(values) else None


def t_interval(values) -> tuple[float | None, float | None]:
    """95% t-interval of the mean of ``values`` (``None`` with fewer than 2),
    clipped to [0, 1], the range of every selection metric."""
    from scipy.stats import t

    if len(values) < 2:
        return None, None
    half = (
        t.ppf(0.975, len(values) - 1) * np.std(values, ddof=1) / math.sqrt(len(values))
    )
    mean = float(np.mean(values))
    return max(0.0, mean - half), min(1.0, mean + half)


def fold_result(plan, fold, records: dict, study) -> FoldResult:
    """The fold's selection by the study's rule, from its finished records."""
    cells = [c.cell for c in plan.cells if c.fold == fold.index]
    groups = None if study.data_.groups is None else np.asarray(study.data_.groups)
    sizes = fold.sizes(groups)
    complete = all(c.key in records for c in cells)
    rows, _, _ = summarize(
        cells,
        records,
        study.profile_.n_bootstraps,
        metric=study.metric,
        task=study.task,
    )
    scores = {r["config"]: [r["validation_score"], r[study.metric]] for r in rows}
    rec = recommend(rows, study.metric, study.cost) if complete else None
    if rec is None:
        return FoldResult(fold.index, sizes, False, None, None, None, scores)
    best = rec["best"]
    return FoldResult(
        fold.index,
        sizes,
        True,
        best["config"],
        float(best["validation_score"]),
        float(best[study.metric]),
        scores,
    )


def summarize_nested(study, selected: str | None = None) -> NestedSummary | None:
    """The nested cross-validation of a prepared study (``None``: not run).

    ``selected``: the single-split study's selected configuration.
    """
    plan = getattr(study, "nested_", None)
    if plan is None:
        return None
    records = study._store.latest("nested")
    folds = [fold_result(plan, f, records, study) for f in plan.folds]
    complete = [f for f in folds if f.complete]
    names = list(dict.fromkeys(k for f in folds for k in f.scores))
    configs = []
    for name in names:
        tests = [f.scores[name][1] for f in complete if name in f.scores]
        vals = [f.scores[name][0] for f in complete if name in f.scores]
        configs.append(
            ConfigFolds(
                name,
                _mean(tests),
                _sd(tests),
                _mean(vals),
                len(tests),
                sum(f.selected == name for f in complete),
            )
        )
    outer = [f.selected_test for f in complete]
    low, high = t_interval(outer)
    return NestedSummary(
        plan.k,
        plan.requested,
        plan.grouped,
        plan.random_state,
        study.metric,
        len(complete),
        folds,
        configs,
        _mean(outer),
        _sd(outer),
        low,
        high,
        _mean([f.selected_validation for f in complete]),
        selected,
    )


def record_nested(study, out: Path, recommendation) -> NestedSummary | None:
    """Summarise the folds, write them to ``study.json``; sets ``nested_results_``.

    ``recommendation``: the single-split study's (its selected configuration is
    compared with the folds' selections), or ``None``.
    """
    selected = None if not recommendation else recommendation["best"]["config"]
    summary = summarize_nested(study, selected)
    study.nested_results_ = summary
    path = out / "study.json"
    if summary is None or not path.exists():
        return summary
    written = json.loads(path.read_text(encoding="utf-8"))
    written[MANIFEST_KEY] = summary.to_dict()
    atomic_write_text(path, to_json(written, indent=2))
    return summary


def nested_key(study) -> dict:
    """The fold records, for the outputs' key ({} without nested CV)."""
    plan = getattr(study, "nested_", None)
    if plan is None:
        return {}
    records = study._store.latest("nested")
    return {"nested": [records.get(c.cell.key) for c in plan.cells]}
