"""Multi-label studies: several findings per image (ChestMNIST-style data).

A :class:`~skmedtl.study.StudyDataset` whose ``labels`` are a 2-D 0/1 matrix
``(n_images, n_labels)`` runs through the same grid with

- splits made by iterative stratification (patient-level with groups);
- hybrid heads fitted one per label on the shared embeddings
  (``MultiOutputClassifier``), their hyperparameters chosen on validation by the
  mean per-label AUC (or accuracy / balanced accuracy);
- fine-tuning with a sigmoid head and binary cross-entropy;
- per-label decision thresholds chosen on validation (Youden's J), never on the
  test set;
- test metrics: ``auc`` is the mean per-label AUC (MedMNIST's AUC for
  ChestMNIST), ``accuracy`` the mean per-label accuracy, sensitivity and
  specificity per-label means at the validation thresholds; each with a
  bootstrap CI, and the same per label, shown in the report's per-label table;
- calibration: Brier score and ECE of each label's probability and their means
  over labels, with bootstrap CIs; optional recalibration per label
  (``calibrate``: a :class:`~skmedtl.metrics.ProbabilityCalibrator` per label,
  fitted on validation); a reliability diagram pooled over labels;
- paired comparisons of the selected configuration with each other one on the
  mean per-label selection metric (:func:`~skmedtl.metrics.paired_bootstrap`
  resampling images, stratified by the first label; Holm-corrected).
"""

from __future__ import annotations

import numpy as np

from ..metrics import BOOTSTRAP_SEED, CONFIDENCE, bootstrap
from ._evaluate import METRICS
from ._stats import ECE_BINS
from ._task import (
    MULTILABEL,
    Task,
    label_report,
    label_summary,
    label_validation_metrics,
)

