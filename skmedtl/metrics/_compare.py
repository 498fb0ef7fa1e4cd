"""Paired comparisons of two classifiers on the same test set.

DeLong's test for two correlated ROC curves, a paired stratified bootstrap for
any metric, and Holm's step-down correction for several comparisons.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy.stats import norm, rankdata

from ..utils._validation import StrOptions, validate_params
from ._resample import (
    BOOTSTRAP_SEED,
    CONFIDENCE,
    N_BOOTSTRAP,
    bootstrap,
    check_finite,
    column_aucs,
    resample_counts,
    weighted_auc,
)

__all__ = [
    "DeLongResult",
    "PairedBootstrapResult",
    "delong_test",
    "holm",
    "paired_bootstrap",
    "pooled_delong_test",
]


@dataclass(frozen=True)
class DeLongResult:
    """The outcome of :func:`delong_test`.

    Attributes
    ----------
    auc_a, auc_b : float
        The two areas under the ROC curve.
    difference : float
        ``auc_a - auc_b``.
    variance : float
        DeLong's estimate of the variance of the difference.
    se : float
        Its square root.
    z : float
        ``difference / se`` (``nan`` when ``se`` is 0).
    p_value : float
        Two-sided p-value of ``z`` under the standard normal (1 when the two
        scores rank every pair identically).
    ci_low, ci_high : float
        Wald ``CONFIDENCE`` (95%) interval of the difference.
    n_positive, n_negative : int
    n_seeds_a, n_seeds_b : int
        Seeds pooled (:func:`pooled_delong_test`; 1 for :func:`delong_test`).
    """

    auc_a: float
    auc_b: float
    difference: float
    variance: float
    se: float
    z: float
    p_value: float
    ci_low: float
    ci_high: float
    n_positive: int
    n_negative: int
    n_seeds_a: int = 1
    n_seeds_b: int = 1


def _binary_target(y_true, pos_label) -> np.ndarray:
    y_true = np.asarray(y_true)
    if y_true.ndim != 1 or len(y_true) == 0:
        raise ValueError("y_true must be a non-empty 1-D array of labels.")
    labels = np.unique(y_true)
    if len(labels) != 2:
        raise ValueError(
            f"y_true must hold exactly two classes for an ROC comparison; got "
            f"{len(labels)} ({labels.tolist()[:5]}). For several classes compare "
            "one class against the rest, or use paired_bootstrap with a macro AUC."
        )
    if pos_label is None:
        pos_label = labels[1]
    elif pos_label not in labels:
        raise ValueError(
            f"pos_label={pos_label!r} is not one of the labels {labels.tolist()}."
        )
    return y_true == pos_label


def _scores(name: str, score, n: int) -> np.ndarray:
    score = np.asarray(score, dtype=float)
    if score.shape != (n,):
        raise ValueError(
            f"{name} must give one score per sample: shape ({n},), got {score.shape}."
        )
    if not np.isfinite(score).all():
        raise ValueError(f"{name} contains NaN or infinite values.")
    return score


def delong_components(positive: np.ndarray, scores: np.ndarray):
    """AUCs and DeLong's structural components by the midrank algorithm.

    The fast algorithm of Sun & Xu (IEEE Signal Processing Letters 21(11), 2014):
    midranks within the positives, within the negatives and overall give every
    placement value in O(n log n) instead of O(n_pos * n_neg).

    Parameters
    ----------
    positive : bool ndarray of shape (n,)
    scores : ndarray of shape (k, n)
        ``k`` scores of the same samples.

    Returns
    -------
    aucs : ndarray of shape (k,)
    v10 : ndarray of shape (k, n_pos)
        For each positive, the share of negatives it outranks (ties count 1/2).
    v01 : ndarray of shape (k, n_neg)
        For each negative, the share of positives that outrank it.
    """
    x = scores[:, positive]
    y = scores[:, ~positive]
    m, n = x.shape[1], y.shape[1]
    tx = rankdata(x, axis=1)
    ty = rankdata(y, axis=1)
    tz = rankdata(np.concatenate([x, y], axis=1), axis=1)
    aucs = (tz[:, :m].sum(axis=1) - m * (m + 1) / 2) / (m * n)
    v10 = (tz[:, :m] - tx) / n
    v01 = 1.0 - (tz[:, m:] - ty) / m
    return aucs, v10, v01


def delong_test(y_true, score_a, score_b, *, pos_label=None) -> DeLongResult:
    """DeLong's test for two correlated ROC curves (same samples, two scores).

    The two AUCs are compared with the covariance of their structural
    components (DeLong, DeLong & Clarke-Pearson, Biometrics 44, 1988),
    computed with the O(n log n) midrank algorithm of Sun & Xu (2014). This is
    the test of ``pROC::roc.test(roc1, roc2)`` for paired curves.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Two classes.
    score_a, score_b : array-like of shape (n_samples,)
        Scores of the positive class by the two models (higher: more likely
        positive), e.g. ``predict_proba(X)[:, 1]``.
    pos_label : label, optional
        The positive class; by default the second sorted label.

    Returns
    -------
    DeLongResult

    Examples
    --------
    >>> from skmedtl.metrics import delong_test
    >>> y = [0, 0, 0, 1, 1, 1]
    >>> a = [0.1, 0.2, 0.6, 0.4, 0.8, 0.9]
    >>> b = [0.3, 0.2, 0.1, 0.5, 0.4, 0.6]
    >>> r = delong_test(y, a, b)
    >>> round(r.auc_a, 3), round(r.auc_b, 3)
    (0.889, 1.0)
    """
    positive = _binary_target(y_true, pos_label)
    n = len(positive)
    a = _scores("score_a", score_a, n)
    b = _scores("score_b", score_b, n)
    return _delong_contrast(positive, a[:, None], b[:, None])


def _seed_scores(name: str, scores, n: int) -> np.ndarray:
    """``(n, n_seeds)`` scores from one array or a list of per-seed arrays."""
    if isinstance(scores, (list, tuple)):
        scores = np.column_stack([np.asarray(s, dtype=float) for s in scores])
    scores = np.asarray(scores, dtype=float)
    if scores.ndim == 1:
        scores = scores[:, None]
    if scores.ndim != 2 or scores.shape[0] != n or scores.shape[1] == 0:
        raise ValueError(
            f"{name} must be ({n},) or ({n}, n_seeds) scores, or a list of "
            f"per-seed ({n},) arrays; got shape {scores.shape}."
        )
    if not np.isfinite(scores).all():
        raise ValueError(f"{name} contains NaN or infinite values.")
    return scores


def _delong_contrast(positive, a: np.ndarray, b: np.ndarray) -> DeLongResult:
    """DeLong's test of mean AUC of the columns of ``a`` minus that of ``b``."""
    m, k = int(positive.sum()), int((~positive).sum())
    if m < 2 or k < 2:
        raise ValueError(
            f"DeLong's variance needs at least two samples of each class; got "
            f"{m} positive and {k} negative."
        )
    aucs, v10, v01 = delong_components(positive, np.hstack([a, b]).T)
    cov = np.atleast_2d(np.cov(v10)) / m + np.atleast_2d(np.cov(v01)) / k
    contrast = np.r_[
        np.full(a.shape[1], 1 / a.shape[1]), np.full(b.shape[1], -1 / b.shape[1])
    ]
    variance = float(max(contrast @ cov @ contrast, 0.0))
    auc_a = float(np.mean(aucs[: a.shape[1]]))
    auc_b = float(np.mean(aucs[a.shape[1] :]))
    difference = float(contrast @ aucs)
    se = float(np.sqrt(variance))
    if se > 0:
        z = difference / se
        p = float(2 * norm.sf(abs(z)))
    else:
        z = float("nan") if difference != 0 else 0.0
        p = 1.0 if difference == 0 else 0.0
    half = norm.ppf(1 - (1 - CONFIDENCE) / 2) * se
    return DeLongResult(
        auc_a=auc_a,
        auc_b=auc_b,
        difference=difference,
        variance=variance,
        se=se,
        z=float(z),
        p_value=p,
        ci_low=difference - half,
        ci_high=difference + half,
        n_positive=m,
        n_negative=k,
        n_seeds_a=a.shape[1],
        n_seeds_b=b.shape[1],
    )


