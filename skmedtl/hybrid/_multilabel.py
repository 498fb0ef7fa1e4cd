"""Multi-label hybrids: one head per label on one shared embedding.

:func:`~skmedtl.make_hybrid` returns a :class:`HybridPipeline`: a
``Pipeline`` that behaves exactly like scikit-learn's for one label per image,
and for a 2-D indicator ``y`` (several findings per image) fits the feature
steps once and then one clone of the head per label
(``MultiOutputClassifier``), so the images are embedded once whatever the
number of labels. ``predict_proba`` then gives ``(n, n_labels)`` per-label
probabilities, ``predict`` a 0/1 matrix, and ``classes_`` a list of
``array([0, 1])`` as ``MultiOutputClassifier`` has it.

A head that handles multi-label targets itself (a ``MultiOutputClassifier`` or
``ClassifierChain`` you pass as ``head``) is fitted as in any ``Pipeline``.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import is_classifier
from sklearn.multioutput import ClassifierChain, MultiOutputClassifier
from sklearn.pipeline import Pipeline
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets, type_of_target

__all__ = ["HybridPipeline"]


def _is_multilabel(y) -> bool:
    if y is None:
        return False
    shape = getattr(y, "shape", None) or np.shape(y)
    return len(shape) == 2 and shape[1] > 1


def _has(method: str):
    """Like ``Pipeline``: a method exists when the final estimator has it."""

    def check(self) -> bool:
        heads = self.__dict__.get("multilabel_head_")
        template = heads.estimator if heads is not None else self._final_estimator
        return template == "passthrough" or hasattr(template, method)

    return check


def _check_targets_early(X, y, head) -> None:
    """The head's checks of ``y``, made before the images are embedded.

    Embedding can take hours; a ``y`` of the wrong length, with one class or with
    continuous values would otherwise fail only when the head is fitted.
    """
    if y is None or not is_classifier(head):
        return
    try:
        n_images = len(X)
    except TypeError:  # not a sized collection: CNNFeatures says what is wrong
        return
    if len(y) != n_images:
        raise ValueError(
            f"X has {n_images} images but y has {len(y)} labels; give one label "
            "per image, in the same order."
        )
    if np.ndim(y) > 1 and np.shape(y)[1] > 1:
        return  # a multi-label head (MultiOutputClassifier, ...) checks it
    labels = np.ravel(np.asarray(y))
    check_classification_targets(labels)
    classes = np.unique(labels)
    if len(classes) < 2:
        raise ValueError(
            f"y holds one class only ({classes.tolist()[0]!r}); a classifier needs "
            "images of at least two classes."
        )


class HybridPipeline(Pipeline):
    """A hybrid ``Pipeline`` that fits one head per label for multi-label ``y``.

    Built by :func:`skmedtl.make_hybrid`; the parameters are those of
    :class:`sklearn.pipeline.Pipeline`. With a 1-D ``y`` it *is* a ``Pipeline``.

    Attributes
    ----------
    multilabel_head_ : MultiOutputClassifier
        Multi-label fits only: the per-label heads (``estimators_``), fitted on
        the output of the steps before the last one. The last step itself
        stays unfitted (it is the template cloned for each label).

    Examples
    --------
    >>> import numpy as np
    >>> from skmedtl import make_hybrid
    >>> rng = np.random.default_rng(0)
    >>> X = rng.integers(0, 256, (16, 28, 28), dtype=np.uint8)
    >>> Y = np.array([[1, 0], [0, 1], [1, 1], [0, 0]] * 4)
    >>> pipe = make_hybrid("lenet5", "logreg", weights=None, input_size=32,
    ...                    verbose=0).fit(X, Y)
    >>> pipe.predict_proba(X[:3]).shape, len(pipe.multilabel_head_.estimators_)
    ((3, 2), 2)
    """

    def fit(self, X, y=None, **params):
        """Fit the pipeline; a 2-D indicator ``y`` gets one head per label."""
        self.__dict__.pop("multilabel_head_", None)
        head = self._final_estimator
        if not _is_multilabel(y) or isinstance(
            head, (MultiOutputClassifier, ClassifierChain, str)
        ):
            _check_targets_early(X, y, head)
            return super().fit(X, y, **params)
        Y = np.asarray(y)
        kind = type_of_target(Y)
        if kind != "multilabel-indicator":
            raise ValueError(
                f"y has shape {Y.shape}, so it is read as multi-label: a 0/1 matrix, "
                f"one column per label. It is {kind!r} instead."
            )
        if params:
            raise TypeError(
                "Fit parameters are not supported with a multi-label y; got "
                f"{sorted(params)}."
            )
        constant = np.flatnonzero(Y.min(axis=0) == Y.max(axis=0))
        if len(constant):
            raise ValueError(
                f"Label column {int(constant[0])} of y has a single value; each "
                "label's head needs positive and negative images. Drop the column."
            )
        Xt = X
        for _, _, step in self._iter(with_final=False, filter_passthrough=True):
            Xt = step.fit_transform(Xt, Y)
        self.multilabel_head_ = MultiOutputClassifier(head).fit(Xt, Y)
        return self

    # -- multi-label predictions ------------------------------------------------------
    def _features(self, X):
        Xt = X
        for _, _, step in self._iter(with_final=False, filter_passthrough=True):
            Xt = step.transform(Xt)
        return Xt

    def _per_label(self):
        return self.__dict__.get("multilabel_head_")

    def predict(self, X, **params):
        """Labels; for a multi-label fit a 0/1 matrix ``(n, n_labels)``."""
        heads = self._per_label()
        if heads is None:
            return super().predict(X, **params)
        return heads.predict(self._features(X))

    @available_if(_has("predict_proba"))
    def predict_proba(self, X, **params):
        """Probabilities; for a multi-label fit ``(n, n_labels)`` per label."""
        heads = self._per_label()
        if heads is None:
            return super().predict_proba(X, **params)
        Xt = self._features(X)
        return np.column_stack(
            [
                est.predict_proba(Xt)[:, list(est.classes_).index(1)]
                for est in heads.estimators_
            ]
        )

    @available_if(_has("decision_function"))
    def decision_function(self, X, **params):
        """Decision values; for a multi-label fit ``(n, n_labels)`` per label."""
        heads = self._per_label()
        if heads is None:
            return super().decision_function(X, **params)
        Xt = self._features(X)
        return np.column_stack([est.decision_function(Xt) for est in heads.estimators_])

    def score(self, X, y=None, sample_weight=None, **params):
        """Accuracy; for a multi-label fit the subset accuracy (all labels right)."""
        heads = self._per_label()
        if heads is None:
            return super().score(X, y, sample_weight=sample_weight, **params)
        from sklearn.metrics import accuracy_score

        pred = heads.predict(self._features(X))
        return accuracy_score(y, pred, sample_weight=sample_weight)

    @property
    def classes_(self):
        """Classes; for a multi-label fit one ``array([0, 1])`` per label."""
        heads = self.__dict__.get("multilabel_head_")
        if heads is not None:
            return heads.classes_
        return self.steps[-1][1].classes_

    def __sklearn_is_fitted__(self) -> bool:
        if self._per_label() is not None:
            return True
        return super().__sklearn_is_fitted__()
