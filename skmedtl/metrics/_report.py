"""A medical classification report: the usual metrics, each with a bootstrap CI."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
from scipy.stats import rankdata
from sklearn.utils import check_random_state

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
    n_bootstraps: int = 1000,
    confidence: float = 0.95,
    random_state=0,
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
    n_bootstraps : int, default=1000
    confidence : float, default=0.95
    random_state : int, RandomState instance or None, default=0

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
    y_true = np.asarray(y_true)
    scores = np.asarray(y_score, dtype=float)
    if y_true.ndim != 1 or len(y_true) == 0:
        raise ValueError("y_true must be a non-empty 1-D array.")
    if len(scores) != len(y_true):
        raise ValueError(
            f"y_true has {len(y_true)} samples but y_score has {len(scores)}."
        )
    if not np.isfinite(scores).all():
        raise ValueError("y_score contains NaN or infinite values.")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1); got {confidence!r}.")
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

    estimate = compute(y, pred, auc_input, proba)
    rng = check_random_state(random_state)
    by_class = [np.flatnonzero(y == k) for k in range(len(labels))]
    draws = np.empty((int(n_bootstraps), len(METRICS)))
    for b in range(int(n_bootstraps)):
        idx = np.concatenate(
            [rng.choice(ix, size=len(ix)) for ix in by_class if len(ix)]
        )
        draws[b] = compute(
            y[idx], pred[idx], auc_input[idx], None if proba is None else proba[idx]
        )
    alpha = (1 - confidence) / 2
    with warnings.catch_warnings():  # all-NaN columns (Brier of decision scores)
        warnings.simplefilter("ignore", RuntimeWarning)
        low = np.nanquantile(draws, alpha, axis=0)
        high = np.nanquantile(draws, 1 - alpha, axis=0)
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
    def compute(y, pred, auc_input, proba) -> np.ndarray:
        cm = np.bincount(y * n_classes + pred, minlength=n_classes**2).reshape(
            n_classes, n_classes
        )
        tp = np.diag(cm).astype(float)
        support = cm.sum(axis=1).astype(float)
        predicted = cm.sum(axis=0).astype(float)
        fn, fp = support - tp, predicted - tp
        tn = cm.sum() - tp - fn - fp
        with np.errstate(divide="ignore", invalid="ignore"):
            sens = np.where(support > 0, tp / support, np.nan)
            spec = np.where(tn + fp > 0, tn / (tn + fp), np.nan)
            f1 = np.where(2 * tp + fp + fn > 0, 2 * tp / (2 * tp + fp + fn), 0.0)
        accuracy = tp.sum() / cm.sum()
        balanced = np.nanmean(sens)
        if binary:
            sensitivity, specificity, f1_score = sens[1], spec[1], f1[1]
            auc = _binary_auc(y, auc_input)
        else:
            sensitivity, specificity, f1_score = (
                np.nanmean(sens),
                np.nanmean(spec),
                f1.mean(),
            )
            auc = np.nanmean(
                [_binary_auc(y == k, auc_input[:, k]) for k in range(n_classes)]
            )
        if proba is None:
            brier = np.nan
        else:
            onehot = np.eye(n_classes)[y]
            per_sample = ((proba - onehot) ** 2).sum(axis=1)
            # Binary Brier is defined on the positive class only (half the sum).
            brier = per_sample.mean() / 2 if binary else per_sample.mean()
        return np.array(
            [accuracy, balanced, auc, sensitivity, specificity, f1_score, brier]
        )

    return compute


def _binary_auc(positive, score: np.ndarray) -> float:
    """ROC AUC by the Mann-Whitney statistic (ties count one half)."""
    positive = np.asarray(positive, dtype=bool)
    n_pos = positive.sum()
    n_neg = len(positive) - n_pos
    if n_pos == 0 or n_neg == 0:
        return np.nan
    ranks = rankdata(score)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