def pooled_delong_test(y_true, scores_a, scores_b, *, pos_label=None) -> DeLongResult:
    """DeLong's test of the *mean per-seed AUC* of two models trained on several seeds.

    With several seeds (training runs) of each configuration, a study shows the
    mean of the per-seed AUCs; this tests that quantity, not the AUC of the
    seed-averaged scores. All seeds are scored on the same test images, so their
    AUCs are correlated: DeLong's structural components give the covariance
    of every seed's AUC with every other (DeLong, DeLong & Clarke-Pearson
    1988, for any contrast of correlated AUCs), and the variance of
    ``mean(AUC_a seeds) - mean(AUC_b seeds)`` is the contrast's quadratic
    form. With one seed each it is :func:`delong_test`.

    The variance is that of the test-set sampling with the trained models held
    fixed: the spread between training runs (another draw of seeds) is not
    in it; report the seeds' SD beside it.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Two classes.
    scores_a, scores_b : array-like of shape (n_samples,) or (n_samples, n_seeds)
        Positive-class scores of each seed (a list of per-seed arrays works
        too); the two models may have different numbers of seeds.
    pos_label : label, optional
        The positive class; by default the second sorted label.

    Returns
    -------
    DeLongResult
        ``auc_a`` and ``auc_b`` are the seed means, ``difference`` their
        difference; ``n_seeds_a`` and ``n_seeds_b`` the seeds pooled.

    Examples
    --------
    >>> import numpy as np
    >>> from skmedtl.metrics import pooled_delong_test
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat([0, 1], 100)
    >>> a = y[:, None] + rng.normal(0, 0.8, (200, 3))  # three seeds
    >>> b = y[:, None] + rng.normal(0, 1.5, (200, 3))
    >>> r = pooled_delong_test(y, a, b)
    >>> r.n_seeds_a, bool(r.difference > 0), bool(r.p_value < 0.05)
    (3, True, True)
    """
    positive = _binary_target(y_true, pos_label)
    n = len(positive)
    a = _seed_scores("scores_a", scores_a, n)
    b = _seed_scores("scores_b", scores_b, n)
    return _delong_contrast(positive, a, b)


