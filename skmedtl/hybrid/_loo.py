"""Approximate leave-one-out along the ``C`` path of a binary logistic regression.

Choosing ``C`` by K-fold CV costs K fits per value. For an L2-penalised logistic
regression, one fit on all images gives every image's leave-one-out prediction
to second order (Rad & Maleki, "A scalable estimate of the out-of-sample
prediction error via approximate leave-one-out cross-validation", JRSS-B 2020):
at the optimum of ``sum_i s_i loss_i + ||w||^2 / (2C)`` (intercept not
penalised, as in scikit-learn), one Newton step of the objective without image
``i`` gives

    eta_(-i) = eta_i + g_i h_i / (1 - d_i h_i),

with ``g_i = s_i (p_i - y_i)`` and ``d_i = s_i p_i (1 - p_i)`` the loss's first
and second derivatives in the linear predictor ``eta_i``, and ``h_i = x_i^T
H^-1 x_i`` for the Hessian ``H`` at the optimum (intercept included). Leaving
out a whole group (a patient's images) is the block form ``eta_(-G) = eta_G +
H_GG (I - D_G H_GG)^-1 g_G``, ``H_GG = X_G H^-1 X_G^T``.

With no more images than features (the small medical data sets hybrids are
for) every ``X H^-1 X^T`` entry comes from the images' Gram matrix ``K = X
X^T``, computed once: ``X A^-1 X^T = (K - K D^1/2 M^-1 D^1/2 K) / lambda`` with
``A = X^T D X + lambda I`` and ``M = D^1/2 K D^1/2 + lambda I`` (Woodbury; ``M``
is well conditioned, its eigenvalues at least ``lambda``), and the intercept
enters by the Schur complement of its row of ``H``. One Cholesky factor of an
``n x n`` matrix per ``C``. The fits are scikit-learn's own, warm-started along
the increasing ``C`` values; the walk stops once ``patience`` values in a row
score below the best, as in :func:`~skmedtl.hybrid._cv_path.path_search`.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.linalg import cholesky, solve_triangular
from scipy.special import expit, log_expit
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.utils.class_weight import compute_sample_weight
from threadpoolctl import threadpool_limits

from ._cv_path import PATIENCE, PathResult, supports_path, walk_path

__all__ = ["loo_eta", "loo_search", "supports_loo"]

#: The fits along the path stop at this gradient tolerance (or the head's own,
#: if tighter): the leave-one-out step assumes a zero gradient.
PATH_TOL = 1e-6


def supports_loo(estimator, param_grid: dict, X, y, scoring: str) -> bool:
    """Whether :func:`loo_search` can choose ``C`` for this head and data.

    An L2 ``LogisticRegression`` (lbfgs, newton-cg or newton-cholesky) tuned
    over ``C`` alone, two classes, dense features, no more images than
    features (the Gram matrix is then the cheaper form), scored by log-loss
    (the leave-one-out predictions are probabilities; a pooled leave-one-out
    AUC is biased downwards, so other scores use K-fold folds).
    """
    return (
        type(estimator) is LogisticRegression
        and supports_path(estimator, param_grid)
        and scoring == "neg_log_loss"
        and not sparse.issparse(X)
        and len(np.unique(y)) == 2
        and X.shape[0] <= X.shape[1]
    )


def loo_eta(K, eta, y01, weights, C: float, fit_intercept: bool, blocks=None):
    """Approximate leave-one-out (leave-one-block-out) linear predictors.

    Parameters
    ----------
    K : ndarray of shape (n, n)
        Gram matrix ``X X^T`` of the images.
    eta : ndarray of shape (n,)
        Linear predictors of the fit at ``C`` (its optimum).
    y01 : ndarray of shape (n,)
        0 / 1 targets.
    weights : ndarray of shape (n,)
        Per-image loss weights.
    C : float
    fit_intercept : bool
    blocks : list of index arrays, optional
        Leave each block out whole instead of each image.

    Returns
    -------
    ndarray of shape (n,)
    """
    lam = 1.0 / C
    p = expit(eta)
    g = weights * (p - y01)
    d = weights * p * (1 - p)
    root = np.sqrt(d)
    M = root[:, None] * K * root[None, :]
    M[np.diag_indices_from(M)] += lam
    L = cholesky(M, lower=True, check_finite=False)
    W = solve_triangular(L, root[:, None] * K, lower=True, check_finite=False)
    # G = X A^-1 X^T = (K - W^T W) / lam, A the Hessian of the weights alone
    diag_g = (np.diag(K) - np.einsum("ij,ij->j", W, W)) / lam
    if fit_intercept:  # the intercept's row of H, by its Schur complement
        Gd = (K @ d - W.T @ (W @ d)) / lam
        schur = d.sum() - d @ Gd
        u = Gd - 1.0
    if blocks is None:
        h = diag_g + (u * u / schur if fit_intercept else 0.0)
        return eta + g * h / (1.0 - d * h)
    out = eta.copy()
    for members in blocks:
        Wg = W[:, members]
        Hgg = (K[np.ix_(members, members)] - Wg.T @ Wg) / lam
        if fit_intercept:
            Hgg += np.outer(u[members], u[members]) / schur
        shrink = np.eye(len(members)) - d[members, None] * Hgg
        out[members] += Hgg @ np.linalg.solve(shrink, g[members])
    return out


def _neg_log_loss(eta: np.ndarray, y01: np.ndarray) -> float:
    """Mean log-likelihood of ``y01`` under ``expit(eta)`` (scikit-learn's
    ``neg_log_loss`` sign: higher is better)."""
    return float(np.mean(y01 * log_expit(eta) + (1 - y01) * log_expit(-eta)))


def loo_search(
    estimator,
    param_grid: dict,
    X,
    y,
    *,
    groups=None,
    patience: int = PATIENCE,
) -> tuple[PathResult, tuple]:
    """Leave-one-out log-loss along ``C``, fitted in increasing order.

    Parameters
    ----------
    estimator : LogisticRegression
        A head :func:`supports_loo` accepts (its ``class_weight`` and
        ``fit_intercept`` are honoured).
    param_grid : dict
        ``{"C": values}``.
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
        Two classes.
    groups : array-like of shape (n_samples,), optional
        Leave one group out instead of one image.
    patience : int, default=2
        Stop after this many consecutive values below the best score; ``0``
        fits every value.

    Returns
    -------
    PathResult
        ``mean_scores``: the leave-one-out ``neg_log_loss`` of each value.
    tuple of ndarray
        ``(coef_, intercept_)`` of the fit at the chosen value, to start the
        final fit from.
    """
    y = np.asarray(y)
    classes = np.unique(y)
    y01 = (y == classes[1]).astype(np.float64)
    params = estimator.get_params()
    weights = (
        compute_sample_weight(params["class_weight"], y)
        if params["class_weight"] is not None
        else np.ones(len(y))
    )
    blocks = None
    if groups is not None:
        _, codes = np.unique(np.asarray(groups), return_inverse=True)
        blocks = [np.flatnonzero(codes == k) for k in range(codes.max() + 1)]
    fit = clone(estimator).set_params(
        warm_start=True, tol=min(float(params["tol"]), PATH_TOL)
    )
    fit_intercept = bool(params["fit_intercept"])
    states: dict[float, tuple] = {}

    def loo_score(C: float) -> float:
        fit.set_params(C=C).fit(X, y)  # warm-started from the previous C
        states[C] = (fit.coef_.copy(), fit.intercept_.copy())
        eta = fit.decision_function(X).astype(np.float64)
        return _neg_log_loss(
            loo_eta(K, eta, y01, weights, C, fit_intercept, blocks), y01
        )

    # Small dense algebra (hundreds to thousands of rows): one BLAS thread, as
    # in the path search (threads waiting on each other cost more than they
    # gain, and a busy machine makes it 10x worse).
    with threadpool_limits(1):
        X64 = np.asarray(X, dtype=np.float64)
        K = X64 @ X64.T
        result = walk_path(param_grid, loo_score, patience)
    return result, states[float(result.best_value)]
