"""Multi-label metrics: per-label AUC, sensitivity and specificity with CIs.

A multi-label problem (chest X-rays with 14 findings) is scored label by label:
each finding is a binary problem of its own. The summaries are

- ``auc``: the unweighted mean of the per-label AUCs, which is what MedMNIST
  reports as AUC for ChestMNIST (``macro`` averaging in scikit-learn);
- ``micro_auc``: one AUC over every (image, label) pair;
- ``accuracy``: the mean of the per-label accuracies, MedMNIST's ACC for
  multi-label sets (at its 0.5 threshold when ``thresholds=0.5``);
- ``balanced_accuracy``, ``sensitivity``, ``specificity``: per-label means.

Confidence intervals come from one bootstrap over images (the rows), shared by
every label, so the labels' intervals are computed on the same resamples
(:mod:`skmedtl.metrics._resample`, unstratified: see :func:`multilabel_report`).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
from scipy.stats import rankdata

from ..utils._validation import check_int
from ._resample import (
    _CHUNK_ENTRIES,
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
from ._threshold import choose_threshold

__all__ = [
    "MultiLabelReport",
    "choose_thresholds",
    "mean_auc",
    "multilabel_report",
    "per_label_auc",
]

#: Per-label metrics of :func:`multilabel_report`.
PER_LABEL = ("auc", "sensitivity", "specificity", "accuracy", "balanced_accuracy")
#: Summary metrics of :func:`multilabel_report`.
SUMMARY = (
    "auc",
    "micro_auc",
    "accuracy",
    "balanced_accuracy",
    "sensitivity",
    "specificity",
)


def _check(Y_true, Y_score) -> tuple[np.ndarray, np.ndarray]:
    Y_true = np.asarray(Y_true)
    Y_score = check_finite("Y_score", np.asarray(Y_score, dtype=float))
    if Y_true.ndim != 2 or Y_true.shape != Y_score.shape:
        raise ValueError(
            "Y_true and Y_score must both be (n_samples, n_labels) arrays of the same "
            f"shape (one column per label); got {Y_true.shape} and {Y_score.shape}."
        )
    if not np.isin(Y_true, (0, 1)).all():
        raise ValueError("Y_true must hold only 0 and 1 (1 = the label is present).")
    return Y_true.astype(np.int64), Y_score


def _auc_columns(Y: np.ndarray, S: np.ndarray) -> np.ndarray:
    """AUC of every column (Mann-Whitney U from ranks); NaN without both classes."""
    ranks = rankdata(S, axis=0)
    n_pos = Y.sum(axis=0)
    n_neg = len(Y) - n_pos
    with np.errstate(divide="ignore", invalid="ignore"):
        u = (ranks * Y).sum(axis=0) - n_pos * (n_pos + 1) / 2
        auc = u / (n_pos * n_neg)
    return np.where((n_pos > 0) & (n_neg > 0), auc, np.nan)


def per_label_auc(Y_true, Y_score) -> np.ndarray:
    """ROC AUC of each label (NaN where a label has only one class).

    Parameters
    ----------
    Y_true : array-like of shape (n_samples, n_labels)
        Label indicator matrix.
    Y_score : array-like of shape (n_samples, n_labels)
        Scores (probabilities) of each label.

    Returns
    -------
    ndarray of shape (n_labels,)

    Examples
    --------
    >>> from skmedtl.metrics import per_label_auc
    >>> per_label_auc([[1, 0], [0, 1], [1, 1], [0, 0]],
    ...               [[0.9, 0.2], [0.1, 0.7], [0.8, 0.4], [0.3, 0.6]]).tolist()
    [1.0, 0.75]
    """
    Y, S = _check(Y_true, Y_score)
    return _auc_columns(Y, S)


def mean_auc(Y_true, Y_score) -> float:
    """The mean of the per-label AUCs, as MedMNIST reports AUC for ChestMNIST.

    Equal to ``sklearn.metrics.roc_auc_score(Y_true, Y_score, average="macro")``
    when every label has both classes; labels with one class are left out (with
    a warning) instead of raising.

    Parameters
    ----------
    Y_true : array-like of shape (n_samples, n_labels)
    Y_score : array-like of shape (n_samples, n_labels)

    Returns
    -------
    float

    Examples
    --------
    >>> from skmedtl.metrics import mean_auc
    >>> mean_auc([[1, 0], [0, 1], [1, 1], [0, 0]],
    ...          [[0.9, 0.2], [0.1, 0.7], [0.8, 0.4], [0.3, 0.6]])
    0.875
    """
    aucs = per_label_auc(Y_true, Y_score)
    if np.isnan(aucs).all():
        return float("nan")
    if np.isnan(aucs).any():
        warnings.warn(
            f"{int(np.isnan(aucs).sum())} label(s) have only one class in Y_true; "
            "their AUC is undefined and left out of the mean.",
            UserWarning,
            stacklevel=2,
        )
    return float(np.nanmean(aucs))


def choose_thresholds(
    Y_true,
    Y_score,
    *,
    method: str = "youden",
    target_sensitivity: float = 0.9,
    default: float = 0.5,
) -> np.ndarray:
    """One decision threshold per label, chosen on *validation* data.

    Parameters
    ----------
    Y_true : array-like of shape (n_samples, n_labels)
        Validation labels (never the test set).
    Y_score : array-like of shape (n_samples, n_labels)
        Validation scores.
    method : {"youden", "sensitivity"}, default="youden"
        As in :func:`choose_threshold`, label by label.
    target_sensitivity : float, default=0.9
        For ``method="sensitivity"``.
    default : float, default=0.5
        The threshold of a label that has only one class in ``Y_true`` (nothing
        to choose from).

    Returns
    -------
    ndarray of shape (n_labels,)
        Predict label ``j`` present when ``score[:, j] >= thresholds[j]``.

    Examples
    --------
    >>> from skmedtl.metrics import choose_thresholds
    >>> choose_thresholds([[0, 1], [0, 1], [1, 1], [1, 1]],
    ...                   [[0.1, 0.3], [0.4, 0.2], [0.35, 0.9], [0.8, 0.6]]).tolist()
    [0.8, 0.5]
    """
    Y, S = _check(Y_true, Y_score)
    out = np.full(Y.shape[1], float(default))
    for j in range(Y.shape[1]):
        if 0 < Y[:, j].sum() < len(Y):
            out[j] = choose_threshold(
                Y[:, j],
                S[:, j],
                method=method,
                target_sensitivity=target_sensitivity,
            )
    return out


def _summary_and_per_label(Y, S, P) -> tuple[np.ndarray, np.ndarray]:
    """Summary metrics (in SUMMARY order) and per-label ones (PER_LABEL x labels)."""
    summary, per_label = _batched_summary_and_per_label(
        Y, S, P, np.ones((1, len(Y)), dtype=np.int64)
    )
    return summary[0], per_label[0]


def _batched_summary_and_per_label(Y, S, P, counts) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_summary_and_per_label` of every row of resample ``counts``.

    Returns arrays of shape ``(n_resamples, len(SUMMARY))`` and
    ``(n_resamples, len(PER_LABEL), n_labels)``.
    """
    n = counts.sum(axis=1)[:, None]
    n_pos = counts @ Y
    n_neg = n - n_pos
    tp = counts @ (P & (Y == 1))
    tn = counts @ (~P & (Y == 0))
    with np.errstate(divide="ignore", invalid="ignore"):
        sens = np.where(n_pos > 0, tp / np.maximum(n_pos, 1), np.nan)
        spec = np.where(n_neg > 0, tn / np.maximum(n_neg, 1), np.nan)
    acc = (tp + tn) / n
    auc = column_aucs(Y == 1, S, counts)
    micro = weighted_auc(
        Y.reshape(-1) == 1, S.reshape(-1), np.repeat(counts, Y.shape[1], axis=1)
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        bal = np.nanmean(np.stack([sens, spec]), axis=0)
        summary = np.column_stack(
            [
                np.nanmean(auc, axis=1),
                micro,
                acc.mean(axis=1),
                np.nanmean(bal, axis=1),
                np.nanmean(sens, axis=1),
                np.nanmean(spec, axis=1),
            ]
        )
    return summary, np.stack([auc, sens, spec, acc, bal], axis=1)


@dataclass
class MultiLabelReport:
    """Per-label and summary metrics of a multi-label problem, with bootstrap CIs.

    Attributes
    ----------
    metrics : dict
        ``{name: (estimate, low, high)}`` for ``auc`` (mean per-label AUC, as
        MedMNIST), ``micro_auc``, ``accuracy`` (mean per-label accuracy, as
        MedMNIST), ``balanced_accuracy``, ``sensitivity`` and ``specificity``
        (means over labels).
    per_label : dict
        ``{label: {metric: (estimate, low, high)}}`` for ``auc``,
        ``sensitivity``, ``specificity``, ``accuracy`` and
        ``balanced_accuracy``, plus ``n_positive`` and ``threshold``.
    labels : list of str
    n_samples : int
    n_bootstraps : int
    confidence : float
    """

    metrics: dict[str, tuple[float, float, float]]
    per_label: dict[str, dict]
    labels: list[str]
    n_samples: int
    n_bootstraps: int
    confidence: float
    notes: list[str] = field(default_factory=list)

    def __getitem__(self, name: str) -> float:
        return self.metrics[name][0]

    def to_frame(self):
        """Per-label metrics as a pandas DataFrame (one row per label)."""
        import pandas as pd

        rows = {}
        for label, values in self.per_label.items():
            row = {"n_positive": values["n_positive"], "threshold": values["threshold"]}
            for m in PER_LABEL:
                est, low, high = values[m]
                row.update({m: est, f"{m}_low": low, f"{m}_high": high})
            rows[label] = row
        return pd.DataFrame.from_dict(rows, orient="index")

    def __str__(self) -> str:
        pct = round(self.confidence * 100)
        head = f"{'label':<20} {'n pos':>6} {'thr':>5}  " + "  ".join(
            f"{m:>22}" for m in ("auc", "sensitivity", "specificity")
        )
        lines = [
            f"Multi-label report, {len(self.labels)} labels, n={self.n_samples}, "
            f"{pct}% CI from {self.n_bootstraps} bootstraps",
            head,
        ]
        for label, v in self.per_label.items():
            cells = "  ".join(
                f"{_fmt(v[m]):>22}" for m in ("auc", "sensitivity", "specificity")
            )
            lines.append(
                f"{label[:20]:<20} {v['n_positive']:>6} {v['threshold']:5.2f}  {cells}"
            )
        for name, value in self.metrics.items():
            lines.append(f"{name:<20} {_fmt(value)}")
        lines.extend(f"note: {note}" for note in self.notes)
        return "\n".join(lines)


def _fmt(value) -> str:
    est, low, high = value
    if np.isnan(est):
        return "n/a"
    return f"{est:.3f} [{low:.3f}, {high:.3f}]"


def multilabel_report(
    Y_true,
    Y_score,
    *,
    thresholds=0.5,
    labels=None,
    n_bootstraps: int = N_BOOTSTRAP,
    confidence: float = CONFIDENCE,
    random_state=BOOTSTRAP_SEED,
) -> MultiLabelReport:
    """Per-label AUC, sensitivity and specificity with bootstrap CIs, and summaries.

    Parameters
    ----------
    Y_true : array-like of shape (n_samples, n_labels)
        Test labels (indicator matrix).
    Y_score : array-like of shape (n_samples, n_labels)
        Per-label scores (probabilities), e.g. ``FineTuneClassifier.predict_proba``.
    thresholds : float or array-like of shape (n_labels,), default=0.5
        Label ``j`` is predicted present when ``score >= thresholds[j]``. Choose
        them on validation data with :func:`choose_thresholds`.
    labels : list of str, optional
        Label names (default ``"0"``, ``"1"``, ...).
    n_bootstraps : int, default=N_BOOTSTRAP
        Bootstrap resamples of the images (0: no intervals, NaN bounds).
        Images are resampled whole and *unstratified*
        (:func:`~skmedtl.metrics.bootstrap_indices` with ``stratify=False``):
        the labels of an image are correlated, and stratifying on the
        combination of labels would freeze the rare combinations (a
        combination seen once would be drawn once in every resample). A
        resample in which a label has one class only gives that label an
        undefined (NaN) AUC; it is left out of that label's interval and the
        report's notes say in how many resamples it happened.
    confidence : float, default=CONFIDENCE
    random_state : int, RandomState instance or None, default=BOOTSTRAP_SEED

    Returns
    -------
    MultiLabelReport

    Examples
    --------
    >>> import numpy as np
    >>> from skmedtl.metrics import multilabel_report
    >>> rng = np.random.default_rng(0)
    >>> Y = rng.integers(0, 2, (200, 3))
    >>> S = np.clip(Y + rng.normal(0, 0.6, Y.shape), 0, 1)
    >>> report = multilabel_report(Y, S, labels=["a", "b", "c"], n_bootstraps=200,
    ...                            random_state=0)
    >>> round(report["auc"], 3) == round(float(np.mean(
    ...     [report.per_label[k]["auc"][0] for k in "abc"])), 3)
    True
    """
    Y, S = _check(Y_true, Y_score)
    n, k = Y.shape
    if labels is None:
        labels = [str(j) for j in range(k)]
    labels = [str(v) for v in labels]
    if len(labels) != k:
        raise ValueError(f"labels has {len(labels)} names for {k} label columns.")
    thr = np.broadcast_to(np.asarray(thresholds, dtype=float), (k,)).copy()
    check_int("n_bootstraps", n_bootstraps, 0)
    _check_confidence(confidence)
    P = S >= thr
    summary, per_label = _summary_and_per_label(Y, S, P)
    if n_bootstraps:
        k_summary = len(SUMMARY)

        def statistic(indices):
            both = _batched_summary_and_per_label(Y, S, P, resample_counts(indices, n))
            return np.column_stack([both[0], both[1].reshape(len(indices), -1)])

        result = bootstrap(
            statistic,
            np.zeros(n),
            n_resamples=n_bootstraps,
            confidence=confidence,
            random_state=random_state,
            stratify=False,
            batched=True,
            batch_size=max(1, _CHUNK_ENTRIES // (n * (k + 1))),
        )
        lo_s, hi_s = result.low[:k_summary], result.high[:k_summary]
        lo_l = result.low[k_summary:].reshape(per_label.shape)
        hi_l = result.high[k_summary:].reshape(per_label.shape)
        auc_valid = result.n_valid[k_summary : k_summary + k]
    else:
        lo_s = hi_s = np.full(len(SUMMARY), np.nan)
        lo_l = hi_l = np.full(per_label.shape, np.nan)
        auc_valid = np.zeros(k, dtype=int)
    metrics = {
        m: (float(summary[i]), float(lo_s[i]), float(hi_s[i]))
        for i, m in enumerate(SUMMARY)
    }
    per = {}
    notes = []
    for j, name in enumerate(labels):
        per[name] = {
            m: (float(per_label[i, j]), float(lo_l[i, j]), float(hi_l[i, j]))
            for i, m in enumerate(PER_LABEL)
        }
        per[name]["n_positive"] = int(Y[:, j].sum())
        per[name]["threshold"] = float(thr[j])
        if not 0 < Y[:, j].sum() < n:
            notes.append(f"label {name!r} has one class only in Y_true: AUC n/a")
        elif n_bootstraps and auc_valid[j] < n_bootstraps:
            notes.append(
                f"label {name!r}: AUC undefined in {n_bootstraps - auc_valid[j]} of "
                f"{n_bootstraps} resamples (one class drawn); its interval uses "
                "the others"
            )
    return MultiLabelReport(
        metrics=metrics,
        per_label=per,
        labels=labels,
        n_samples=n,
        n_bootstraps=int(n_bootstraps),
        confidence=float(confidence),
        notes=notes,
    )
