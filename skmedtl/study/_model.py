"""StudyModel: the model a study selected, with its operating point and calibration."""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from ._task import Task

__all__ = ["MultiLabelStudyModel", "StudyModel"]


class StudyModel(ClassifierMixin, BaseEstimator):
    """A fitted classifier with the choices a study made for it on validation.

    One wrapper for every task: one class per image (binary, multi-class,
    ordinal) or multi-label (an ``(n_images, n_labels)`` 0/1 matrix; the task
    is read from the wrapped model's ``classes_``, see
    :class:`~skmedtl.study._task.Task`).

    What :class:`~skmedtl.study.TransferStudy` saves in ``out_dir/model/`` and
    :func:`skmedtl.load` returns: the very model the study scored on the test
    set (a hybrid ``Pipeline`` that starts from images, or a
    :class:`~skmedtl.FineTuneClassifier`), its classes in the report's order
    (for two classes the positive class last), the recalibration fitted on the
    validation predictions (if the study recalibrated) and the operating point
    chosen on them.

    Like scikit-learn's ``FrozenEstimator``, the wrapped model is already
    fitted: :meth:`fit` does not train it again and ``clone`` returns the same
    object, so it can be passed to scikit-learn code that fits (a
    ``cross_val_score`` then scores the saved model on each fold). To train the
    configuration anew, clone ``model.estimator`` instead.

    Parameters
    ----------
    estimator : fitted classifier
        Predicts from images (``predict_proba``).
    classes : list, optional
        The class labels in report order (default: ``estimator.classes_``;
        multi-label: must be None).
    class_names : list of str, optional
        Display names of ``classes`` (default: the labels as strings);
        multi-label: the label names in column order (default ``"0"``, ...).
    pos_label : label, optional
        Positive class of a binary problem (default: the last of ``classes``).
    calibrator : ProbabilityCalibrator or list of them, optional
        Fitted on the validation probabilities (columns in ``classes`` order);
        multi-label: one per label, each fitted on that label's probabilities.
    threshold : float or list of float, optional
        The operating point: the positive class is decided when its
        (calibrated, if ``calibrator``) probability is at least this.
        Multi-label: per-label decision thresholds (default 0.5) on the
        model's own probabilities: label ``j`` is present when
        ``p[:, j] >= threshold[j]``.

    Attributes
    ----------
    classes_ : ndarray
        The class labels in report order (multi-label: ``array([0, 1])`` per
        label, scikit-learn's convention).
    class_names_ : list of str
    threshold_ : float or None
        The operating point chosen on validation (binary problems).
    pos_label_ : label or None
    labels_, n_labels_, thresholds_ :
        Multi-label only: label names, their number, the decision thresholds.

    See Also
    --------
    skmedtl.study.TransferStudy : Selects, fits and saves it.
    skmedtl.load : Loads a saved one, without pickle.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skmedtl.study import StudyModel
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]]); y = np.array([0, 0, 1, 1])
    >>> model = StudyModel(LogisticRegression().fit(X, y), threshold=0.9).fit()
    >>> model.predict(X).tolist(), model.predict(X, threshold="validation").tolist()
    ([0, 0, 1, 1], [0, 0, 0, 0])
    """

    def __init__(
        self,
        estimator,
        *,
        classes=None,
        class_names=None,
        pos_label=None,
        calibrator=None,
        threshold: float | None = None,
    ):
        self.estimator = estimator
        self.classes = classes
        self.class_names = class_names
        self.pos_label = pos_label
        self.calibrator = calibrator
        self.threshold = threshold

    def __sklearn_clone__(self):
        return self  # frozen: the fitted model is the point

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        classes = getattr(self.estimator, "classes_", None)
        return Task.of_classes(classes).set_tags(tags)

    @property
    def _per_label(self) -> bool:
        return Task.of_classes(getattr(self, "classes_", None)).per_label

    def _label_options(self):
        """``(labels, thresholds, calibrators)`` of a multi-label model."""
        threshold = 0.5 if self.threshold is None else self.threshold
        return self.class_names, threshold, self.calibrator

    def fit(self, X=None, y=None):
        """Check the wrapped model and set the fitted attributes (no training).

        Parameters
        ----------
        X, y : ignored
            Accepted so that scikit-learn code that fits keeps working.

        Returns
        -------
        self
        """
        check_is_fitted(self.estimator)
        if Task.of_classes(getattr(self.estimator, "classes_", None)).per_label:
            if self.classes is not None or self.pos_label is not None:
                raise ValueError(
                    "classes and pos_label apply to one class per image; "
                    f"{type(self.estimator).__name__} is multi-label (give the "
                    "label names as class_names)."
                )
            return self._fit_labels(*self._label_options())
        return self._fit_classes()

    def _fit_classes(self):
        own = list(np.asarray(self.estimator.classes_).tolist())
        classes = own if self.classes is None else list(self.classes)
        missing = [c for c in classes if c not in own]
        if missing or len(classes) != len(own):
            raise ValueError(
                f"classes {classes!r} must be the estimator's classes {own!r} in "
                "some order."
            )
        names = (
            [str(c) for c in classes]
            if self.class_names is None
            else [str(n) for n in self.class_names]
        )
        if len(names) != len(classes):
            raise ValueError(
                f"class_names has {len(names)} names for {len(classes)} classes."
            )
        if self.threshold is not None:
            if len(classes) != 2:
                raise ValueError(
                    "threshold applies to two-class problems; this model has "
                    f"{len(classes)} classes."
                )
            if not isinstance(self.threshold, numbers.Real) or not (
                0.0 <= float(self.threshold) <= 1.0
            ):
                raise ValueError(
                    "threshold must be a probability in [0, 1]; got "
                    f"{self.threshold!r}."
                )
        if self.pos_label is not None and self.pos_label not in classes:
            raise ValueError(
                f"pos_label {self.pos_label!r} is not one of the classes {classes!r}."
            )
        pos = self.pos_label
        if pos is None and len(classes) == 2:
            pos = classes[-1]
        if pos is not None and len(classes) == 2 and classes[-1] != pos:
            classes = [c for c in classes if c != pos] + [pos]
            names = [names[1], names[0]]
        self.classes_ = np.asarray(classes)
        self.class_names_ = names
        self.pos_label_ = pos
        self.threshold_ = None if self.threshold is None else float(self.threshold)
        self._columns = [own.index(c) for c in classes]
        return self

    def predict_proba(self, X, *, calibrated: bool = True) -> np.ndarray:
        """Class probabilities, columns in ``classes_`` order.

        Parameters
        ----------
        X : images
            What the wrapped model takes (paths, arrays).
        calibrated : bool, default=True
            Apply the study's recalibration (if it had one); ``False`` gives
            the model's own probabilities (the study's ``p_<class>`` columns).

        Returns
        -------
        ndarray of shape (n_images, n_classes)
        """
        check_is_fitted(self, "classes_")
        if self._per_label:
            proba = label_probabilities(self.estimator.predict_proba(X), self.n_labels_)
        else:
            proba = np.asarray(self.estimator.predict_proba(X), dtype=float)
            proba = proba[:, self._columns]
        return self.recalibrate(proba) if calibrated else proba

    def recalibrate(self, proba) -> np.ndarray:
        """The study's recalibration of the model's own probabilities.

        ``predict_proba(X)`` is ``recalibrate(predict_proba(X, calibrated=False))``:
        with both, the images are predicted once.

        Parameters
        ----------
        proba : array-like of shape (n_images, n_classes) or (n_images, n_labels)
            The model's own probabilities (``calibrated=False``).

        Returns
        -------
        ndarray
            ``proba`` itself when the study did not recalibrate.
        """
        check_is_fitted(self, "classes_")
        proba = np.asarray(proba, dtype=float)
        if self._per_label:
            calibrators = self._label_options()[2]
            if calibrators is None:
                return proba
            return np.column_stack(
                [
                    np.asarray(c.predict_proba(proba[:, j]), dtype=float)[:, 1]
                    for j, c in enumerate(calibrators)
                ]
            )
        if self.calibrator is None:
            return proba
        return np.asarray(self.calibrator.predict_proba(proba), dtype=float)

    def predict(self, X, *, threshold=None) -> np.ndarray:
        """Predicted classes.

        Parameters
        ----------
        X : images
        threshold : None, "validation" or float, default=None
            ``None``: the most probable class (the model's own probabilities;
            what the study's ``predicted_label`` and accuracy use; multi-label:
            the per-label thresholds chosen on validation).
            ``"validation"``: the operating point chosen on validation
            (:attr:`threshold_`), applied to the (calibrated) probability of
            the positive class; a float: that threshold instead. Multi-label:
            a number or one per label instead of :attr:`thresholds_`, always
            on the model's own (uncalibrated) probabilities.

        Returns
        -------
        ndarray of shape (n_images,) or (n_images, n_labels)
        """
        check_is_fitted(self, "classes_")
        if self._per_label:
            return self._predict_labels(X, threshold)
        if threshold is None:
            proba = self.predict_proba(X, calibrated=False)
            return self.classes_[proba.argmax(axis=1)]
        cut = self._resolve_threshold(threshold)
        proba = self.predict_proba(X)
        return np.where(proba[:, 1] >= cut, self.classes_[1], self.classes_[0])

    @property
    def calibrated_(self) -> bool:
        """Whether :meth:`predict_proba` recalibrates (the study had a calibrator)."""
        if self._per_label:
            return self._label_options()[2] is not None
        return self.calibrator is not None

    # -- multi-label: one 0/1 answer per label -----------------------------------
    def _fit_labels(self, labels, thresholds, calibrators):
        classes = self.estimator.classes_
        bad = [j for j, c in enumerate(classes) if list(np.asarray(c)) != [0, 1]]
        if bad:
            raise ValueError(
                f"Label {bad[0]} of the estimator has classes "
                f"{np.asarray(classes[bad[0]]).tolist()}; each label must be 0/1 "
                "with both values seen in training."
            )
        k = len(classes)
        labels = [str(j) for j in range(k)] if labels is None else list(labels)
        labels = [str(n) for n in labels]
        if len(labels) != k:
            raise ValueError(f"labels has {len(labels)} names for {k} labels.")
        cuts = self._check_thresholds(thresholds, k, "thresholds")
        if calibrators is not None:
            if len(calibrators) != k:
                raise ValueError(
                    f"calibrators has {len(calibrators)} entries for {k} "
                    "labels; give one per label (or None)."
                )
            for c in calibrators:
                check_is_fitted(c)
        self.classes_ = [np.array([0, 1]) for _ in range(k)]
        self.labels_ = labels
        self.class_names_ = labels
        self.n_labels_ = k
        self.thresholds_ = cuts
        return self

    @staticmethod
    def _check_thresholds(value, k: int, name: str) -> np.ndarray:
        if isinstance(value, (str, bool)):
            raise TypeError(
                f"{name} must be a number or {k} numbers in [0, 1]; got {value!r}."
            )
        try:
            cuts = np.asarray(value, dtype=float)
        except (TypeError, ValueError) as e:
            raise TypeError(
                f"{name} must be a number or {k} numbers in [0, 1]; got {value!r}."
            ) from e
        if cuts.ndim == 0:
            cuts = np.full(k, float(cuts))
        if cuts.shape != (k,):
            raise ValueError(
                f"{name} has {cuts.size} values for {k} labels; give one per label "
                "or one number for all."
            )
        if not np.all((cuts >= 0) & (cuts <= 1)):
            raise ValueError(f"{name} must be probabilities in [0, 1]; got {value!r}.")
        return cuts

    def _predict_labels(self, X, threshold) -> np.ndarray:
        if threshold is None or isinstance(threshold, str):
            if threshold not in (None, "validation"):
                raise ValueError(
                    "threshold must be None, 'validation', a number or one number "
                    f"per label; got {threshold!r}."
                )
            cuts = self.thresholds_
        else:
            cuts = self._check_thresholds(threshold, self.n_labels_, "threshold")
        proba = self.predict_proba(X, calibrated=False)
        return (proba >= cuts).astype(np.int64)

    def score(self, X, y, sample_weight=None) -> float:
        """Accuracy; multi-label: subset accuracy (every label of an image right).

        Parameters
        ----------
        X : images
        y : array-like of shape (n_images,) or (n_images, n_labels)
            The classes; multi-label: the 0/1 label matrix, columns in
            :attr:`labels_` order.
        sample_weight : array-like, optional

        Returns
        -------
        float
        """
        from sklearn.metrics import accuracy_score

        check_is_fitted(self, "classes_")
        if not self._per_label:
            return super().score(X, y, sample_weight=sample_weight)
        Y = np.asarray(y)
        shape_ok = Y.ndim == 2 and Y.shape[1] == self.n_labels_
        if not shape_ok or not np.isin(Y, (0, 1)).all():
            got = f"shape {Y.shape}" if not shape_ok else "values other than 0/1"
            raise ValueError(
                f"y must be the (n_images, {self.n_labels_}) 0/1 label matrix of a "
                f"multi-label model (columns {self.labels_}); got {got}. One class "
                "per image is for a single-label model."
            )
        return float(accuracy_score(Y, self.predict(X), sample_weight=sample_weight))

    def _resolve_threshold(self, threshold) -> float:
        if len(self.classes_) != 2:
            raise ValueError(
                f"threshold={threshold!r} applies to two-class models; this one has "
                f"{len(self.classes_)} classes: use threshold=None."
            )
        if isinstance(threshold, str):
            if threshold != "validation":
                raise ValueError(
                    f"threshold must be None, 'validation' or a number; got "
                    f"{threshold!r}."
                )
            if self.threshold_ is None:
                raise ValueError(
                    "This model has no operating point (threshold_ is None); use "
                    "threshold=None or a number."
                )
            return self.threshold_
        if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real):
            raise TypeError(
                f"threshold must be None, 'validation' or a number; got {threshold!r}."
            )
        return float(threshold)


