"""Self-tuning heads: regularisation chosen inside the training data."""

from __future__ import annotations

import logging
import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.model_selection import (
    GridSearchCV,
    StratifiedGroupKFold,
    StratifiedKFold,
)
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data
from threadpoolctl import threadpool_limits

from ..utils._validation import check_int
from ._cv_path import path_search, supports_path
from ._loo import loo_search, supports_loo

__all__ = ["TunedClassifier"]

logger = logging.getLogger(__name__)


def _best_has(attr):
    def check(self):
        return hasattr(
            self.best_estimator_
            if hasattr(self, "best_estimator_")
            else self.estimator,
            attr,
        )

    return check


class TunedClassifier(MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """A classifier whose hyperparameter is chosen inside its training data.

    What ``make_hybrid(head="logreg" | "svm")`` uses by default: the embeddings
    are computed once by the pipeline's feature step, so a cross-validated choice
    of the regularisation ``C`` costs only the head's own fits. Folds are
    stratified, and group-aware when ``fit`` gets ``groups`` (in a pipeline:
    ``pipe.fit(X, y, clf__groups=groups)``; approximate leave-one-out then
    leaves each group out whole), so images of one patient never inform their
    own validation score.

    Parameters
    ----------
    estimator : classifier
        The head; cloned for every fit.
    param_grid : dict
        One or more parameters of ``estimator`` and the values to try, such as
        ``{"C": [0.01, 0.1, 1]}``; searched by
        :class:`~sklearn.model_selection.GridSearchCV` over the folds.
    cv : int, default=5
        Folds; fewer when the smallest class (or the number of groups) is
        smaller. With fewer than two members in some class the head is fitted
        untuned, with a warning.
    scoring : str, default="neg_log_loss"
        Selection score (a scikit-learn scorer name).
    random_state : int, RandomState instance or None, default=None
        Shuffles the folds.
    n_jobs : int, default=None
        Parallel fits of the search.
    search : {"auto", "loo", "path", "grid"}, default="auto"
        How the values are scored. ``"loo"``: for a binary L2 logistic
        regression tuned over ``C`` alone, scored by log-loss, with no more
        images than features, one fit per ``C`` on all the images
        (warm-started) gives every image's approximate leave-one-out
        prediction in closed form (leave one group out with ``groups``); see
        :mod:`skmedtl.hybrid._loo`. ``"path"``: for
        a logistic regression or an RBF SVM tuned over ``C`` alone, fit the
        ``C`` values on the ``cv`` folds in increasing order (warm starts, the
        fold's row space or a precomputed kernel; see
        :func:`~skmedtl.hybrid._cv_path.path_search`). Both stop after two
        values in a row below the best score and run on one BLAS / OpenMP
        thread, as does the final refit. ``"grid"``: an exhaustive
        :class:`~sklearn.model_selection.GridSearchCV` over the ``cv`` folds.
        ``"auto"``: the first of ``"loo"``, ``"path"``, ``"grid"`` that
        applies; ``"loo"`` and ``"path"`` fall back the same way.

    Attributes
    ----------
    best_params_ : dict
        The chosen values (empty when the data were too small to tune).
    best_score_ : float
        Mean validation score of the chosen values (NaN when untuned).
    best_estimator_ : classifier
        ``estimator`` with ``best_params_``, refitted on all the training data.
    classes_ : ndarray
    n_splits_ : int
        Folds used (0 when untuned; with leave-one-out, the images or groups).
    search_ : {"loo", "path", "grid"} or None
        The search that ran (None when untuned).
    path_ : PathResult or None
        After a leave-one-out or path search: the values fitted and their
        mean scores (None after a grid search or when untuned).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skmedtl.hybrid import TunedClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(60, 5)); y = (X[:, 0] > 0).astype(int)
    >>> head = TunedClassifier(LogisticRegression(), {"C": [0.01, 1.0]},
    ...                        random_state=0).fit(X, y)
    >>> sorted(head.best_params_)
    ['C']
    """

    def __init__(
        self,
        estimator,
        param_grid: dict,
        *,
        cv: int = 5,
        scoring: str = "neg_log_loss",
        random_state=None,
        n_jobs: int | None = None,
        search: str = "auto",
    ):
        self.estimator = estimator
        self.param_grid = param_grid
        self.cv = cv
        self.scoring = scoring
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.search = search

    def fit(self, X, y, groups=None):
        """Choose the parameters by CV, then refit on all of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        groups : array-like of shape (n_samples,), optional
            Patient (or other) ids: folds then never split a group.

        Returns
        -------
        self
        """
        self._check_params()
        X, y = validate_data(self, X, y, accept_sparse=True)
        check_classification_targets(y)
        splits = self._splits(X, y, groups)
        self.n_splits_ = 0 if splits is None else len(splits)
        self.path_ = None
        self.search_ = None if splits is None else self._search_kind(X, y)
        if splits is None:
            self.best_params_, self.best_score_ = {}, float("nan")
            self.best_estimator_ = clone(self.estimator).fit(X, y)
        elif self.search_ == "loo":
            self._fit_loo(X, y, groups)
        elif self.search_ == "path":
            (name,) = self.param_grid
            path = path_search(
                self.estimator,
                self.param_grid,
                X,
                y,
                splits,
                scoring=self.scoring,
                n_jobs=self.n_jobs,
            )
            self.path_ = path
            self.best_params_ = {name: path.best_value}
            self.best_score_ = path.best_score
            # The refit is one more of the path's small fits: one thread too.
            with threadpool_limits(1):
                self.best_estimator_ = (
                    clone(self.estimator).set_params(**self.best_params_).fit(X, y)
                )
        else:
            search = GridSearchCV(
                clone(self.estimator),
                self.param_grid,
                scoring=self.scoring,
                cv=splits,
                n_jobs=self.n_jobs,
                refit=True,
                error_score="raise",
            ).fit(X, y)
            self.best_params_ = search.best_params_
            self.best_score_ = float(search.best_score_)
            self.best_estimator_ = search.best_estimator_
        self.classes_ = self.best_estimator_.classes_
        logger.info(
            "%s: chose %s by %s over %d folds (%s %.4f)",
            type(self.estimator).__name__,
            self.best_params_,
            self.search_,
            self.n_splits_,
            self.scoring,
            self.best_score_,
        )
        return self

    def _search_kind(self, X, y) -> str:
        """The first of the searches ``search`` allows that fits this head."""
        if self.search in ("auto", "loo") and supports_loo(
            self.estimator, self.param_grid, X, y, self.scoring
        ):
            return "loo"
        if self.search != "grid" and supports_path(self.estimator, self.param_grid):
            return "path"
        return "grid"

    def _fit_loo(self, X, y, groups) -> None:
        (name,) = self.param_grid
        path, (coef, intercept) = loo_search(
            self.estimator, self.param_grid, X, y, groups=groups
        )
        self.path_ = path
        self.n_splits_ = len(y) if groups is None else len(np.unique(groups))
        self.best_params_ = {name: path.best_value}
        self.best_score_ = path.best_score
        # scikit-learn's own fit, started at the leave-one-out fit's optimum
        # (the same objective): it stops within an iteration or two.
        warm = self.estimator.get_params()["warm_start"]
        est = clone(self.estimator).set_params(**self.best_params_, warm_start=True)
        est.coef_, est.intercept_ = coef, intercept
        with threadpool_limits(1):
            est.fit(X, y)
        self.best_estimator_ = est.set_params(warm_start=warm)

    def predict(self, X):
        check_is_fitted(self, "best_estimator_")
        return self.best_estimator_.predict(X)

    @available_if(_best_has("predict_proba"))
    def predict_proba(self, X):
        check_is_fitted(self, "best_estimator_")
        return self.best_estimator_.predict_proba(X)

    @available_if(_best_has("predict_log_proba"))
    def predict_log_proba(self, X):
        check_is_fitted(self, "best_estimator_")
        return self.best_estimator_.predict_log_proba(X)

    @available_if(_best_has("decision_function"))
    def decision_function(self, X):
        check_is_fitted(self, "best_estimator_")
        return self.best_estimator_.decision_function(X)

    def __sklearn_tags__(self):
        from sklearn.utils import get_tags

        tags = super().__sklearn_tags__()
        inner = get_tags(self.estimator)
        tags.input_tags.sparse = inner.input_tags.sparse
        tags.classifier_tags.multi_class = inner.classifier_tags.multi_class
        return tags

    # -- internals -------------------------------------------------------------------
    def _check_params(self) -> None:
        if not isinstance(self.param_grid, dict) or not self.param_grid:
            raise ValueError(
                "param_grid must be a non-empty dict such as {'C': [0.1, 1, 10]}; "
                f"got {self.param_grid!r}."
            )
        valid = self.estimator.get_params()
        for name, values in self.param_grid.items():
            if name not in valid:
                raise ValueError(
                    f"param_grid names {name!r}, which {type(self.estimator).__name__}"
                    f" does not have; its parameters: {sorted(valid)}."
                )
            if len(list(values)) == 0:
                raise ValueError(f"param_grid[{name!r}] is empty.")
        check_int("cv", self.cv, 2)
        if self.search not in ("auto", "loo", "path", "grid"):
            raise ValueError(
                f"search must be 'auto', 'loo', 'path' or 'grid'; got {self.search!r}."
            )

    def _splits(self, X, y, groups):
        _, counts = np.unique(y, return_counts=True)
        smallest = int(counts.min())
        inner = _inner_folds(self.estimator)
        if smallest < inner:
            raise ValueError(
                f"{type(self.estimator).__name__} runs its own {inner}-fold CV, so "
                f"it needs at least {inner} images of every class; the smallest "
                f"class has {smallest}. Use more images, or another head (e.g. "
                "make_hybrid(head='logreg'), which has no inner CV)."
            )
        n = min(int(self.cv), smallest)
        seed = self.random_state
        if groups is not None:
            groups = np.asarray(groups)
            if len(groups) != len(y):
                raise ValueError(
                    f"groups has {len(groups)} entries but y has {len(y)}; give one "
                    "group id per training image."
                )
            n = min(n, len(np.unique(groups)))
        if n >= 2 and smallest - -(-smallest // n) < inner:
            n = 1  # a training fold would hold too few for the estimator's own CV
        if n < 2:
            warnings.warn(
                f"Too few samples to tune {type(self.estimator).__name__} by "
                f"cross-validation (smallest class: {counts.min()}); fitting it with "
                "its default parameters.",
                UserWarning,
                stacklevel=3,
            )
            return None
        if groups is not None:
            splitter = StratifiedGroupKFold(n, shuffle=True, random_state=seed)
        else:
            splitter = StratifiedKFold(n, shuffle=True, random_state=seed)
        return list(splitter.split(np.zeros((len(y), 1)), y, groups))


def _inner_folds(estimator) -> int:
    """Folds of an estimator's own internal CV (``CalibratedClassifierCV``), or 0."""
    cv = getattr(estimator, "cv", None)
    if isinstance(estimator, CalibratedClassifierCV) and cv is None:
        return 5  # scikit-learn's default
    if isinstance(estimator, CalibratedClassifierCV) and isinstance(cv, int):
        return cv
    return 0
