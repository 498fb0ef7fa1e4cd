"""Hybrid heads in the study: their grids (from ``hybrid``) and what they learn."""

from __future__ import annotations

import numpy as np

__all__ = ["count_head_params", "head_grid"]


def head_grid(head: str, size: str, prefix: str = "clf__") -> dict:
    """The grid of ``head`` for the profile's ``head_grid`` setting.

    A copy of ``skmedtl.hybrid.HEAD_GRIDS[size][head]`` (the one grid table),
    its keys as parameters of :func:`~skmedtl.hybrid.head_pipeline`'s
    ``clf`` step (``clf__...``; a multi-label pipeline's heads sit under
    ``clf__estimator__``: :attr:`~._task.Task.head_prefix`).
    """
    from ..hybrid import head_grid as grid

    return grid(head, size, prefix=prefix)


def count_head_params(clf) -> int | None:
    """Numbers a fitted head learned: coefficients, dual coefficients, tree nodes.

    Logistic regression: weights and intercepts. SVM: dual coefficients and
    intercepts (plus the sigmoid calibration). Forests and boosted trees: tree
    nodes. ``None`` for other classifiers.
    """
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import SVC

    from ..hybrid import LabelEncodedClassifier

    if isinstance(clf, LogisticRegression):
        return int(clf.coef_.size + np.size(clf.intercept_))
    if isinstance(clf, CalibratedClassifierCV):
        total = 0
        for calibrated in clf.calibrated_classifiers_:
            inner = count_head_params(calibrated.estimator) or 0
            total += inner + 2 * len(calibrated.calibrators)
        return total
    if isinstance(clf, SVC):
        return int(clf.dual_coef_.size + np.size(clf.intercept_))
    if isinstance(clf, RandomForestClassifier):
        return int(sum(t.tree_.node_count for t in clf.estimators_))
    if isinstance(clf, LabelEncodedClassifier):
        booster = getattr(clf.estimator_, "get_booster", None)
        if booster is not None:
            return int(sum(len(t.splitlines()) for t in booster().get_dump()))
        return count_head_params(clf.estimator_)
    return None
