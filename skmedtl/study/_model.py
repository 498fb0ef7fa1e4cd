"""StudyModel: the model a study selected, with its operating point and calibration."""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

__all__ = ["StudyModel"]


class StudyModel(ClassifierMixin, BaseEstimator):
    """A fitted classifier with the choices a study made for it on validation.

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
        The class labels in report order (default: ``estimator.classes_``).
    class_names : list of str, optional
        Display names of ``classes`` (default: the labels as strings).
    pos_label : label, optional
        Positive class of a binary problem (default: the last of ``classes``).
    calibrator : ProbabilityCalibrator, optional
        Fitted on the validation probabilities (columns in ``classes`` order).
    threshold : float, optional
        The operating point: the positive class is decided when its
        (calibrated, if ``calibrator``) probability is at least this.

    Attributes
    ----------
    classes_ : ndarray
        The class labels in report order.
    class_names_ : list of str
    threshold_ : float or None
        The operating point chosen on validation (binary problems).
    pos_label_ : label or None

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
        proba = np.asarray(self.estimator.predict_proba(X), dtype=float)
        proba = proba[:, self._columns]
        if calibrated and self.calibrator is not None:
            proba = np.asarray(self.calibrator.predict_proba(proba), dtype=float)
        return proba

    def predict(self, X, *, threshold=None) -> np.ndarray:
        """Predicted classes.

        Parameters
        ----------
        X : images
        threshold : None, "validation" or float, default=None
            ``None``: the most probable class (the model's own probabilities;
            what the study's ``predicted_label`` and accuracy use).
            ``"validation"``: the operating point chosen on validation
            (:attr:`threshold_`), applied to the (calibrated) probability of
            the positive class; a float: that threshold instead.

        Returns
        -------
        ndarray of shape (n_images,)
        """
        check_is_fitted(self, "classes_")
        if threshold is None:
            proba = self.predict_proba(X, calibrated=False)
            return self.classes_[proba.argmax(axis=1)]
        cut = self._resolve_threshold(threshold)
        proba = self.predict_proba(X)
        return np.where(proba[:, 1] >= cut, self.classes_[1], self.classes_[0])

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