@dataclass(frozen=True)
class PairedBootstrapResult:
    """The outcome of :func:`paired_bootstrap`.

    Attributes
    ----------
    metric : str
    estimate_a, estimate_b : float
        The metric of each model on the full sample.
    difference : float
        ``estimate_a - estimate_b``.
    ci_low, ci_high : float
        Percentile ``confidence`` interval of the difference.
    p_value : float
        Two-sided bootstrap p-value of "no difference": twice the smaller share
        of resampled differences on either side of 0 (with the +1 correction of
        Davison & Hinkley), at most 1.
    variance : float
        Variance of the resampled differences.
    n_resamples : int
    confidence : float
    """

    metric: str
    estimate_a: float
    estimate_b: float
    difference: float
    ci_low: float
    ci_high: float
    p_value: float
    variance: float
    n_resamples: int
    confidence: float


def _auc_metric(y, score) -> float:
    """Binary AUC of ``score`` (1-D, or 2-D with the positive class last)."""
    return float(_batched_auc(y, score, None)[0])


def _macro_auc_metric(y, proba) -> float:
    """Unweighted mean of the one-vs-rest AUCs (columns: classes 0..k-1)."""
    return float(_batched_macro_auc(y, proba, None)[0])


def _labels_of(pred) -> np.ndarray:
    pred = np.asarray(pred)
    return pred.argmax(axis=1) if pred.ndim == 2 else pred


def _accuracy(y, pred) -> float:
    return float(np.mean(_labels_of(pred) == y))


def _balanced_accuracy(y, pred) -> float:
    pred = _labels_of(pred)
    return float(np.mean([np.mean(pred[y == c] == c) for c in np.unique(y)]))


