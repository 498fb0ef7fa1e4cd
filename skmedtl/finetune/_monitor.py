"""Validation metrics and the early-stopping monitor."""

from __future__ import annotations

import math

import numpy as np
from sklearn.metrics import accuracy_score, balanced_accuracy_score, roc_auc_score

from ..utils._validation import StrOptions, validate_params

__all__ = ["MONITORS", "Monitor", "validation_metrics"]

#: Monitors and whether larger is better.
MONITORS = {
    "loss": False,
    "accuracy": True,
    "balanced_accuracy": True,
    "roc_auc": True,
}


def validation_metrics(y: np.ndarray, proba: np.ndarray, loss: float) -> dict:
    """Every monitor on one validation pass (``roc_auc`` is NaN if undefined)."""
    pred = proba.argmax(axis=1)
    return {
        "loss": float(loss),
        "accuracy": float(accuracy_score(y, pred)),
        "balanced_accuracy": float(balanced_accuracy_score(y, pred)),
        "roc_auc": _roc_auc(y, proba),
    }


def _roc_auc(y: np.ndarray, proba: np.ndarray) -> float:
    present = np.unique(y)
    if len(present) < proba.shape[1]:
        return math.nan  # a class is missing from the validation split
    try:
        if proba.shape[1] == 2:
            return float(roc_auc_score(y, proba[:, 1]))
        return float(roc_auc_score(y, proba, multi_class="ovr"))
    except ValueError:
        return math.nan


class Monitor:
    """Tracks the best value of one validation metric.

    Parameters
    ----------
    name : str
        A key of :data:`MONITORS`.

    Examples
    --------
    >>> m = Monitor("loss")
    >>> [m.update(v) for v in (0.7, 0.5, 0.6, 0.5)]
    [True, True, False, False]
    >>> m.best
    0.5
    """

    def __init__(self, name: str):
        check_monitor(name)
        self.name = name
        self.greater_is_better = MONITORS[name]
        self.best = -math.inf if self.greater_is_better else math.inf

    def update(self, value: float) -> bool:
        """Record ``value``; ``True`` if it strictly improves on the best so far."""
        if value is None or math.isnan(value):
            return False
        better = value > self.best if self.greater_is_better else value < self.best
        if better:
            self.best = value
        return better


def check_monitor(name) -> None:
    validate_params({"monitor": name}, {"monitor": [StrOptions(tuple(MONITORS))]})
