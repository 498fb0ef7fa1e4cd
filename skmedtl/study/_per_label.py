"""The statistics of multi-label studies: several findings per image.

A study whose :class:`~skmedtl.study._task.Task` is per-label (labels a 0/1
matrix ``(n_images, n_labels)``) runs through the same grid, cells and
reports as any other; what differs is scored here:

- test metrics (:func:`evaluate_per_label`): ``auc`` is the mean per-label AUC
  (MedMNIST's AUC for ChestMNIST), ``accuracy`` the mean per-label accuracy,
  sensitivity and specificity per-label means at per-label decision
  thresholds chosen on validation (Youden's J), never on the test set; each
  with a bootstrap CI, and the same per label;
- the validation score (:func:`per_label_metric`): the mean per-label AUC (or
  accuracy / balanced accuracy), by which configurations are selected;
- calibration (:func:`per_label_statistics`, :func:`per_label_extras`): Brier
  score and ECE of each label's probability and their means over labels, with
  bootstrap CIs; optional recalibration per label (a
  :class:`~skmedtl.metrics.ProbabilityCalibrator` per label, fitted on
  validation);
- seed pooling (:func:`pooled_per_label_metrics`,
  :func:`pooled_per_label_validation`) and the paired comparisons' metric
  (:func:`per_label_paired_metric`: the mean per-label selection metric,
  images resampled, stratified by the first label; Holm-corrected).

The cells that produce these records are :mod:`skmedtl.study._cells`'s; the
report's per-label section is :mod:`skmedtl.study._per_label_report`'s.
"""

from __future__ import annotations

import numpy as np

from ..metrics import BOOTSTRAP_SEED, CONFIDENCE
from ._evaluate import METRICS, pool_over_seeds
from ._stats import ECE_BINS, pooled_validation
from ._task import (
    MULTILABEL,
    label_report,
    label_summary,
    label_validation_metrics,
)

__all__ = [
    "evaluate_per_label",
    "finish_per_label",
    "label_probabilities",
    "per_label_extras",
    "per_label_metric",
    "per_label_paired_metric",
    "per_label_statistics",
    "pooled_per_label_metrics",
    "pooled_per_label_validation",
]


# -- evaluation ----------------------------------------------------------------------
def evaluate_per_label(
    Y_true, proba, thresholds, label_names, n_bootstraps: int
) -> dict:
    """Test metrics of a multi-label model: summaries and per-label, with CIs."""
    report = label_report(
        Y_true,
        proba,
        thresholds=thresholds,
        labels=label_names,
        n_bootstraps=n_bootstraps,
        confidence=CONFIDENCE,
        random_state=BOOTSTRAP_SEED,
    )
    Y_true = np.asarray(Y_true, dtype=np.int64)
    proba = np.asarray(proba, dtype=float)
    pred = (proba >= np.asarray(thresholds)).astype(np.int64)
    return {
        "task": MULTILABEL,
        "metrics": {m: list(report.metrics[m]) for m in METRICS},
        "micro_auc": list(report.metrics["micro_auc"]),
        "per_label": {
            name: {
                k: (list(v) if isinstance(v, tuple) else v) for k, v in values.items()
            }
            for name, values in report.per_label.items()
        },
        "thresholds": [
            float(t) for t in np.broadcast_to(thresholds, (Y_true.shape[1],))
        ],
        "y_true": Y_true.tolist(),
        "y_pred": pred.tolist(),
        "y_score": proba.tolist(),
        "classes": [str(c) for c in label_names],
    }


def pooled_per_label_metrics(records: list[dict], n_bootstraps: int) -> dict:
    """Seeds of one configuration: mean estimates, bootstrap CIs of the mean
    (:func:`~skmedtl.study._evaluate.pool_over_seeds`, images resampled
    without strata)."""
    SUMMARY, _summary_and_per_label = label_summary()
    Y = np.asarray(records[0]["y_true"], dtype=np.int64)
    scores = [np.asarray(r["y_score"], dtype=float) for r in records]
    preds = [np.asarray(r["y_pred"]).astype(bool) for r in records]
    columns = [SUMMARY.index(m) for m in METRICS]

    def seed_metrics(idx):
        return [
            _summary_and_per_label(Y[idx], s[idx], p[idx])[0][columns]
            for s, p in zip(scores, preds, strict=True)
        ]

    return pool_over_seeds(
        records, seed_metrics, np.zeros(len(Y)), n_bootstraps, stratify=False
    )