def label_probabilities(proba, n_labels: int | None = None) -> np.ndarray:
    """Per-label positive probabilities ``(n, n_labels)`` of a multi-label model.

    Accepts a matrix (``FineTuneClassifier``, ``HybridPipeline``) or a list of
    ``(n, 2)`` arrays, one per label (``MultiOutputClassifier`` and pipelines
    ending in one), whose last column is the positive class.
    """
    if isinstance(proba, list):
        proba = np.column_stack([np.asarray(p)[:, -1] for p in proba])
    proba = np.asarray(proba, dtype=float)
    if proba.ndim != 2 or (n_labels is not None and proba.shape[1] != n_labels):
        raise ValueError(
            f"The wrapped model returned probabilities of shape {proba.shape}; a "
            f"multi-label model must give (n_images, {n_labels}), one column per "
            "label."
        )
    return proba


class MultiLabelStudyModel(StudyModel):
    """Deprecated: :class:`StudyModel` wraps multi-label models too.

    Kept so that code using it, and multi-label models saved by earlier
    versions, keep working; :func:`skmedtl.load` returns one for those.
    ``labels``, ``thresholds`` and ``calibrators`` are :class:`StudyModel`'s
    ``class_names``, ``threshold`` and ``calibrator``.

    Parameters
    ----------
    estimator : fitted multi-label classifier
    labels : list of str, optional
    thresholds : float or list of float, default=0.5
    calibrators : list of ProbabilityCalibrator, optional

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.multioutput import MultiOutputClassifier
    >>> from skmedtl.study import MultiLabelStudyModel
    >>> X = np.arange(8.0).reshape(-1, 1)
    >>> Y = np.array([[0, 1], [0, 1], [0, 0], [0, 0], [1, 1], [1, 1], [1, 0], [1, 0]])
    >>> heads = MultiOutputClassifier(LogisticRegression()).fit(X, Y)
    >>> model = MultiLabelStudyModel(heads, labels=["a", "b"], thresholds=[0.5, 0.4])
    >>> model.fit().predict_proba(X).shape, model.predict(X[[0, 7]]).tolist()
    ((8, 2), [[0, 1], [1, 0]])
    """

    def __init__(self, estimator, *, labels=None, thresholds=0.5, calibrators=None):
        self.estimator = estimator
        self.labels = labels
        self.thresholds = thresholds
        self.calibrators = calibrators

    def _label_options(self):
        return self.labels, self.thresholds, self.calibrators

    @property
    def class_names_(self) -> list[str]:
        """The label names (also :attr:`labels_`)."""
        return self.labels_

    @class_names_.setter
    def class_names_(self, value) -> None:
        pass  # always the label names (models saved before held no such field)

    def fit(self, X=None, y=None):
        """Check the wrapped multi-label model (no training): as StudyModel."""
        check_is_fitted(self.estimator)
        classes = getattr(self.estimator, "classes_", None)
        if not Task.of_classes(classes).per_label:
            raise ValueError(
                f"{type(self.estimator).__name__} is not a multi-label classifier "
                f"(classes_ {classes!r}; a multi-label one has a list of "
                "array([0, 1]), one per label, fitted on an (n_images, n_labels) "
                "0/1 matrix). For one class per image use "
                "skmedtl.study.StudyModel."
            )
        return self._fit_labels(*self._label_options())