def _ones(n: int) -> np.ndarray:
    return np.ones((1, n), dtype=np.int64)


def _batched_auc(y, score, counts) -> np.ndarray:
    score = np.asarray(score, dtype=float)
    if score.ndim == 2:
        score = score[:, -1]
    counts = _ones(len(y)) if counts is None else counts
    return weighted_auc(np.asarray(y) == 1, score, counts)


def _batched_macro_auc(y, proba, counts) -> np.ndarray:
    proba = np.asarray(proba, dtype=float)
    counts = _ones(len(y)) if counts is None else counts
    aucs = column_aucs(y[:, None] == np.arange(proba.shape[1]), proba, counts)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(aucs, axis=1)


def _batched_accuracy(y, pred, counts) -> np.ndarray:
    counts = _ones(len(y)) if counts is None else counts
    return counts @ (_labels_of(pred) == y) / len(y)


def _batched_balanced_accuracy(y, pred, counts) -> np.ndarray:
    counts = _ones(len(y)) if counts is None else counts
    correct = _labels_of(pred) == y
    per_class = []
    for c in np.unique(y):
        n_c = counts @ (y == c)
        with np.errstate(divide="ignore", invalid="ignore"):
            per_class.append(
                np.where(n_c > 0, counts @ (correct & (y == c)) / n_c, np.nan)
            )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(np.column_stack(per_class), axis=1)


#: Metrics :func:`paired_bootstrap` knows by name: ``metric(y, pred)`` with
#: ``y`` class indices 0..k-1.
PAIRED_METRICS = {
    "auc": _auc_metric,
    "macro_auc": _macro_auc_metric,
    "accuracy": _accuracy,
    "balanced_accuracy": _balanced_accuracy,
}
#: The same metrics on every resample at once: ``metric(y, pred, counts)``
#: with ``counts`` from :func:`~skmedtl.metrics.resample_counts`.
_BATCHED_METRICS = {
    "auc": _batched_auc,
    "macro_auc": _batched_macro_auc,
    "accuracy": _batched_accuracy,
    "balanced_accuracy": _batched_balanced_accuracy,
}