# -- validation ----------------------------------------------------------------------
def per_label_metric(metric: str):
    """``fn(Y, proba)``: the mean per-label ``metric`` (the selection score)."""

    key = {"auc": "roc_auc"}.get(metric, metric)

    def fn(Y, proba):
        return label_validation_metrics(np.asarray(Y), proba, np.nan)[key]

    return fn


def per_label_paired_metric(metric: str):
    """The metric :func:`~skmedtl.metrics.paired_bootstrap` compares in a study.

    It scores a packed array ``(n, 1 + n_seeds, n_labels)``: slot 0 holds the
    label matrix (so that it follows the resampled images), slots 1.. the
    seeds' test probabilities; the value is the seed mean of the mean
    per-label ``metric``. The ``y`` that ``paired_bootstrap`` passes (the
    first label, which stratifies the resamples) is not used.
    """
    fn = per_label_metric(metric)

    def seed_mean_metric(y, packed):
        Y = packed[:, 0, :].astype(np.int64)
        return float(np.mean([fn(Y, packed[:, s]) for s in range(1, packed.shape[1])]))

    seed_mean_metric.__name__ = f"mean per-label {metric}"
    return seed_mean_metric


def label_probabilities(estimator, X) -> np.ndarray:
    """Per-label positive probabilities ``(n, n_labels)``."""
    proba = estimator.predict_proba(X)
    if isinstance(proba, list):
        return np.column_stack([p[:, -1] for p in proba])
    return np.asarray(proba)


def finish_per_label(ctx, proba_val, proba_test, Y_val, times) -> dict:
    """Test metrics and validation statistics of a finished multi-label model.

    What :func:`skmedtl.study._cells.finish` does for one class per image: the
    per-label decision thresholds are chosen on the validation set (Youden's
    J), after selection, like every operating point; then the test set is
    scored at them (:func:`evaluate_per_label`) and the validation side is
    recorded (:func:`per_label_statistics`).
    """
    from ..metrics import choose_thresholds

    data = ctx.data
    with times.stage("evaluation_s"):
        thresholds = choose_thresholds(Y_val, proba_val)
        result = evaluate_per_label(
            data.labels[ctx.test],
            proba_test,
            thresholds,
            data.class_names,
            ctx.profile.n_bootstraps,
        )
    result["test_index"] = [int(i) for i in ctx.test]
    with times.stage("calibration_s"):
        result.update(per_label_statistics(ctx, Y_val, proba_val, proba_test))
    return result


