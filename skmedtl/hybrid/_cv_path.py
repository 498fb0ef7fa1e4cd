"""Cross-validated regularisation paths: the fast search of :class:`TunedClassifier`.

An exhaustive grid search refits the head from scratch for every (value, fold)
pair. For the two self-tuning heads the same choice costs far less:

- **Logistic regression** (L2, lbfgs-family solvers): each fold fits its ``C``
  values in increasing order, each fit warm-started from the previous
  coefficients. With fewer training images than features the fit runs in the
  row space of the fold's training data (``X_train = U S V^T``; the fit sees
  ``U S``, the validation images ``X_valid V``, both from one Gram matrix): an
  L2-penalised linear model's weights lie in that span (representer theorem),
  so the optimum is the same with ``rank <= n_train`` columns instead of
  ``n_features``.
- **RBF SVM** (calibrated or not): the squared distances between all training
  images are computed once; every fold's kernel is ``exp(-gamma D^2)`` on its
  rows, with the fold's own ``gamma="scale"``, and the SVC runs on that
  precomputed kernel instead of re-evaluating it in every fit.

Both walk the values in increasing order and stop once ``patience`` values in a
row score below the best mean so far: the mean CV score of a regularisation
parameter rises to one optimum and falls past it, and the weakly regularised
fits past it are the slowest ones. Scores, folds and tie-breaking (the first
best value) are those of :class:`~sklearn.model_selection.GridSearchCV`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from joblib import Parallel, delayed
from scipy import sparse
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import get_scorer
from sklearn.svm import SVC
from threadpoolctl import threadpool_limits

__all__ = ["PathResult", "path_search", "supports_path"]

#: Consecutive values scoring below the best before the path stops.
PATIENCE = 2


@dataclass(frozen=True)
class PathResult:
    """What a path search found.

    Attributes
    ----------
    best_value : float
        The chosen value (the first of equally good ones, in grid order).
    best_score : float
        Its mean validation score over the folds.
    values : list of float
        The values fitted, in the order fitted (increasing).
    mean_scores : list of float
        Mean validation score of each of ``values``.
    """

    best_value: float
    best_score: float
    values: list = field(default_factory=list)
    mean_scores: list = field(default_factory=list)


def _svc_of(estimator):
    """The RBF ``SVC`` a (possibly calibrated) head is built on, or None."""
    inner = estimator
    if isinstance(estimator, CalibratedClassifierCV):
        inner = estimator.estimator
    if type(inner) is SVC and inner.kernel == "rbf":
        return inner
    return None


def _path_kind(estimator, param_grid: dict) -> str | None:
    if len(param_grid) != 1:
        return None
    (name,) = param_grid
    if type(estimator) is LogisticRegression and name == "C":
        params = estimator.get_params()
        l2 = params["penalty"] in ("l2", "deprecated") and not params["l1_ratio"]
        if l2 and params["solver"] in ("lbfgs", "newton-cg", "newton-cholesky"):
            return "logreg"
    if _svc_of(estimator) is not None:
        if isinstance(estimator, CalibratedClassifierCV):
            ok = name == "estimator__C" and estimator.method == "sigmoid"
            ok = ok and not estimator.ensemble
        else:
            ok = name == "C"
        if ok:
            return "svm"
    return None


def supports_path(estimator, param_grid: dict) -> bool:
    """Whether :func:`path_search` handles ``estimator`` tuned over ``param_grid``.

    Parameters
    ----------
    estimator : classifier
    param_grid : dict

    Returns
    -------
    bool
        True for an L2 ``LogisticRegression`` (lbfgs, newton-cg or
        newton-cholesky) tuned over ``C``, and an RBF ``SVC`` (alone, or in a
        non-ensemble sigmoid ``CalibratedClassifierCV``) tuned over its ``C``.
    """
    return _path_kind(estimator, param_grid) is not None


# -- folds -------------------------------------------------------------------------
@dataclass
class _LogregFold:
    estimator: object
    X_train: np.ndarray
    y_train: np.ndarray
    X_valid: np.ndarray
    y_valid: np.ndarray


@dataclass
class _SVMFold:
    estimator: object
    train: np.ndarray
    valid: np.ndarray
    gamma: float
    y: np.ndarray


def _logreg_folds(estimator, X, y, splits):
    """Each fold's data, in the row space of its training images when smaller.

    ``X_train = U S V^T`` gives ``X_train V = U S`` and ``X_valid V =
    X_valid X_train^T U S^-1``: both come from one Gram matrix ``X X^T`` of all
    the images and an eigendecomposition of each fold's block of it, so no
    fold touches the ``n_features`` columns again.
    """
    n, d = X.shape
    reduce = not sparse.issparse(X) and max(len(t) for t, _ in splits) < d
    if reduce:
        X64 = np.asarray(X, dtype=np.float64)
        gram = X64 @ X64.T
    folds = []
    for train, valid in splits:
        if reduce:
            w, U = np.linalg.eigh(gram[np.ix_(train, train)])
            keep = w > w.max() * len(train) * np.finfo(np.float64).eps
            root = np.sqrt(w[keep])
            X_train = U[:, keep] * root
            X_valid = gram[np.ix_(valid, train)] @ U[:, keep] / root
        else:
            X_train, X_valid = X[train], X[valid]
        folds.append(
            _LogregFold(
                clone(estimator).set_params(warm_start=True),
                X_train,
                y[train],
                X_valid,
                y[valid],
            )
        )
    return folds


def _gamma(svc, X_train) -> float:
    if svc.gamma == "scale":
        var = (
            X_train.multiply(X_train).mean() - X_train.mean() ** 2
            if sparse.issparse(X_train)
            else X_train.var()
        )
        return 1.0 / (X_train.shape[1] * var) if var != 0 else 1.0
    if svc.gamma == "auto":
        return 1.0 / X_train.shape[1]
    return float(svc.gamma)


def _squared_distances(X) -> np.ndarray:
    X = X.toarray() if sparse.issparse(X) else np.asarray(X, dtype=np.float64)
    norms = np.einsum("ij,ij->i", X, X)
    D2 = norms[:, None] + norms[None, :] - 2.0 * (X @ X.T)
    np.maximum(D2, 0.0, out=D2)
    np.fill_diagonal(D2, 0.0)
    return D2


def _svm_folds(estimator, X, y, splits):
    svc = _svc_of(estimator)
    precomputed = clone(estimator)
    if isinstance(precomputed, CalibratedClassifierCV):
        precomputed.set_params(estimator__kernel="precomputed")
    else:
        precomputed.set_params(kernel="precomputed")
    return [
        _SVMFold(clone(precomputed), train, valid, _gamma(svc, X[train]), y)
        for train, valid in splits
    ]


def path_search(
    estimator,
    param_grid: dict,
    X,
    y,
    splits,
    *,
    scoring: str = "neg_log_loss",
    n_jobs: int | None = None,
    patience: int = PATIENCE,
) -> PathResult:
    """Mean CV score along a regularisation path, fitted in increasing order.

    Every fit runs on one BLAS / OpenMP thread (small fits lose more to
    threads waiting on each other than they gain); ``n_jobs`` parallelises the
    folds.

    Parameters
    ----------
    estimator : classifier
        A head :func:`supports_path` accepts (not fitted; cloned per fold).
    param_grid : dict
        ``{name: values}``, one parameter.
    X : array-like of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
    splits : list of (train, valid) index arrays
    scoring : str, default="neg_log_loss"
        A scikit-learn scorer name.
    n_jobs : int or None
        Folds fitted in parallel (joblib).
    patience : int, default=2
        Stop after this many consecutive values below the best mean score;
        ``0`` fits every value.

    Returns
    -------
    PathResult
    """
    kind = _path_kind(estimator, param_grid)
    if kind is None:
        raise ValueError(
            f"No regularisation path for {type(estimator).__name__} over "
            f"{sorted(param_grid)}; use GridSearchCV."
        )
    # One BLAS / OpenMP thread: these fits are small (hundreds of images), and
    # threads that wait on each other cost 10x the fit itself on a busy machine
    # (0.12 s single-threaded, 1.5 s with two threads under load, for one
    # 546 x 1,280 logistic regression). n_jobs parallelises the folds instead
    # (joblib limits its workers' threads itself).
    with threadpool_limits(1):
        return _search(
            kind, estimator, param_grid, X, y, splits, scoring, n_jobs, patience
        )


def walk_path(param_grid: dict, score_at, patience: int = PATIENCE) -> PathResult:
    """Score the one parameter's values in increasing order, stopping early.

    ``score_at(value)`` scores one value (higher is better); the walk stops once
    ``patience`` values in a row score below the best so far (``0``: every
    value). The choice is GridSearchCV's: the best score, the first in grid
    order on ties.
    """
    (name,) = param_grid
    grid = [float(v) for v in param_grid[name]]
    scores: dict[int, float] = {}
    best, below = -np.inf, 0
    for i in sorted(range(len(grid)), key=lambda i: grid[i]):
        scores[i] = score_at(grid[i])
        if scores[i] > best:
            best, below = scores[i], 0
        else:
            below += 1
            if patience and below >= patience:
                break
    top = max(scores.values())
    chosen = min(i for i, m in scores.items() if m == top)
    return PathResult(
        best_value=list(param_grid[name])[chosen],
        best_score=top,
        values=[grid[i] for i in scores],
        mean_scores=list(scores.values()),
    )


def _search(kind, estimator, param_grid, X, y, splits, scoring, n_jobs, patience):
    (name,) = param_grid
    scorer = get_scorer(scoring)
    y = np.asarray(y)
    if sparse.issparse(X):
        X = sparse.csr_array(X)  # row indexing
    if kind == "logreg":
        folds, D2 = _logreg_folds(estimator, X, y, splits), None
    else:
        folds, D2 = _svm_folds(estimator, X, y, splits), _squared_distances(X)

    def mean_score(value: float) -> float:
        nonlocal folds  # the folds' estimators, warm-started from value to value
        out = parallel(
            delayed(_fit_score)(fold, name, value, scorer, D2) for fold in folds
        )
        folds = [fold for fold, _ in out]
        return float(np.mean([score for _, score in out]))

    with Parallel(n_jobs=n_jobs) as parallel:
        return walk_path(param_grid, mean_score, patience)


def _fit_score(fold, name, value, scorer, D2):
    est = fold.estimator.set_params(**{name: value})
    if isinstance(fold, _LogregFold):
        est.fit(fold.X_train, fold.y_train)
        return fold, float(scorer(est, fold.X_valid, fold.y_valid))
    train, valid = fold.train, fold.valid
    K_train = np.exp(-fold.gamma * D2[np.ix_(train, train)])
    K_valid = np.exp(-fold.gamma * D2[np.ix_(valid, train)])
    est.fit(K_train, fold.y[train])
    return fold, float(scorer(est, K_valid, fold.y[valid]))
