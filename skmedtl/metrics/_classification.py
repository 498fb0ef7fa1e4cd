"""Sensitivity and specificity, binary and multiclass."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import multilabel_confusion_matrix
from sklearn.utils.multiclass import unique_labels

__all__ = ["sensitivity_score", "specificity_score"]

_AVERAGES = ("binary", "macro", "weighted", None)


def sensitivity_score(
    y_true, y_pred, *, pos_label=1, average: str | None = "binary", labels=None
):
    """Sensitivity (true positive rate, recall): TP / (TP + FN).

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        True and predicted labels.
    pos_label : label, default=1
        The positive class (the disease) when ``average="binary"``.
    average : {"binary", "macro", "weighted"} or None, default="binary"
        ``"binary"``: of ``pos_label``. ``"macro"``: unweighted mean over classes
        (each class against the rest). ``"weighted"``: mean weighted by class
        support. ``None``: one value per class, in the order of ``labels``.
    labels : array-like, optional
        Classes to report; all classes seen in ``y_true`` and ``y_pred`` by
        default.

    Returns
    -------
    float or ndarray

    Examples
    --------
    >>> from skmedtl.metrics import sensitivity_score
    >>> sensitivity_score([1, 1, 1, 0, 0], [1, 1, 0, 0, 1])
    0.666...
    """
    return _rate(y_true, y_pred, "sensitivity", pos_label, average, labels)


def specificity_score(
    y_true, y_pred, *, pos_label=1, average: str | None = "binary", labels=None
):
    """Specificity (true negative rate): TN / (TN + FP).

    For multiclass problems each class is taken against all others ("how often a
    case that is not this class is not called this class"), then averaged.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        True and predicted labels.
    pos_label : label, default=1
        The positive class when ``average="binary"``.
    average : {"binary", "macro", "weighted"} or None, default="binary"
        As in :func:`sensitivity_score`; ``"weighted"`` weights by the support of
        each class.
    labels : array-like, optional
        Classes to report.

    Returns
    -------
    float or ndarray

    Examples
    --------
    >>> from skmedtl.metrics import specificity_score
    >>> specificity_score([1, 1, 1, 0, 0], [1, 1, 0, 0, 1])
    0.5
    """
    return _rate(y_true, y_pred, "specificity", pos_label, average, labels)


def _rate(y_true, y_pred, kind: str, pos_label, average, labels):
    if average not in _AVERAGES:
        raise ValueError(f"average must be one of {_AVERAGES}; got {average!r}.")
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    if y_true.shape != y_pred.shape or y_true.ndim != 1:
        raise ValueError(
            f"y_true and y_pred must be 1-D and of equal length; got shapes "
            f"{y_true.shape} and {y_pred.shape}."
        )
    present = unique_labels(y_true, y_pred)
    if average == "binary":
        if len(present) > 2:
            raise ValueError(
                "Target is multiclass but average='binary'. Choose average='macro', "
                "'weighted' or None."
            )
        if len(present) == 2 and pos_label not in present:
            raise ValueError(
                f"pos_label={pos_label!r} is not one of the labels {list(present)}."
            )
        classes = np.asarray([pos_label])
    else:
        classes = present if labels is None else np.asarray(labels)
    cm = multilabel_confusion_matrix(y_true, y_pred, labels=classes)
    tn, fp, fn, tp = cm[:, 0, 0], cm[:, 0, 1], cm[:, 1, 0], cm[:, 1, 1]
    num, den = (tp, tp + fn) if kind == "sensitivity" else (tn, tn + fp)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_class = np.where(den > 0, num / np.where(den > 0, den, 1), 0.0)
    if average == "binary":
        return float(per_class[0])
    if average is None:
        return per_class
    if average == "macro":
        return float(per_class.mean())
    support = tp + fn
    return float(np.average(per_class, weights=support)) if support.sum() else 0.0
