"""Hybrid heads: hyperparameter grids and the size of what they learn."""

from __future__ import annotations

import numpy as np

__all__ = ["HEAD_GRIDS", "count_head_params", "head_grid"]

#: Hyperparameter grids of the hybrid heads (parameters of the pipeline step
#: ``clf``), by profile setting. Searched on the validation split or by inner CV.
HEAD_GRIDS = {
    "small": {
        "svm": {"clf__estimator__C": [0.1, 1.0, 10.0]},
        "logreg": {"clf__C": [0.01, 0.1, 1.0]},
        "rf": {"clf__min_samples_leaf": [1, 5]},
        "xgboost": {"clf__estimator__max_depth": [2, 4]},
    },
    "full": {
        "svm": {
            "clf__estimator__C": [0.01, 0.1, 1.0, 10.0, 100.0],
            "clf__estimator__gamma": ["scale", "auto"],
        },
        "logreg": {"clf__C": [0.001, 0.01, 0.1, 1.0, 10.0]},
        "rf": {
            "clf__max_features": ["sqrt", 0.1],
            "clf__min_samples_leaf": [1, 3, 10],
        },
        "xgboost": {
            "clf__estimator__max_depth": [2, 4, 6],
            "clf__estimator__learning_rate": [0.05, 0.1],
        },
    },
}


def head_grid(head: str, size: str) -> dict:
    """The grid of ``head`` for the profile's ``head_grid`` setting."""
    return {k: list(v) for k, v in HEAD_GRIDS[size][head].items()}


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
