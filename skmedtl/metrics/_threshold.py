"""Choosing a decision threshold on validation data."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import make_scorer, roc_curve

from ._classification import sensitivity_score, specificity_score

__all__ = ["choose_threshold", "make_threshold_classifier"]

_METHODS = ("youden", "sensitivity", "specificity")
_WRAP_METHODS = ("youden", "sensitivity")


def choose_threshold(
    y_true,
    y_score,
    *,
    method: str = "youden",
    target_sensitivity: float = 0.9,
    target_specificity: float = 0.9,
    pos_label=1,
) -> float:
    """The decision threshold that ``method`` prefers on *validation* data.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Validation labels. Never the test set: a threshold tuned on test data
        makes every test metric optimistic.
    y_score : array-like of shape (n_samples,)
        Scores of the positive class (probabilities or decision values).
    method : {"youden", "sensitivity", "specificity"}, default="youden"
        ``"youden"`` maximises Youden's J = sensitivity + specificity - 1.
        ``"sensitivity"`` takes the most specific threshold whose sensitivity is
        at least ``target_sensitivity`` (a screening setting).
        ``"specificity"`` takes the most sensitive threshold whose specificity
        is at least ``target_specificity`` (a confirmation setting).
    target_sensitivity : float, default=0.9
        Used by ``method="sensitivity"``.
    target_specificity : float, default=0.9
        Used by ``method="specificity"``.
    pos_label : label, default=1

    Returns
    -------
    float
        Predict positive when ``score >= threshold``.

    Examples
    --------
    >>> from skmedtl.metrics import choose_threshold
    >>> choose_threshold([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    0.8
    >>> choose_threshold([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], method="sensitivity",
    ...                  target_sensitivity=1.0)
    0.35
    >>> choose_threshold([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], method="specificity",
    ...                  target_specificity=1.0)
    0.8
    """
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}; got {method!r}.")
    if not 0 < target_sensitivity <= 1:
        raise ValueError(
            f"target_sensitivity must be in (0, 1]; got {target_sensitivity!r}."
        )
    fpr, tpr, thresholds = roc_curve(
        y_true, y_score, pos_label=pos_label, drop_intermediate=False
    )
    finite = np.isfinite(thresholds)  # the first threshold is +inf (nothing positive)
    fpr, tpr, thresholds = fpr[finite], tpr[finite], thresholds[finite]
    if not 0 < target_specificity <= 1:
        raise ValueError(
            f"target_specificity must be in (0, 1]; got {target_specificity!r}."
        )
    if method == "youden":
        return float(thresholds[np.argmax(tpr - fpr)])
    if method == "specificity":
        # From high to low thresholds specificity falls: the last that keeps the
        # target is the most sensitive one.
        keeping = np.flatnonzero(1 - fpr >= target_specificity - 1e-12)
        return float(thresholds[keeping[-1]] if len(keeping) else thresholds[0])
    reaching = np.flatnonzero(tpr >= target_sensitivity - 1e-12)
    # roc_curve orders thresholds from high to low: the first that reaches the
    # target is the most specific one.
    return float(thresholds[reaching[0]])


def _specificity_at_sensitivity(y_true, y_pred, *, target: float, pos_label=1) -> float:
    sensitivity = sensitivity_score(y_true, y_pred, pos_label=pos_label)
    if sensitivity + 1e-12 < target:
        return sensitivity - 1.0  # below target: always worse than any that reach it
    return specificity_score(y_true, y_pred, pos_label=pos_label)


def make_threshold_classifier(
    estimator,
    *,
    method: str = "youden",
    target_sensitivity: float = 0.9,
    pos_label=1,
    cv=5,
    random_state=None,
):
    """Wrap a binary classifier so that its threshold is tuned by internal CV.

    A thin layer over scikit-learn's ``TunedThresholdClassifierCV``: the
    threshold is chosen on held-out folds of the *training* data (so a test set
    stays untouched), then the estimator is refitted on all of it. For patient-
    level folds pass ``cv`` as a list of ``(train, validation)`` index pairs from
    ``StratifiedGroupKFold(...).split(X, y, groups)``.

    Parameters
    ----------
    estimator : classifier
    method : {"youden", "sensitivity"}, default="youden"
        Youden's J (equivalently, balanced accuracy for two classes), or the
        highest specificity at ``target_sensitivity``.
    target_sensitivity : float, default=0.9
    pos_label : label, default=1
    cv : int, splitter or iterable, default=5
    random_state : int or None

    Returns
    -------
    sklearn.model_selection.TunedThresholdClassifierCV
    """
    from sklearn.model_selection import TunedThresholdClassifierCV

    if method not in _WRAP_METHODS:
        raise ValueError(f"method must be one of {_WRAP_METHODS}; got {method!r}.")
    if method == "youden":
        scoring = "balanced_accuracy"  # J = 2 * balanced accuracy - 1 for 2 classes
    else:
        scoring = make_scorer(
            _specificity_at_sensitivity, target=target_sensitivity, pos_label=pos_label
        )
    return TunedThresholdClassifierCV(
        estimator, scoring=scoring, cv=cv, random_state=random_state
    )
