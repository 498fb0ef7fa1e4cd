"""A classifier wrapper: encoded labels, class weights as sample weights."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

__all__ = ["LabelEncodedClassifier"]


class LabelEncodedClassifier(ClassifierMixin, BaseEstimator):
    """Let a classifier that needs labels ``0..k-1`` take any labels.

    XGBoost's ``XGBClassifier`` accepts only encoded integer labels and has no
    ``class_weight``; this wrapper encodes the labels, decodes predictions, and
    turns ``class_weight`` into per-sample weights.

    Parameters
    ----------
    estimator : classifier
        Cloned in :meth:`fit`.
    class_weight : dict, "balanced" or None, default=None
        As in scikit-learn: weights applied through ``sample_weight``.

    Attributes
    ----------
    estimator_ : classifier
        The fitted clone.
    classes_ : ndarray
        The original labels.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skmedtl.hybrid import LabelEncodedClassifier
    >>> clf = LabelEncodedClassifier(LogisticRegression(), class_weight="balanced")
    >>> clf.fit([[0.0], [0.1], [1.0], [1.1]], ["benign", "benign", "malignant",
    ...                                      "malignant"]).predict([[0.9]])
    array(['malignant'], dtype='<U9')
    """

    def __init__(self, estimator, *, class_weight=None):
        self.estimator = estimator
        self.class_weight = class_weight

    def fit(self, X, y, sample_weight=None):
        """Fit a clone of ``estimator`` on encoded labels."""
        X, y = validate_data(self, X, y)
        check_classification_targets(y)
        encoder = LabelEncoder().fit(y)
        if len(encoder.classes_) < 2:
            raise ValueError(
                "A classifier needs samples of at least 2 classes, but the training "
                f"labels hold one class only: {encoder.classes_.tolist()[0]!r}."
            )
        self.classes_ = encoder.classes_
        weights = None
        if self.class_weight is not None:
            weights = compute_sample_weight(self.class_weight, y)
        if sample_weight is not None:
            sample_weight = np.asarray(sample_weight, dtype=float)
            weights = sample_weight if weights is None else weights * sample_weight
        params = {} if weights is None else {"sample_weight": weights}
        self.estimator_ = clone(self.estimator).fit(X, encoder.transform(y), **params)
        return self

    def predict(self, X):
        """Predicted labels, in the original label type."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False)
        return self.classes_[np.asarray(self.estimator_.predict(X)).astype(int)]

    def predict_proba(self, X):
        """Class probabilities, columns in the order of ``classes_``."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False)
        return self.estimator_.predict_proba(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        inner = self.estimator.__sklearn_tags__()
        tags.input_tags.allow_nan = inner.input_tags.allow_nan
        return tags