__all__ = [
    "evaluate_per_label",
    "per_label_extras",
    "per_label_paired_metric",
    "per_label_statistics",
    "per_label_blocks",
    "pooled_per_label_metrics",
    "pooled_per_label_validation",
    "pooled_reliability_records",
    "run_per_label_hybrid",
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
    """Seeds of one configuration: mean estimates, bootstrap CIs of the mean."""
    SUMMARY, _summary_and_per_label = label_summary()

    if len(records) == 1:
        return {m: tuple(records[0]["metrics"][m]) for m in METRICS}
    Y = np.asarray(records[0]["y_true"], dtype=np.int64)
    scores = [np.asarray(r["y_score"], dtype=float) for r in records]
    preds = [np.asarray(r["y_pred"]).astype(bool) for r in records]
    columns = [SUMMARY.index(m) for m in METRICS]

    def mean_over_seeds(idx):
        return np.mean(
            [
                _summary_and_per_label(Y[idx], s[idx], p[idx])[0][columns]
                for s, p in zip(scores, preds, strict=True)
            ],
            axis=0,
        )

    result = bootstrap(
        mean_over_seeds, np.zeros(len(Y)), n_resamples=n_bootstraps, stratify=False
    )
    estimate, low, high = result.estimate, result.low, result.high
    return {
        m: (float(estimate[i]), float(low[i]), float(high[i]))
        for i, m in enumerate(METRICS)
    }


# -- cells ---------------------------------------------------------------------------
def _metric(metric: str):
    """``fn(Y, proba)``: the mean per-label ``metric`` (the selection score)."""

    key = {"auc": "roc_auc"}.get(metric, metric)

    def fn(Y, proba):
        return label_validation_metrics(np.asarray(Y), proba, np.nan)[key]

    return fn


def _scorer(metric: str):
    """Mean per-label ``metric`` of a fitted multi-label model on validation data."""
    fn = _metric(metric)

    def score(estimator, X, Y):
        return fn(Y, _proba(estimator, X))

    return score


def per_label_paired_metric(metric: str):
    """The metric :func:`~skmedtl.metrics.paired_bootstrap` compares in a study.

    It scores a packed array ``(n, 1 + n_seeds, n_labels)``: slot 0 holds the
    label matrix (so that it follows the resampled images), slots 1.. the
    seeds' test probabilities; the value is the seed mean of the mean
    per-label ``metric``. The ``y`` that ``paired_bootstrap`` passes (the
    first label, which stratifies the resamples) is not used.
    """
    fn = _metric(metric)

    def seed_mean_metric(y, packed):
        Y = packed[:, 0, :].astype(np.int64)
        return float(np.mean([fn(Y, packed[:, s]) for s in range(1, packed.shape[1])]))

    seed_mean_metric.__name__ = f"mean per-label {metric}"
    return seed_mean_metric


def _proba(estimator, X) -> np.ndarray:
    """Per-label positive probabilities ``(n, n_labels)``."""
    proba = estimator.predict_proba(X)
    if isinstance(proba, list):
        return np.column_stack([p[:, -1] for p in proba])
    return np.asarray(proba)


def run_per_label_hybrid(ctx, cell, emb) -> dict:
    """A hybrid head per label on frozen embeddings: fitted on train, tuned on
    the study's validation set (``ctx.val_mask``), thresholds chosen there."""
    from sklearn.base import clone
    from sklearn.model_selection import ParameterGrid

    from ..hybrid import head_pipeline
    from ..metrics import choose_thresholds
    from ..model_selection import select_on_validation
    from ._heads import count_head_params, head_grid
    from ._measure import PeakMemory, Stopwatch

    head = cell.approach.head
    data = ctx.data
    Y_dev = data.labels[ctx.dev]
    mask = ctx.val_mask
    pipe = head_pipeline(
        head,
        class_weight="balanced",
        random_state=cell.seed,
        n_jobs=ctx.n_jobs,
        **Task(MULTILABEL).head_options(),
    )
    grid = list(
        ParameterGrid(
            {
                k.replace("clf__", "clf__estimator__", 1): v
                for k, v in head_grid(head, ctx.profile.head_grid).items()
            }
        )
    )
    scorer = _scorer(ctx.metric)
    X_train, Y_train = emb.dev[~mask], Y_dev[~mask]
    X_val, Y_val = emb.dev[mask], Y_dev[mask]
    with PeakMemory() as memory, Stopwatch() as train:
        best = select_on_validation(
            grid,
            fit=lambda params: clone(pipe).set_params(**params).fit(X_train, Y_train),
            score=lambda model: scorer(model, X_val, Y_val),
        )
        value, params, model = best.score, best.candidate, best.model
        thresholds = choose_thresholds(Y_val, _proba(model, X_val))
    with Stopwatch() as infer:
        proba = _proba(model, emb.test)
    per_label = model.named_steps["clf"].estimators_
    result = {
        "extract_time_s": emb.extract_time_s,
        "train_time_s": train.seconds,
        "inference_ms_per_image": 1e3
        * (emb.seconds_per_image + infer.seconds / len(ctx.test)),
        "trainable_params": int(sum(count_head_params(e) or 0 for e in per_label)),
        "peak_memory_mb": max(emb.peak_memory_mb, memory.peak_mb),
        "peak_gpu_memory_mb": emb.peak_gpu_memory_mb,
        "input_size": emb.input_size,
        "selection": {
            "params": {
                k.removeprefix("clf__estimator__"): v for k, v in params.items()
            },
            "validation_score": float(value),
            "scheme": "validation split",
            "n_candidates": len(grid),
        },
    }
    result.update(
        evaluate_per_label(
            data.labels[ctx.test],
            proba,
            thresholds,
            data.class_names,
            ctx.profile.n_bootstraps,
        )
    )
    result["test_index"] = [int(i) for i in ctx.test]
    result.update(per_label_statistics(ctx, Y_val, _proba(model, X_val), proba))
    result["_model"] = model  # the fitted heads; popped before the record is logged
    return result


# -- report --------------------------------------------------------------------------
def _ci(value) -> str:
    est, low, high = value
    if est is None or np.isnan(est):
        return "n/a"
    return f"{est:.3f} [{low:.3f}, {high:.3f}]"


def per_label_blocks(records: list[dict], recommendation) -> list:
    """Report blocks of a multi-label study: per-label AUC, sensitivity, specificity.

    Empty for single-label studies. One column per configuration (its first
    seed); for the best configuration also sensitivity and specificity at the
    per-label thresholds chosen on validation.
    """
    firsts: dict[str, dict] = {}
    for r in records:
        if Task.of_mapping(r).per_label:
            firsts.setdefault(f"{r['backbone']} / {r['approach']}", r)
    if not firsts:
        return []
    configs = list(firsts)
    labels = list(next(iter(firsts.values()))["per_label"])
    first = firsts[configs[0]]
    header = ["label", "test positives", *(f"{c} AUC [95% CI]" for c in configs)]
    body = [
        [
            label,
            str(first["per_label"][label]["n_positive"]),
            *(_ci(firsts[c]["per_label"][label]["auc"]) for c in configs),
        ]
        for label in labels
    ]
    body.append(
        [
            "**mean (MedMNIST AUC)**",
            "",
            *(_ci(firsts[c]["metrics"]["auc"]) for c in configs),
        ]
    )
    body.append(["micro-average", "", *(_ci(firsts[c]["micro_auc"]) for c in configs)])
    best = (recommendation or {}).get("best", {}).get("config")
    best = best if best in firsts else configs[0]
    rec = firsts[best]
    detail = [
        [
            label,
            f"{rec['per_label'][label]['threshold']:.3f}",
            _ci(rec["per_label"][label]["sensitivity"]),
            _ci(rec["per_label"][label]["specificity"]),
            _ci(rec["per_label"][label]["auc"]),
            *(
                _ci(rec["extras"].get(f"{m}_label_{j}", (np.nan,) * 3))
                for m in ("brier", "ece")
            ),
        ]
        for j, label in enumerate(labels)
    ]
    return [
        ("h2", "Per-label results"),
        (
            "p",
            f"Multi-label data: {len(labels)} labels, each a binary problem. The AUC "
            "of the results table is the mean of the per-label AUCs (as MedMNIST "
            "reports it for ChestMNIST); ACC is the mean per-label accuracy. Test-"
            f"set {CONFIDENCE:.0%} bootstrap intervals over images; per "
            "configuration its first seed.",
        ),
        ("table", header, body),
        (
            "p",
            f"Sensitivity and specificity of {best} at per-label decision "
            "thresholds chosen on validation data (Youden's J), never on the test "
            "set; Brier score and expected calibration error "
            f"({ECE_BINS} equal-mass bins) "
            "of each label's probability before any recalibration:",
        ),
        (
            "table",
            [
                "label",
                "threshold",
                "sensitivity [95% CI]",
                "specificity [95% CI]",
                "AUC [95% CI]",
                "Brier [95% CI]",
                "ECE [95% CI]",
            ],
            detail,
        ),
    ]


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
    value = _metric(ctx.metric)(Y_val, proba_val)
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


def pooled_reliability_records(records: list[dict]) -> list[dict]:
    """Records whose predictions are every label's, pooled into one binary problem.

    What :func:`~skmedtl.study._report_stats.plot_reliability` draws for a
    multi-label configuration: one reliability curve over all (image, label)
    pairs (label order kept), before and after recalibration.
    """

    def binary(P):
        p = np.asarray(P, dtype=float).ravel()
        return np.column_stack([1 - p, p])

    out = []
    for r in records:
        cal = r.get("test_proba_calibrated")
        out.append(
            {
                "y_true": np.asarray(r["y_true"]).ravel(),
                "test_proba": binary(r["test_proba"]),
                "test_proba_calibrated": None if cal is None else binary(cal),
                "calibration": r["calibration"],
            }
        )
    return out


def pooled_per_label_validation(records: list[dict], metric: str, n_bootstraps: int):
    """Validation score of a multi-label configuration (mean per-label metric)."""

    key = {"auc": "roc_auc"}.get(metric, metric)
    Y = np.asarray(records[0]["val_y"])
    probas = [np.asarray(r["val_proba"], dtype=float) for r in records]

    def value(idx):
        return np.mean(
            [label_validation_metrics(Y[idx], p[idx], np.nan)[key] for p in probas]
        )

    result = bootstrap(
        value, np.zeros(len(Y)), n_resamples=n_bootstraps, stratify=False
    )
    low, high = result.low, result.high
    seeds = [r["validation"]["score"] for r in records]
    return {
        "score": float(np.mean(seeds)),
        "low": float(low),
        "high": float(high),
        "sd": float(np.std(seeds, ddof=1)) if len(seeds) > 1 else None,
        "n": len(Y),
    }
