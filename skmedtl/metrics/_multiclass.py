"""Per-class AUCs of multi-class problems, and metrics of ordered grades."""

from __future__ import annotations

import numpy as np

from ._resample import (
    BOOTSTRAP_SEED,
    CONFIDENCE,
    N_BOOTSTRAP,
    bootstrap,
    check_finite,
    column_aucs,
    resample_counts,
)

__all__ = ["ordinal_mae", "per_class_auc", "quadratic_weighted_kappa"]


def _grades(y_true, y_pred, labels) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Grades of ``y_true`` and ``y_pred`` as numbers, and every possible grade.

    With ``labels``, a label's grade is its position in ``labels`` (0, 1, ...,
    k-1). Without, numeric labels are their own grades (``[0, 4]`` are four
    grades apart, whatever lies between them in the data); other labels need
    ``labels``.
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape or y_true.ndim != 1 or len(y_true) == 0:
        raise ValueError(
            "y_true and y_pred must be non-empty 1-D arrays of equal length; got "
            f"shapes {y_true.shape} and {y_pred.shape}."
        )
    if labels is None:
        values = np.concatenate([y_true, y_pred])
        if values.dtype.kind not in "iuf" or values.dtype == bool:
            raise ValueError(
                "Grades that are not numbers need their order: give "
                "labels=[lowest, ..., highest] (e.g. labels=['mild', 'moderate', "
                "'severe'])."
            )
        if not np.isfinite(values.astype(float)).all():
            raise ValueError("y_true and y_pred must not contain NaN or infinity.")
        return (
            y_true.astype(float),
            y_pred.astype(float),
            np.unique(values).astype(float),
        )
    labels = np.asarray(labels)
    index = {v: i for i, v in enumerate(labels.tolist())}
    try:
        t = np.array([index[v] for v in y_true.tolist()], dtype=float)
        p = np.array([index[v] for v in y_pred.tolist()], dtype=float)
    except KeyError as e:
        raise ValueError(
            f"Label {e.args[0]!r} is not in labels={labels.tolist()}; give every "
            "grade, in order."
        ) from e
    return t, p, np.arange(len(labels), dtype=float)


def quadratic_weighted_kappa(y_true, y_pred, *, labels=None) -> float:
    """Cohen's kappa with quadratic weights: agreement on ordered grades.

    ``1 - sum(W * O) / sum(W * E)`` with ``W_ij = (g_i - g_j)^2`` for grades
    ``g``, ``O`` the observed confusion matrix and ``E`` the one expected by
    chance from its margins. 1 is perfect agreement, 0 chance level; a
    prediction one grade off costs far less than one four grades off. Equal to
    ``sklearn.metrics.cohen_kappa_score(y_true, y_pred, weights="quadratic",
    labels=every_grade)``.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        Grades.
    labels : array-like, optional
        The grades in order; a label's grade is its position. Without it,
        numeric labels are their own grades, so distances are in grades (not
        in positions among the grades present); other labels need it.

    Returns
    -------
    float
        NaN when kappa is undefined: every label and prediction is the same
        grade, so chance agreement is already perfect (as
        ``sklearn.metrics.cohen_kappa_score``).

    Examples
    --------
    >>> from skmedtl.metrics import quadratic_weighted_kappa
    >>> quadratic_weighted_kappa([0, 1, 2, 3], [0, 1, 2, 3])
    1.0
    >>> round(quadratic_weighted_kappa([0, 1, 2, 3], [0, 2, 1, 3]), 3)
    0.8
    """
    t, p, grades = _grades(y_true, y_pred, labels)
    k = len(grades)
    ti, pi = np.searchsorted(grades, t), np.searchsorted(grades, p)
    observed = np.zeros((k, k))
    np.add.at(observed, (ti, pi), 1)
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0)) / len(t)
    weights = (grades[:, None] - grades[None, :]) ** 2
    denominator = (weights * expected).sum()
    if denominator == 0:  # all mass on one grade: kappa is 0/0
        return float("nan")
    return float(1 - (weights * observed).sum() / denominator)


def ordinal_mae(y_true, y_pred, *, labels=None) -> float:
    """Mean absolute error in grades.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
    labels : array-like, optional
        The grades in order (a label's grade is its position: 0, 1, ...,
        k-1). Without it, numeric labels are their own grades:
        ``ordinal_mae([0, 4], [4, 0])`` is 4.0.

    Returns
    -------
    float

    Examples
    --------
    >>> from skmedtl.metrics import ordinal_mae
    >>> ordinal_mae(["mild", "severe"], ["moderate", "mild"],
    ...             labels=["mild", "moderate", "severe"])
    1.5
    >>> ordinal_mae([0, 4], [4, 0])
    4.0
    """
    t, p, _ = _grades(y_true, y_pred, labels)
    return float(np.mean(np.abs(t - p)))


def per_class_auc(
    y_true,
    y_prob,
    *,
    labels=None,
    n_resamples: int = N_BOOTSTRAP,
    confidence: float = CONFIDENCE,
    random_state=BOOTSTRAP_SEED,
) -> dict:
    """One-vs-rest AUC of each class, with stratified bootstrap CIs.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
    y_prob : array-like of shape (n_samples, n_classes)
        Columns in the order of ``labels``.
    labels : array-like, optional
        Classes in column order (sorted ``y_true`` labels by default).
    n_resamples : int, default=N_BOOTSTRAP
    confidence : float, default=CONFIDENCE
    random_state : int, default=BOOTSTRAP_SEED

    Returns
    -------
    dict
        ``{label: (auc, low, high)}``.

    Examples
    --------
    >>> import numpy as np
    >>> from skmedtl.metrics import per_class_auc
    >>> y = np.repeat([0, 1, 2], 20)
    >>> result = per_class_auc(y, np.eye(3)[y], n_resamples=20)
    >>> result[1]
    (1.0, 1.0, 1.0)
    """
    y_true = np.asarray(y_true)
    labels = np.unique(y_true) if labels is None else np.asarray(labels)
    proba = check_finite("y_prob", np.asarray(y_prob, dtype=float))
    if proba.ndim != 2 or proba.shape != (len(y_true), len(labels)):
        raise ValueError(
            f"y_prob must have shape ({len(y_true)}, {len(labels)}); got {proba.shape}."
        )
    index = {v: i for i, v in enumerate(labels.tolist())}
    y = np.array([index[v] for v in y_true.tolist()])
    n = len(y)

    def aucs(indices):
        counts = resample_counts(indices, n)
        return column_aucs(y[:, None] == np.arange(len(labels)), proba, counts)

    result = bootstrap(
        aucs,
        y,
        n_resamples=n_resamples,
        confidence=confidence,
        random_state=random_state,
        batched=True,
    )
    return {
        label: (float(result.estimate[c]), float(result.low[c]), float(result.high[c]))
        for c, label in enumerate(labels.tolist())
    }