def per_label_statistics(ctx, Y_val, proba_val, proba_test) -> dict:
    """The validation-side fields every study record carries, for multi-label data.

    The validation score is the mean per-label ``ctx.metric``. With
    ``ctx.calibrate`` other than ``"none"`` each label's probability is
    recalibrated by its own :class:`~skmedtl.metrics.ProbabilityCalibrator`
    fitted on that label's validation predictions (``"temperature"``: one
    temperature per label on the logit). Extras: Brier and ECE per label and
    their means (before and after recalibration). No single operating point:
    each label has its own threshold, chosen on validation.
    """
    from ..metrics import ProbabilityCalibrator

    Y_val = np.asarray(Y_val, dtype=np.int64)
    proba_val = np.asarray(proba_val, dtype=float)
    proba_test = np.asarray(proba_test, dtype=float)
    value = per_label_metric(ctx.metric)(Y_val, proba_val)
    calibrate = getattr(ctx, "calibrate", "none")
    result = {
        "validation": {"metric": ctx.metric, "score": float(value), "n": len(Y_val)},
        "val_y": Y_val.tolist(),
        "val_proba": proba_val.tolist(),
        "test_proba": proba_test.tolist(),
        "y_true": np.asarray(ctx.data.labels[ctx.test], dtype=np.int64).tolist(),
        "calibration": {
            "method": calibrate,
            "bins": ECE_BINS,
            "strategy": "quantile",
            "per_label": True,
        },
        "test_proba_calibrated": None,
    }
    if calibrate != "none":
        names = ctx.data.class_names
        columns, temperatures = [], []
        for j in range(Y_val.shape[1]):
            if len(np.unique(Y_val[:, j])) < 2:
                raise ValueError(
                    f"calibrate={calibrate!r}: label {names[j]!r} has only "
                    f"{'negative' if Y_val[:, j].max() == 0 else 'positive'} "
                    f"validation images ({len(Y_val)}), so its recalibration "
                    "cannot be fitted. Use a larger validation split, or "
                    "calibrate='none' (CLI: --calibrate none)."
                )
            cal = ProbabilityCalibrator(calibrate).fit(proba_val[:, j], Y_val[:, j])
            columns.append(cal.predict_proba(proba_test[:, j])[:, 1])
            if calibrate == "temperature":
                temperatures.append(float(cal.calibrators_[0].temperature_))
        result["test_proba_calibrated"] = np.column_stack(columns).tolist()
        if temperatures:
            result["calibration"]["temperature"] = temperatures
    result["extras"] = per_label_extras([result], ctx.profile.n_bootstraps)
    return result


def _calibration_vector(Y: np.ndarray, P: np.ndarray) -> np.ndarray:
    """Mean Brier, mean ECE, then Brier and ECE of each label (binary each)."""
    from ..metrics import brier_score, expected_calibration_error

    brier = [brier_score(Y[:, j], P[:, j]) for j in range(Y.shape[1])]
    ece = [
        expected_calibration_error(Y[:, j], P[:, j], n_bins=ECE_BINS)
        for j in range(Y.shape[1])
    ]
    return np.array([np.mean(brier), np.mean(ece), *brier, *ece])


def per_label_extras(records: list[dict], n_bootstraps: int) -> dict:
    """Brier and ECE of a multi-label configuration: seed means with bootstrap CIs.

    Per label, Brier score and ECE (``ECE_BINS`` equal-mass bins) of that
    label's probability as a binary problem; ``brier`` and ``ece`` are their
    means over labels, ``brier_label_<j>`` / ``ece_label_<j>`` the label ``j``
    (column order of the label matrix). With recalibrated probabilities also
    ``brier_calibrated`` and ``ece_calibrated`` (means). Intervals: the study's
    bootstrap over test images (:func:`skmedtl.study._stats._bootstrap`,
    stratified by the first label), each resample scoring every seed.
    """
    from ._stats import _bootstrap, _triples

    Y = np.asarray(records[0]["y_true"], dtype=np.int64)
    k = Y.shape[1]
    probas = [np.asarray(r["test_proba"], dtype=float) for r in records]
    calibrated = [r.get("test_proba_calibrated") for r in records]
    calibrated = (
        None
        if any(c is None for c in calibrated)
        else [np.asarray(c, dtype=float) for c in calibrated]
    )
    names = [
        "brier",
        "ece",
        *(f"brier_label_{j}" for j in range(k)),
        *(f"ece_label_{j}" for j in range(k)),
    ]
    if calibrated is not None:
        names += ["brier_calibrated", "ece_calibrated"]

    def fn(idx):
        values = []
        for s, P in enumerate(probas):
            v = _calibration_vector(Y[idx], P[idx])
            if calibrated is not None:
                v = np.concatenate(
                    [v, _calibration_vector(Y[idx], calibrated[s][idx])[:2]]
                )
            values.append(v)
        return np.mean(values, axis=0)

    return _triples(names, *_bootstrap(Y[:, 0], fn, n_bootstraps))


def pooled_per_label_validation(records: list[dict], metric: str, n_bootstraps: int):
    """Validation score of a multi-label configuration: the mean per-label
    ``metric`` pooled by :func:`~skmedtl.study._stats.pooled_validation`
    (images resampled without strata)."""
    return pooled_validation(
        records,
        metric,
        n_bootstraps,
        metric_fn=per_label_metric(metric),
        stratify=False,
    )
