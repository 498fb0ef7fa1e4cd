"""A medical classification report: the usual metrics, each with a bootstrap CI."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from ._resample import (
    BOOTSTRAP_SEED,
    CONFIDENCE,
    N_BOOTSTRAP,
    _check_confidence,
    bootstrap,
    check_finite,
    column_aucs,
    resample_counts,
    weighted_auc,
)

__all__ = ["ClassificationReport", "classification_report"]

METRICS = (
    "accuracy",
    "balanced_accuracy",
    "auc",
    "sensitivity",
    "specificity",
    "f1",
    "brier",
)


@dataclass
class ClassificationReport:
    """Point estimates with ``confidence`` bootstrap intervals.

    Attributes
    ----------
    metrics : dict
        ``{name: (estimate, low, high)}``; ``brier`` is NaN when the scores are
        not probabilities.
    n_samples : int
    labels : list
        Classes, in the column order of the scores; for binary problems the
        second one is the positive class.
    n_bootstraps : int
    confidence : float
    averaging : str
        ``"binary"`` (metrics of the positive class) or ``"macro"``.
    """

    metrics: dict[str, tuple[float, float, float]]
    n_samples: int
    labels: list
    n_bootstraps: int
    confidence: float
    averaging: str
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        """``{name: {"estimate", "ci_low", "ci_high"}}``."""
        return {
            name: {"estimate": est, "ci_low": low, "ci_high": high}
            for name, (est, low, high) in self.metrics.items()
        }

    def to_frame(self):
        """The metrics as a pandas DataFrame (one row per metric)."""
        import pandas as pd

        return pd.DataFrame.from_dict(self.to_dict(), orient="index")

    def __getitem__(self, name: str) -> float:
        return self.metrics[name][0]

    def __str__(self) -> str:
        pct = round(self.confidence * 100)
        lines = [
            f"{'metric':<18} {'estimate':>8}   {pct}% CI ({self.n_bootstraps} "
            f"stratified bootstraps, n={self.n_samples}, {self.averaging})"
        ]
        for name, (est, low, high) in self.metrics.items():
            if np.isnan(est):
                lines.append(f"{name:<18} {'n/a':>8}")
            else:
                lines.append(f"{name:<18} {est:8.3f}   [{low:.3f}, {high:.3f}]")
        lines.extend(f"note: {note}" for note in self.notes)
        return "\n".join(lines)


def classification_report(
    y_true,
    y_score,
    *,
    y_pred=None,
    labels=None,
    threshold: float | None = 0.5,
    n_bootstraps: int = N_BOOTSTRAP,
    confidence: float = CONFIDENCE,
    random_state=BOOTSTRAP_SEED,
) -> ClassificationReport:
    """ACC, balanced ACC, AUC, sensitivity, specificity, F1 and Brier, with CIs.

    Intervals are percentile intervals over bootstrap resamples drawn within each
    class (stratified), so every resample keeps the class balance of the test set
    and AUC is always defined. The resamples are seeded: the same
    ``random_state`` gives the same intervals.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels (any type).
    y_score : array-like of shape (n_samples,) or (n_samples, n_classes)
        Binary: the score of the positive class (probability or decision value)
        or ``predict_proba`` output with two columns. Multiclass: class
        probabilities, columns in the order of ``labels``.
    y_pred : array-like of shape (n_samples,), optional
        Predicted labels; by default derived from ``y_score`` (``threshold`` for
        binary problems, the most probable class otherwise).
    labels : array-like, optional
        The classes in the column order of ``y_score``; sorted ``y_true`` labels
        by default. For binary problems ``labels[1]`` is the positive class.
    threshold : float or None, default=0.5
        Binary decision threshold on ``y_score`` when ``y_pred`` is not given.
        Choose it on validation data (:func:`choose_threshold`), never on the
        test set.
    n_bootstraps : int, default=N_BOOTSTRAP
        Resamples of :func:`~skmedtl.metrics.bootstrap_indices`.
    confidence : float, default=CONFIDENCE
    random_state : int, RandomState instance or None, default=BOOTSTRAP_SEED

    Returns
    -------
    ClassificationReport

    Examples
    --------
    >>> from skmedtl.metrics import classification_report
    >>> report = classification_report([0, 0, 1, 1, 1], [0.1, 0.6, 0.4, 0.8, 0.9],
    ...                                n_bootstraps=200)
    >>> round(report["sensitivity"], 3), round(report["specificity"], 3)
    (0.667, 0.5)
    """
    y_true = check_finite("y_true", y_true)
    scores = np.asarray(y_score, dtype=float)
    if y_true.ndim != 1 or len(y_true) == 0:
        raise ValueError("y_true must be a non-empty 1-D array.")
    if len(scores) != len(y_true):
        raise ValueError(
            f"y_true has {len(y_true)} samples but y_score has {len(scores)}."
        )
    if not np.isfinite(scores).all():
        raise ValueError("y_score contains NaN or infinite values.")
    _check_confidence(confidence)
    if int(n_bootstraps) < 1:
        raise ValueError(f"n_bootstraps must be positive; got {n_bootstraps!r}.")
    labels = np.unique(y_true) if labels is None else np.asarray(labels)
    if len(labels) < 2:
        raise ValueError("At least two classes are needed for a classification report.")
    if not np.isin(y_true, labels).all():
        raise ValueError(f"y_true has labels that are not in labels={list(labels)}.")
    y = _encode(y_true, labels)
    binary = len(labels) == 2
    notes = []
    proba = _as_probabilities(scores, binary, len(labels))
    if binary:
        pos_score = scores if scores.ndim == 1 else scores[:, 1]
    if y_pred is None:
        if binary:
            if threshold is None:
                raise ValueError("Give threshold or y_pred for a binary report.")
            pred = (pos_score >= threshold).astype(int)
        else:
            if scores.ndim != 2 or scores.shape[1] != len(labels):
                raise ValueError(
                    f"Multiclass y_score must have shape (n, {len(labels)}); got "
                    f"{scores.shape}."
                )
            pred = scores.argmax(axis=1)
    else:
        y_pred = np.asarray(y_pred)
        if not np.isin(y_pred, labels).all():
            raise ValueError("y_pred has labels that are not in labels.")
        pred = _encode(y_pred, labels)
    if proba is None:
        notes.append("y_score is not a probability, so the Brier score is omitted.")
    auc_input = pos_score if binary else scores
    compute = _metric_function(len(labels), binary)

    n = len(y)
    result = bootstrap(
        lambda indices: compute.batched(
            y, pred, auc_input, proba, resample_counts(indices, n)
        ),
        y,
        n_resamples=int(n_bootstraps),
        confidence=confidence,
        random_state=random_state,
        batched=True,
    )
    estimate, low, high = result.estimate, result.low, result.high
    metrics = {
        name: (float(estimate[i]), float(low[i]), float(high[i]))
        for i, name in enumerate(METRICS)
    }
    return ClassificationReport(
        metrics=metrics,
        n_samples=len(y),
        labels=labels.tolist(),
        n_bootstraps=int(n_bootstraps),
        confidence=confidence,
        averaging="binary" if binary else "macro",
        notes=notes,
    )


def _encode(values: np.ndarray, labels: np.ndarray) -> np.ndarray:
    index = {label: i for i, label in enumerate(labels.tolist())}
    return np.asarray([index[v] for v in values.tolist()], dtype=int)


def _as_probabilities(scores: np.ndarray, binary: bool, k: int) -> np.ndarray | None:
    """Class probabilities ``(n, k)`` if ``scores`` are probabilities, else None."""
    if scores.min() < 0 or scores.max() > 1:
        return None
    if binary and scores.ndim == 1:
        return np.column_stack([1 - scores, scores])
    if scores.ndim == 2 and scores.shape[1] == k:
        return scores
    return None


def _metric_function(n_classes: int, binary: bool):
    """``compute(y, pred, auc_input, proba)``: the METRICS of one sample.

    ``compute.batched(y, pred, auc_input, proba, counts)`` gives them for
    every row of resample counts at once, shape ``(n_resamples, len(METRICS))``
    (``compute`` is its one-row case).
    """

    def batched(y, pred, auc_input, proba, counts) -> np.ndarray:
        y, pred = np.asarray(y), np.asarray(pred)
        cells = np.eye(n_classes**2, dtype=np.int64)[y * n_classes + pred]
        cm = (counts @ cells).reshape(-1, n_classes, n_classes).astype(float)
        tp = np.diagonal(cm, axis1=1, axis2=2)
        support = cm.sum(axis=2)
        predicted = cm.sum(axis=1)
        fn, fp = support - tp, predicted - tp
        total = cm.sum(axis=(1, 2))
        tn = total[:, None] - tp - fn - fp
        with np.errstate(divide="ignore", invalid="ignore"):
            sens = np.where(support > 0, tp / support, np.nan)
            spec = np.where(tn + fp > 0, tn / (tn + fp), np.nan)
            f1 = np.where(2 * tp + fp + fn > 0, 2 * tp / (2 * tp + fp + fn), 0.0)
        with warnings.catch_warnings():  # a class absent from a resample
            warnings.simplefilter("ignore", RuntimeWarning)
            accuracy = tp.sum(axis=1) / total
            balanced = np.nanmean(sens, axis=1)
            if binary:
                sensitivity, specificity, f1_score = sens[:, 1], spec[:, 1], f1[:, 1]
                auc = weighted_auc(y == 1, auc_input, counts)
            else:
                sensitivity = np.nanmean(sens, axis=1)
                specificity = np.nanmean(spec, axis=1)
                f1_score = f1.mean(axis=1)
                positive = y[:, None] == np.arange(n_classes)
                auc = np.nanmean(column_aucs(positive, auc_input, counts), axis=1)
        if proba is None:
            brier = np.full(len(counts), np.nan)
        else:
            onehot = np.eye(n_classes)[y]
            per_sample = ((proba - onehot) ** 2).sum(axis=1)
            # Binary Brier is defined on the positive class only (half the sum).
            brier = (counts * per_sample).sum(axis=1) / counts.sum(axis=1)
            brier = brier / 2 if binary else brier
        return np.column_stack(
            [accuracy, balanced, auc, sensitivity, specificity, f1_score, brier]
        )

    def compute(y, pred, auc_input, proba) -> np.ndarray:
        counts = np.ones((1, len(y)), dtype=np.int64)
        return batched(y, pred, auc_input, proba, counts)[0]

    compute.batched = batched
    return compute


def _binary_auc(positive, score: np.ndarray) -> float:
    """ROC AUC by the Mann-Whitney statistic (ties count one half)."""
    return weighted_auc(positive, score)
