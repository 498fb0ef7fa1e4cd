"""Scoring a cell on the test set, and pooling seeds, with bootstrap CIs."""

from __future__ import annotations

import numpy as np

from ..metrics import BOOTSTRAP_SEED, CONFIDENCE, bootstrap, classification_report
from ..metrics._report import METRICS as _REPORT_METRICS
from ..metrics._report import _metric_function

__all__ = ["METRICS", "evaluate", "pool_over_seeds", "pooled_metrics"]

#: The metrics a study records, with their display names.
METRICS = {
    "accuracy": "ACC",
    "balanced_accuracy": "balanced ACC",
    "auc": "AUC",
    "sensitivity": "sensitivity",
    "specificity": "specificity",
}


def evaluate(y_true, proba, model_classes, label_order, n_bootstraps: int) -> dict:
    """Test-set metrics of one fitted model.

    Parameters
    ----------
    y_true : array-like of shape (n,)
    proba : ndarray of shape (n, n_classes)
        Class probabilities, columns in ``model_classes`` order.
    model_classes : array-like
        The model's ``classes_``.
    label_order : list
        Classes in report order (binary: the positive class last).
    n_bootstraps : int

    Returns
    -------
    dict
        ``metrics`` ({name: [estimate, low, high]}), ``y_true`` and ``y_pred``
        (indices into ``label_order``), ``y_score`` (positive-class
        probability for two classes, else rows of probabilities in
        ``label_order``) and ``classes`` (``label_order`` as strings).
    """
    model_classes = list(np.asarray(model_classes).tolist())
    columns = [model_classes.index(c) for c in label_order]
    proba = np.asarray(proba, dtype=float)[:, columns]
    index = {c: i for i, c in enumerate(label_order)}
    y = np.array([index[v] for v in np.asarray(y_true).tolist()])
    pred = proba.argmax(axis=1)
    binary = len(label_order) == 2
    score = proba[:, 1] if binary else proba
    report = classification_report(
        y,
        score,
        y_pred=pred,
        labels=list(range(len(label_order))),
        n_bootstraps=n_bootstraps,
        confidence=CONFIDENCE,
        random_state=BOOTSTRAP_SEED,
    )
    return {
        "metrics": {m: list(report.metrics[m]) for m in METRICS},
        "y_true": y.tolist(),
        "y_pred": pred.tolist(),
        "y_score": score.tolist(),
        "classes": [str(c) for c in label_order],
    }


def pooled_metrics(records: list[dict], n_bootstraps: int) -> dict:
    """Metrics of several seeds of one configuration: means, with bootstrap CIs.

    The estimate is the mean over seeds. Its interval comes from the same
    stratified bootstrap as :func:`skmedtl.metrics.classification_report`:
    each resample of the test set scores every seed, and the percentile
    interval is taken of the seed means. With one seed it is exactly that
    seed's report.
    """
    y = np.asarray(records[0]["y_true"])
    n_classes = len(records[0]["classes"])
    compute = _metric_function(n_classes, n_classes == 2)
    columns = [_REPORT_METRICS.index(m) for m in METRICS]
    preds = [np.asarray(r["y_pred"]) for r in records]
    scores = [np.asarray(r["y_score"], dtype=float) for r in records]

    def seed_metrics(idx):
        return [
            compute(y[idx], p[idx], s[idx], None)[columns]
            for p, s in zip(preds, scores, strict=True)
        ]

    return pool_over_seeds(records, seed_metrics, y, n_bootstraps)


def pool_over_seeds(
    records: list[dict], seed_metrics, y, n_bootstraps: int, *, stratify: bool = True
) -> dict:
    """:data:`METRICS` of several seeds of one configuration: the seed means,
    with bootstrap intervals of the mean (one seed: its own record's).

    Parameters
    ----------
    records : list of dict
        The seeds' cell records (their ``metrics``).
    seed_metrics : callable
        ``seed_metrics(idx)``: each seed's metric vector (in :data:`METRICS`
        order) on the test images ``idx``.
    y : ndarray
        What :func:`skmedtl.metrics.bootstrap` resamples (stratified by it).
    n_bootstraps : int
    stratify : bool, default=True
    """
    if len(records) == 1:
        return {m: tuple(records[0]["metrics"][m]) for m in METRICS}
    result = bootstrap(
        lambda idx: np.mean(seed_metrics(idx), axis=0),
        y,
        n_resamples=n_bootstraps,
        stratify=stratify,
    )
    estimate, low, high = result.estimate, result.low, result.high
    return {
        m: (float(estimate[i]), float(low[i]), float(high[i]))
        for i, m in enumerate(METRICS)
    }