def paired_bootstrap(
    y_true,
    pred_a,
    pred_b,
    *,
    metric="auc",
    n_resamples: int = N_BOOTSTRAP,
    confidence: float = CONFIDENCE,
    stratify: bool = True,
    random_state=BOOTSTRAP_SEED,
) -> PairedBootstrapResult:
    """Paired bootstrap of the difference in a metric between two models.

    Both models are scored on the *same* resamples of the test samples
    (:func:`~skmedtl.metrics.bootstrap_indices`), so the interval reflects the
    correlation between them (the paired design of a comparison on one test
    set). Resamples are drawn within each class (``stratify``), so every
    resample keeps the class balance and AUC is always defined. Named metrics
    are evaluated on all resamples at once; a callable metric is called once
    per resample.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels; classes are encoded as their sorted order (0..k-1) before
        ``metric`` sees them.
    pred_a, pred_b : array-like with first dimension n_samples
        What ``metric`` scores: positive-class scores for ``"auc"``,
        probability rows for ``"macro_auc"``, labels or probability rows for
        ``"accuracy"`` / ``"balanced_accuracy"``. Any array works with a
        callable metric (the resamples index its first axis), e.g. several
        seeds of one configuration stacked along the second axis. NaN or
        infinite values are an error (drop those rows from both first).
    metric : {"auc", "macro_auc", "accuracy", "balanced_accuracy"} or callable
        A callable takes ``(y, pred)`` with ``y`` encoded as 0..k-1.
    n_resamples : int, default=N_BOOTSTRAP
    confidence : float, default=CONFIDENCE
    stratify : bool, default=True
    random_state : int, RandomState instance or None, default=BOOTSTRAP_SEED

    Returns
    -------
    PairedBootstrapResult
        Resamples on which the difference is undefined (NaN) are left out of
        the interval, the p-value and the variance.

    Examples
    --------
    >>> import numpy as np
    >>> from skmedtl.metrics import paired_bootstrap
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat([0, 1], 100)
    >>> good, poor = y + rng.normal(0, 0.5, 200), y + rng.normal(0, 2.0, 200)
    >>> r = paired_bootstrap(y, good, poor, metric="auc", n_resamples=500)
    >>> r.difference > 0 and r.ci_low > 0 and r.p_value < 0.01
    True
    """
    y_true = check_finite("y_true", y_true)
    if y_true.ndim != 1 or len(y_true) == 0:
        raise ValueError("y_true must be a non-empty 1-D array of labels.")
    classes, y = np.unique(y_true, return_inverse=True)
    a = check_finite("pred_a", pred_a)
    b = check_finite("pred_b", pred_b)
    for name, p in (("pred_a", a), ("pred_b", b)):
        if p.shape[:1] != (len(y),):
            raise ValueError(
                f"{name} must have one entry per sample along its first axis "
                f"({len(y)}); got shape {p.shape}."
            )
    validate_params(
        {"metric": metric},
        {"metric": [StrOptions(tuple(sorted(PAIRED_METRICS))), "callable"]},
    )
    if metric == "auc" and len(classes) != 2:
        raise ValueError(
            "metric='auc' needs two classes; use metric='macro_auc' for "
            f"{len(classes)} classes."
        )
    if int(n_resamples) < 10:
        raise ValueError(f"n_resamples must be at least 10; got {n_resamples!r}.")
    if callable(metric):
        fn, name = metric, getattr(metric, "__name__", "metric")
        result = bootstrap(
            lambda idx: [fn(y[idx], a[idx]), fn(y[idx], b[idx])],
            y,
            n_resamples=n_resamples,
            confidence=confidence,
            random_state=random_state,
            stratify=stratify,
        )
    else:
        batched, name = _BATCHED_METRICS[metric], metric
        n = len(y)

        def both(indices):
            counts = resample_counts(indices, n)
            return np.column_stack([batched(y, a, counts), batched(y, b, counts)])

        result = bootstrap(
            both,
            y,
            n_resamples=n_resamples,
            confidence=confidence,
            random_state=random_state,
            stratify=stratify,
            batched=True,
        )
    est_a, est_b = (float(v) for v in result.estimate)
    diffs = result.draws[:, 0] - result.draws[:, 1]
    diffs = diffs[np.isfinite(diffs)]
    alpha = (1 - confidence) / 2
    low, high = np.quantile(diffs, [alpha, 1 - alpha])
    nb = len(diffs)
    below = (np.sum(diffs <= 0) + 1) / (nb + 1)
    above = (np.sum(diffs >= 0) + 1) / (nb + 1)
    p = float(min(1.0, 2 * min(below, above)))
    return PairedBootstrapResult(
        metric=name,
        estimate_a=est_a,
        estimate_b=est_b,
        difference=est_a - est_b,
        ci_low=float(low),
        ci_high=float(high),
        p_value=p,
        variance=float(np.var(diffs, ddof=1)),
        n_resamples=int(n_resamples),
        confidence=confidence,
    )


def holm(pvalues) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values (step-down; controls the family-wise error).

    Reject hypothesis ``i`` at level ``alpha`` when ``holm(p)[i] <= alpha``.

    Parameters
    ----------
    pvalues : array-like of shape (m,)

    Returns
    -------
    ndarray of shape (m,)
        In the order given.

    Examples
    --------
    >>> from skmedtl.metrics import holm
    >>> holm([0.01, 0.04, 0.03]).round(3).tolist()
    [0.03, 0.06, 0.06]
    """
    p = np.asarray(pvalues, dtype=float)
    if p.ndim != 1:
        raise ValueError(f"pvalues must be 1-D; got shape {p.shape}.")
    if p.size == 0:
        return p.copy()
    if np.isnan(p).any() or (p < 0).any() or (p > 1).any():
        raise ValueError("pvalues must lie in [0, 1] (no NaN).")
    m = len(p)
    order = np.argsort(p, kind="stable")
    adjusted = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out = np.empty(m)
    out[order] = np.minimum(adjusted, 1.0)
    return out
