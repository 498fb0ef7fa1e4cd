"""The statistics of a study beyond the headline metrics.

Per cell: the validation score (what selection uses), recalibration fitted on
validation, the operating point chosen on validation, and on the test set
calibration (Brier, ECE), sensitivity / specificity at the chosen threshold,
per-class AUCs and ordinal agreement, each with a bootstrap CI. Per
configuration: the same pooled over seeds. Across configurations: paired
comparisons of the selected configuration with every other, Holm-corrected.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats as _scipy_stats

from ..metrics import (
    BOOTSTRAP_SEED,
    CONFIDENCE,
    ProbabilityCalibrator,
    bootstrap,
    brier_score,
    choose_threshold,
    expected_calibration_error,
    holm,
    ordinal_mae,
    paired_bootstrap,
    pooled_delong_test,
    quadratic_weighted_kappa,
)
from ..metrics._report import _binary_auc
from ._task import Task

__all__ = [
    "ECE_BINS",
    "THRESHOLD_RULES",
    "cell_statistics",
    "compare_configurations",
    "pooled_extras",
    "pooled_validation",
    "score",
    "selection_disclosure",
    "validation_difference",
]

#: Equal-mass bins of every expected calibration error a study reports.
ECE_BINS = 10
ALPHA = 0.05
#: How the operating point is chosen on validation.
THRESHOLD_RULES = ("youden", "sensitivity", "specificity")


# -- scores ---------------------------------------------------------------------------
def score(metric: str, y: np.ndarray, proba: np.ndarray) -> float:
    """``metric`` of probabilities ``proba`` (columns 0..k-1) for labels ``y``.

    ``"auc"`` is the AUC of the last column for two classes and the macro
    one-vs-rest AUC for more.
    """
    proba = np.asarray(proba, dtype=float)
    k = proba.shape[1]
    if metric == "auc":
        if k == 2:
            return _binary_auc(y == 1, proba[:, 1])
        return float(np.nanmean([_binary_auc(y == c, proba[:, c]) for c in range(k)]))
    pred = proba.argmax(axis=1)
    if metric == "accuracy":
        return float(np.mean(pred == y))
    if metric == "balanced_accuracy":
        return float(np.mean([np.mean(pred[y == c] == c) for c in np.unique(y)]))
    raise ValueError(f"Unknown metric {metric!r}.")


def _bootstrap(y: np.ndarray, fn, n_bootstraps: int, stratify: bool = True) -> tuple:
    """Estimate and percentile CI of ``fn(idx)`` (the one resampler of metrics)."""
    result = bootstrap(fn, y, n_resamples=n_bootstraps, stratify=stratify)
    return tuple(np.atleast_1d(v) for v in (result.estimate, result.low, result.high))


def _triples(names, estimate, low, high) -> dict:
    return {
        n: [float(estimate[i]), float(low[i]), float(high[i])]
        for i, n in enumerate(names)
    }


# -- one cell -------------------------------------------------------------------------
def cell_statistics(
    *,
    y_val: np.ndarray,
    proba_val: np.ndarray,
    y_test: np.ndarray,
    proba_test: np.ndarray,
    metric: str,
    calibrate: str,
    threshold_rule: str,
    target: float | None,
    task: str,
    n_bootstraps: int,
) -> dict:
    """Validation score, recalibration, operating point and test extras of a cell.

    Labels are class indices in report order (for two classes the positive one
    is 1); probabilities have their columns in the same order.
    """
    k = proba_test.shape[1]
    result = {
        "validation": {
            "metric": metric,
            "score": score(metric, y_val, proba_val),
            "n": len(y_val),
        },
        "val_y": y_val.tolist(),
        "val_proba": proba_val.tolist(),
        "test_proba": proba_test.tolist(),
        "calibration": {"method": calibrate, "bins": ECE_BINS, "strategy": "quantile"},
        "test_proba_calibrated": None,
    }
    final_val, final_test = proba_val, proba_test
    if calibrate != "none":
        calibrator = ProbabilityCalibrator(calibrate).fit(proba_val, y_val)
        final_val = calibrator.predict_proba(proba_val)
        final_test = calibrator.predict_proba(proba_test)
        result["test_proba_calibrated"] = final_test.tolist()
        if calibrate == "temperature":
            result["calibration"]["temperature"] = calibrator.calibrators_[
                0
            ].temperature_
    if k == 2:
        kwargs = {}
        if threshold_rule == "sensitivity":
            kwargs["target_sensitivity"] = target
        elif threshold_rule == "specificity":
            kwargs["target_specificity"] = target
        threshold = choose_threshold(
            y_val, final_val[:, 1], method=threshold_rule, pos_label=1, **kwargs
        )
        result["operating_point"] = {
            "rule": threshold_rule,
            "target": target,
            "threshold": float(threshold),
            "on": "calibrated" if calibrate != "none" else "predicted",
        }
    result["extras"] = pooled_extras([result], y_test, task, n_bootstraps)
    return result


def _extra_names(record: dict, k: int, task: str) -> list[str]:
    names = ["brier", "ece"]
    if record.get("test_proba_calibrated") is not None:
        names += ["brier_calibrated", "ece_calibrated"]
    if k == 2:
        names += ["sensitivity_at_threshold", "specificity_at_threshold"]
    else:
        names += [f"auc_class_{c}" for c in range(k)]
    if task == "ordinal":
        names += ["qwk", "mae"]
    return names


def _extra_vector(record: dict, y: np.ndarray, idx: np.ndarray, task: str):
    proba = np.asarray(record["_test_proba"])[idx]
    yy = y[idx]
    k = proba.shape[1]
    values = [
        brier_score(yy, proba),
        expected_calibration_error(yy, proba, n_bins=ECE_BINS, strategy="quantile"),
    ]
    calibrated = record.get("_test_proba_calibrated")
    if calibrated is not None:
        cal = calibrated[idx]
        values += [
            brier_score(yy, cal),
            expected_calibration_error(yy, cal, n_bins=ECE_BINS, strategy="quantile"),
        ]
    if k == 2:
        final = proba if calibrated is None else calibrated[idx]
        pred = final[:, 1] >= record["operating_point"]["threshold"]
        positive = yy == 1
        values += [
            float(np.mean(pred[positive])) if positive.any() else np.nan,
            float(np.mean(~pred[~positive])) if (~positive).any() else np.nan,
        ]
    else:
        values += [_binary_auc(yy == c, proba[:, c]) for c in range(k)]
    if task == "ordinal":
        pred = proba.argmax(axis=1)
        labels = list(range(k))
        values += [
            quadratic_weighted_kappa(yy, pred, labels=labels),
            ordinal_mae(yy, pred, labels=labels),
        ]
    return values


def pooled_extras(records: list[dict], y_test, task: str, n_bootstraps: int) -> dict:
    """Calibration, operating point, per-class AUCs, QWK / MAE: seed means with CIs.

    Each bootstrap resample of the test set scores every seed; the interval is
    the percentile interval of the seed means (with one seed: that seed's).
    """
    y = np.asarray(y_test)
    for r in records:
        r["_test_proba"] = np.asarray(r["test_proba"], dtype=float)
        cal = r.get("test_proba_calibrated")
        r["_test_proba_calibrated"] = None if cal is None else np.asarray(cal, float)
    k = records[0]["_test_proba"].shape[1]
    names = _extra_names(records[0], k, task)

    def fn(idx):
        return np.mean([_extra_vector(r, y, idx, task) for r in records], axis=0)

    try:
        return _triples(names, *_bootstrap(y, fn, n_bootstraps))
    finally:
        for r in records:
            r.pop("_test_proba", None)
            r.pop("_test_proba_calibrated", None)


def pooled_validation(
    records: list[dict],
    metric: str,
    n_bootstraps: int,
    *,
    metric_fn=None,
    stratify: bool = True,
) -> dict:
    """Validation score of a configuration: seed mean, SD, bootstrap CI of the mean.

    ``metric_fn(y, proba)`` is the task's validation metric (default: this
    module's :func:`score` of ``metric``); ``stratify=False`` resamples the
    images without strata (multi-label).
    """
    y = np.asarray(records[0]["val_y"])
    probas = [np.asarray(r["val_proba"], dtype=float) for r in records]
    value = metric_fn or (lambda y, p: score(metric, y, p))

    def fn(idx):
        return [np.mean([value(y[idx], p[idx]) for p in probas])]

    strata = y if stratify else np.zeros(len(y))
    estimate, low, high = _bootstrap(strata, fn, n_bootstraps, stratify)
    seeds = [r["validation"]["score"] for r in records]
    return {
        "score": float(np.mean(seeds)),
        "low": float(low[0]),
        "high": float(high[0]),
        "sd": float(np.std(seeds, ddof=1)) if len(seeds) > 1 else None,
        "n": len(y),
    }


def seed_interval(values: list[float]) -> tuple[float | None, float | None]:
    """The t interval of a mean over seeds (training randomness only)."""
    values = [v for v in values if v is not None and not math.isnan(v)]
    if len(values) < 2:
        return None, None
    mean, sd = float(np.mean(values)), float(np.std(values, ddof=1))
    half = _scipy_stats.t.ppf(1 - (1 - CONFIDENCE) / 2, len(values) - 1) * sd
    half /= math.sqrt(len(values))
    return mean - half, mean + half


# -- comparisons ----------------------------------------------------------------------
def compare_configurations(
    groups: dict[str, list[dict]],
    selected: str,
    metric: str,
    n_bootstraps: int,
    label_metric=None,
) -> list[dict]:
    """Paired comparisons of ``selected`` with every other configuration.

    On the test set: the difference in ``metric`` (selected minus other; seed
    means) with a paired stratified-bootstrap CI and p-value (the same
    resamples for both), and for a binary AUC also DeLong's test of the same
    quantity, the mean of per-seed AUCs (per-seed DeLong combined,
    :func:`~skmedtl.metrics.pooled_delong_test`). Holm's correction runs over
    the comparisons, separately for each test. Multi-label records
    (``y_true`` a label matrix): the mean per-label ``metric``, resamples of
    images stratified by the first label
    (see :func:`~skmedtl.study._per_label.per_label_paired_metric`).

    Parameters
    ----------
    groups : dict
        ``{config: [cell records]}``; records carry ``y_true`` and
        ``test_proba``.
    selected : str
    metric : str
    n_bootstraps : int
    label_metric : callable, optional
        For multi-label records: the paired metric of packed arrays (labels in
        slot 0), :func:`~skmedtl.study._per_label.per_label_paired_metric`.

    Returns
    -------
    list of dict
        One per other configuration: ``config``, ``difference``, ``ci_low``,
        ``ci_high``, ``p_bootstrap``, ``p_bootstrap_holm``, ``p_delong``,
        ``p_delong_holm`` (``None`` unless binary AUC), ``significant``
        (Holm-corrected p < 0.05 of the primary test: DeLong for a binary
        AUC, else the bootstrap).
    """
    if selected not in groups:
        return []
    y = np.asarray(groups[selected][0]["y_true"])
    per_label = Task.of_labels(y).per_label
    a = _stacked(groups[selected], y, "test_proba")
    binary_auc = metric == "auc" and a.shape[2] == 2 and not per_label
    out = []
    for config, records in groups.items():
        if config == selected:
            continue
        b = _stacked(records, y, "test_proba")
        boot = _paired(y, a, b, metric, n_bootstraps, label_metric)
        row = {
            "config": config,
            "metric": metric,
            "selected": selected,
            "estimate_selected": boot.estimate_a,
            "estimate_other": boot.estimate_b,
            "difference": boot.difference,
            "ci_low": boot.ci_low,
            "ci_high": boot.ci_high,
            "p_bootstrap": boot.p_value,
            "p_delong": None,
            "z_delong": None,
        }
        if binary_auc:  # the mean of per-seed AUCs: the quantity the table shows
            d = pooled_delong_test(y, a[:, :, 1], b[:, :, 1])
            row["p_delong"], row["z_delong"] = d.p_value, d.z
        out.append(row)
    if out:
        adjusted = holm([r["p_bootstrap"] for r in out])
        for r, p in zip(out, adjusted, strict=True):
            r["p_bootstrap_holm"] = float(p)
        if binary_auc:
            adjusted = holm([r["p_delong"] for r in out])
            for r, p in zip(out, adjusted, strict=True):
                r["p_delong_holm"] = float(p)
        for r in out:
            primary = r.get("p_delong_holm") if binary_auc else r["p_bootstrap_holm"]
            r.setdefault("p_delong_holm", None)
            r["primary_test"] = "DeLong" if binary_auc else "paired bootstrap"
            r["significant"] = bool(primary < ALPHA)
    return out


def _stacked(records: list[dict], y: np.ndarray, key: str) -> np.ndarray:
    """``(n, seeds, k)`` probabilities; multi-label: the labels ride in slot 0."""
    p = np.stack([np.asarray(r[key], dtype=float) for r in records], 1)
    return (
        np.concatenate([y[:, None, :], p], axis=1) if Task.of_labels(y).per_label else p
    )


def _paired(y, a, b, metric: str, n_bootstraps: int, label_metric=None):
    """The paired bootstrap of ``metric`` (seed means) of ``a`` minus ``b``."""
    per_label = Task.of_labels(y).per_label  # resamples stratified by the first label

    def seed_mean_metric(yy, p):
        return float(np.mean([score(metric, yy, p[:, s]) for s in range(p.shape[1])]))

    seed_mean_metric.__name__ = metric
    if per_label:
        if label_metric is None:
            raise ValueError("multi-label records need label_metric.")
        seed_mean_metric = label_metric
    return paired_bootstrap(
        y[:, 0] if per_label else y,
        a,
        b,
        metric=seed_mean_metric,
        n_resamples=n_bootstraps,
        random_state=BOOTSTRAP_SEED,
    )


def validation_difference(
    groups: dict[str, list[dict]],
    other: str,
    selected: str,
    metric: str,
    n_bootstraps: int,
    label_metric=None,
) -> dict:
    """``other`` minus ``selected`` on the validation images, paired.

    The seed-mean ``metric`` of each, the same stratified resamples for both
    (:func:`~skmedtl.metrics.paired_bootstrap`): the difference and its
    percentile interval, what the non-inferiority rule of the cheaper
    alternative reads.

    Returns
    -------
    dict
        ``difference``, ``ci_low``, ``ci_high``.
    """
    y = np.asarray(groups[selected][0]["val_y"])
    a = _stacked(groups[other], y, "val_proba")
    b = _stacked(groups[selected], y, "val_proba")
    boot = _paired(y, a, b, metric, n_bootstraps, label_metric)
    return {
        "difference": float(boot.difference),
        "ci_low": float(boot.ci_low),
        "ci_high": float(boot.ci_high),
    }


def selection_disclosure(
    groups: dict[str, list[dict]], order: list[str], metric: str
) -> dict | None:
    """The winner's curse of the study's selection, disclosed.

    :func:`~skmedtl.model_selection.selection_optimism` over every
    configuration's validation predictions (seeds averaged as selection
    averages them), configurations listed in ``order`` (the order the study
    breaks ties in). Only for ``metric="auc"`` (``None`` otherwise, or with one
    configuration).

    Returns
    -------
    dict or None
        ``selected``, ``validation_score``, ``corrected`` (the BBC estimate),
        ``optimism``, ``interval``, ``selection_rates`` ({config: rate}),
        ``n_resamples``, ``method``.
    """
    from ..model_selection import selection_optimism

    if metric != "auc" or len(order) < 2:
        return None
    y = np.asarray(groups[order[0]][0]["val_y"])
    scores = []
    for config in order:
        seeds = [np.asarray(r["val_proba"], dtype=float) for r in groups[config]]
        if y.ndim == 1 and seeds[0].shape[1] == 2:
            seeds = [p[:, 1] for p in seeds]  # binary: the positive class's score
        scores.append(seeds)
    result = selection_optimism(y, scores)
    return {
        "selected": order[result.selected],
        "validation_score": float(result.observed),
        "corrected": float(result.corrected),
        "optimism": float(result.optimism),
        "interval": [float(v) for v in result.interval],
        "selection_rates": {
            c: float(r) for c, r in zip(order, result.selection_rates, strict=True)
        },
        "n_resamples": int(result.n_resamples),
        "method": result.method,
    }
