"""Calibration: Brier score, expected calibration error, reliability, recalibration."""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np
from sklearn.base import BaseEstimator

from ..utils._validation import Interval, StrOptions, validate_params

__all__ = [
    "CALIBRATION_METHODS",
    "ProbabilityCalibrator",
    "ReliabilityCurve",
    "TemperatureScaling",
    "brier_score",
    "calibrate_prefit",
    "expected_calibration_error",
    "expected_ece_under_calibration",
    "reliability_curve",
]

#: Recalibration methods fitted on validation predictions.
CALIBRATION_METHODS = ("none", "temperature", "sigmoid", "isotonic")
_STRATEGIES = ("quantile", "uniform")
_EPS = 1e-12


def _encode(y_true, n_classes: int | None = None) -> np.ndarray:
    y_true = np.asarray(y_true)
    if y_true.ndim != 1 or len(y_true) == 0:
        raise ValueError("y_true must be a non-empty 1-D array of labels.")
    if np.issubdtype(y_true.dtype, np.integer) and n_classes is not None:
        if y_true.min() >= 0 and y_true.max() < n_classes:
            return y_true.astype(int)
    return np.unique(y_true, return_inverse=True)[1]


def _proba_matrix(y_prob, n: int) -> np.ndarray:
    """``(n, k)`` probabilities from a positive-class vector or a matrix."""
    p = np.asarray(y_prob, dtype=float)
    if p.ndim == 1:
        p = np.column_stack([1 - p, p])
    if p.ndim != 2 or p.shape[0] != n or p.shape[1] < 2:
        raise ValueError(
            f"y_prob must have shape ({n},) (positive-class probability) or "
            f"({n}, n_classes); got {np.shape(y_prob)}."
        )
    if not np.isfinite(p).all() or p.min() < -1e-9 or p.max() > 1 + 1e-9:
        raise ValueError("y_prob must hold probabilities in [0, 1] (no NaN).")
    return p


def brier_score(y_true, y_prob) -> float:
    """Brier score: mean squared error of the predicted probabilities.

    Binary: ``mean((p - y)^2)`` of the positive class (0 is perfect, 0.25 is a
    constant 0.5). Several classes: the sum over classes of the squared
    errors, averaged over samples (Brier's original definition; 0 to 2).

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Labels; classes in sorted order match the columns of ``y_prob`` (for a
        1-D ``y_prob`` the second sorted class is the positive one). Integer
        labels 0..k-1 are taken as column indices.
    y_prob : array-like of shape (n_samples,) or (n_samples, n_classes)

    Returns
    -------
    float

    Examples
    --------
    >>> from skmedtl.metrics import brier_score
    >>> round(brier_score([0, 1, 1], [0.1, 0.9, 0.6]), 4)
    0.06
    """
    n = len(np.asarray(y_true))
    p = _proba_matrix(y_prob, n)
    y = _encode(y_true, p.shape[1])
    onehot = np.eye(p.shape[1])[y]
    per_sample = ((p - onehot) ** 2).sum(axis=1)
    value = per_sample.mean() / 2 if p.shape[1] == 2 else per_sample.mean()
    return float(value)


def _confidence_and_outcome(y_true, y_prob):
    n = len(np.asarray(y_true))
    p = _proba_matrix(y_prob, n)
    y = _encode(y_true, p.shape[1])
    if p.shape[1] == 2:  # binary: the positive class's probability and outcome
        return p[:, 1], (y == 1).astype(float)
    return p.max(axis=1), (p.argmax(axis=1) == y).astype(float)  # top label


def _bins(confidence: np.ndarray, n_bins: int, strategy: str) -> list[np.ndarray]:
    validate_params(
        {"strategy": strategy, "n_bins": n_bins},
        {
            "strategy": [StrOptions(tuple(_STRATEGIES))],
            "n_bins": [Interval(numbers.Integral, 1, None)],
        },
    )
    if strategy == "quantile":  # equal mass: as equal counts as n allows
        order = np.argsort(confidence, kind="stable")
        n = len(order)
        k = min(n_bins, n)
        # np.array_split's sizes: the first n % k bins hold one more sample.
        sizes = np.full(k, n // k) + (np.arange(k) < n % k)
        ends = np.cumsum(sizes)
        ranked = confidence[order]
        # A run of tied values goes, whole, to the bin of its first member, so
        # the row order of tied samples cannot change the bins.
        first = np.searchsorted(ranked, ranked, side="left")
        which = np.searchsorted(ends, first, side="right")
        return [order[which == b] for b in range(k) if (which == b).any()]
    edges = np.linspace(0, 1, n_bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, n_bins - 1)
    return [np.flatnonzero(which == b) for b in range(n_bins) if (which == b).any()]


@dataclass(frozen=True)
class ReliabilityCurve:
    """Data of a reliability diagram (see :func:`reliability_curve`).

    Attributes
    ----------
    mean_predicted : ndarray
        Mean predicted probability (confidence) in each bin.
    observed : ndarray
        Observed frequency of the event (binary: positive class; several
        classes: the top label being right) in each bin.
    counts : ndarray
        Samples in each bin.
    n_bins : int
        Bins asked for.
    strategy : str
    kind : str
        ``"positive class"`` or ``"top label"``.
    """

    mean_predicted: np.ndarray
    observed: np.ndarray
    counts: np.ndarray
    n_bins: int
    strategy: str
    kind: str

    @property
    def ece(self) -> float:
        """Expected calibration error of these bins."""
        w = self.counts / self.counts.sum()
        return float(np.sum(w * np.abs(self.observed - self.mean_predicted)))


def reliability_curve(
    y_true, y_prob, *, n_bins: int = 10, strategy: str = "quantile"
) -> ReliabilityCurve:
    """Binned predicted probability against observed frequency.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
    y_prob : array-like of shape (n_samples,) or (n_samples, n_classes)
        Binary: the positive class's probability is binned (the diagram of
        a risk score). Several classes: the top-label confidence against
        whether the top label is right.
    n_bins : int, default=10
    strategy : {"quantile", "uniform"}, default="quantile"
        ``"quantile"``: equal-mass bins (each holds about ``n / n_bins``
        samples), which keeps every bin's frequency estimable; tied
        probabilities always share a bin (a run of ties joins the bin of its
        first member, so a bin may hold more and a later one may be empty and
        dropped);
        ``"uniform"``: equal-width bins on [0, 1] (empty bins dropped).

    Returns
    -------
    ReliabilityCurve
    """
    confidence, outcome = _confidence_and_outcome(y_true, y_prob)
    bins = _bins(confidence, n_bins, strategy)
    return ReliabilityCurve(
        mean_predicted=np.array([confidence[b].mean() for b in bins]),
        observed=np.array([outcome[b].mean() for b in bins]),
        counts=np.array([len(b) for b in bins]),
        n_bins=int(n_bins),
        strategy=strategy,
        kind="positive class"
        if np.ndim(y_prob) == 1 or np.shape(y_prob)[1] == 2
        else "top label",
    )


def expected_calibration_error(
    y_true, y_prob, *, n_bins: int = 10, strategy: str = "quantile"
) -> float:
    """Expected calibration error (ECE): the count-weighted mean gap per bin.

    ``ECE = sum_b (n_b / n) |observed_b - mean_predicted_b|`` over the bins of
    :func:`reliability_curve` (equal-mass by default). Binary: of the positive
    class's probability; several classes: of the top-label confidence
    (Guo et al., ICML 2017). Always report the bin count with it: ECE depends
    on it, and a finite sample gives a positive ECE even when the model is
    perfectly calibrated; report :func:`expected_ece_under_calibration` beside
    it (on 156 samples and 10 bins it is around .08).

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
    y_prob : array-like of shape (n_samples,) or (n_samples, n_classes)
    n_bins : int, default=10
    strategy : {"quantile", "uniform"}, default="quantile"

    Returns
    -------
    float

    Examples
    --------
    >>> from skmedtl.metrics import expected_calibration_error
    >>> expected_calibration_error([0, 0, 1, 1], [0.0, 0.0, 1.0, 1.0], n_bins=2)
    0.0
    >>> expected_calibration_error([0, 1, 0, 1], [0.9, 0.9, 0.1, 0.1], n_bins=2)
    0.4
    """
    return reliability_curve(y_true, y_prob, n_bins=n_bins, strategy=strategy).ece


def _sum_distribution(p: np.ndarray) -> np.ndarray:
    """Distribution of a sum of independent Bernoulli(p_i): P(sum = 0..len(p))."""
    pmf = np.zeros(len(p) + 1)
    pmf[0] = 1.0
    for i, q in enumerate(p):
        pmf[1 : i + 2] = pmf[1 : i + 2] * (1 - q) + pmf[: i + 1] * q
        pmf[0] *= 1 - q
    return pmf


def expected_ece_under_calibration(
    y_prob, *, n_bins: int = 10, strategy: str = "quantile"
) -> float:
    """The ECE a *perfectly calibrated* model is expected to score on these data.

    If each outcome were drawn from the model's own probability (binary: the
    event with probability ``p``; several classes: the top label right with
    probability equal to its confidence), the ECE of
    :func:`expected_calibration_error` would still be positive on a finite
    sample. This is its expected value, computed exactly: the bins depend only
    on the probabilities, and in each bin the number of events follows a
    Poisson-binomial distribution. An observed ECE near this value is no
    evidence of miscalibration; report the two side by side.

    Parameters
    ----------
    y_prob : array-like of shape (n_samples,) or (n_samples, n_classes)
        The probabilities whose ECE is reported (as for
        :func:`expected_calibration_error`; no labels needed).
    n_bins : int, default=10
    strategy : {"quantile", "uniform"}, default="quantile"

    Returns
    -------
    float

    Examples
    --------
    >>> import numpy as np
    >>> from skmedtl.metrics import expected_ece_under_calibration
    >>> expected_ece_under_calibration(np.full(4, 0.5), n_bins=1)  # E|k/4 - 1/2|
    0.1875
    """
    p = np.asarray(y_prob, dtype=float)
    p = _proba_matrix(p, len(p))
    confidence = p[:, 1] if p.shape[1] == 2 else p.max(axis=1)
    total = 0.0
    for b in _bins(confidence, n_bins, strategy):
        q = confidence[b]
        pmf = _sum_distribution(q)
        gap = np.abs(np.arange(len(q) + 1) / len(q) - q.mean())
        total += len(q) * float(pmf @ gap)
    return total / len(confidence)


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


class TemperatureScaling(BaseEstimator):
    """Temperature scaling (Guo et al., ICML 2017), fitted on validation data.

    One parameter ``T > 0`` divides the logits: ``softmax(z / T)``. It is
    chosen to minimise the negative log-likelihood of validation labels. It
    keeps the ranking of every sample's classes (so accuracy and, for two
    classes, AUC do not change) and fixes over- (``T > 1``) or
    under-confidence (``T < 1``).

    Parameters
    ----------
    input : {"logits", "proba"}, default="logits"
        What :meth:`fit` and :meth:`predict_proba` receive: logits ``(n, k)``,
        or probabilities (their logarithms serve as logits; a 1-D array is
        the positive class of a binary problem).
    bounds : tuple of float, default=(0.05, 20.0)
        Range searched for ``T``.

    Attributes
    ----------
    temperature_ : float

    Examples
    --------
    >>> import numpy as np
    >>> from skmedtl.metrics import TemperatureScaling
    >>> rng = np.random.default_rng(0)
    >>> z = rng.normal(size=(2000, 3))
    >>> p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    >>> y = np.array([rng.choice(3, p=row) for row in p])
    >>> ts = TemperatureScaling().fit(4 * z, y)  # 4x overconfident logits
    >>> round(ts.temperature_, 1)
    4.0
    """

    def __init__(self, input: str = "logits", bounds: tuple = (0.05, 20.0)):
        self.input = input
        self.bounds = bounds

    def _logits(self, X) -> np.ndarray:
        if self.input not in ("logits", "proba"):
            raise ValueError(f"input must be 'logits' or 'proba'; got {self.input!r}.")
        X = np.asarray(X, dtype=float)
        if self.input == "proba":
            X = _proba_matrix(X, len(X))
            return np.log(np.clip(X, _EPS, 1.0))
        if X.ndim != 2 or X.shape[1] < 2:
            raise ValueError(f"logits must have shape (n, n_classes); got {X.shape}.")
        if not np.isfinite(X).all():
            raise ValueError("logits contain NaN or infinite values.")
        return X

    def fit(self, X, y) -> TemperatureScaling:
        """Choose ``T`` on validation logits (or probabilities) and labels."""
        from scipy.optimize import minimize_scalar

        z = self._logits(X)
        y = _encode(y, z.shape[1])
        if len(y) != len(z):
            raise ValueError(f"X has {len(z)} rows but y has {len(y)} labels.")

        def nll(log_t: float) -> float:
            s = z / np.exp(log_t)
            s = s - s.max(axis=1, keepdims=True)
            return float(
                np.mean(np.log(np.exp(s).sum(axis=1)) - s[np.arange(len(y)), y])
            )

        low, high = np.log(self.bounds[0]), np.log(self.bounds[1])
        res = minimize_scalar(
            nll, bounds=(low, high), method="bounded", options={"xatol": 1e-6}
        )
        self.temperature_ = float(np.exp(res.x))
        self.n_classes_ = z.shape[1]
        return self

    def predict_proba(self, X) -> np.ndarray:
        """Calibrated class probabilities ``(n, k)``."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "temperature_")
        return _softmax(self._logits(X) / self.temperature_)


class ProbabilityCalibrator(BaseEstimator):
    """Recalibrate a fitted model's probabilities on validation predictions.

    The prefit calibration of scikit-learn's ``CalibratedClassifierCV``
    (``FrozenEstimator``, formerly ``cv="prefit"``), applied to probabilities
    already predicted, so it works for any model (a network, a hybrid head)
    without refitting it: fit on the validation set's predicted probabilities
    and labels, then transform test probabilities. See ``method`` for how
    ``"sigmoid"`` relates to scikit-learn's.

    Parameters
    ----------
    method : {"temperature", "sigmoid", "isotonic", "none"}, default="temperature"
        ``"temperature"``: :class:`TemperatureScaling` on log-probabilities.
        ``"sigmoid"``: Platt scaling of the logit of each class's probability
        (one-vs-rest, then renormalised as scikit-learn does):
        ``1 / (1 + exp(A * logit(p) + B))`` with Platt's smoothed targets
        ``(N+ + 1) / (N+ + 2)`` and ``1 / (N- + 2)``, fitted as
        ``sklearn.calibration._sigmoid_calibration`` fits them. This is
        exactly ``CalibratedClassifierCV(FrozenEstimator(model),
        method="sigmoid")`` for a model whose ``decision_function`` is the
        logit of its ``predict_proba`` (a logistic regression, say).
        scikit-learn calibrates ``p`` itself for a model with only
        ``predict_proba``; skmedtl calibrates the logit for every model, so
        the identity is one of the maps (a calibrated model can stay so).
        ``"isotonic"``: isotonic regression of each class (one-vs-rest, then
        renormalised); it needs a large validation set and can create ties.
        ``"none"``: the identity.

    Attributes
    ----------
    n_classes_ : int

    Examples
    --------
    >>> import numpy as np
    >>> from skmedtl.metrics import ProbabilityCalibrator, brier_score
    >>> rng = np.random.default_rng(0)
    >>> p = rng.uniform(0.05, 0.95, 4000)
    >>> y = (rng.random(4000) < p).astype(int)
    >>> over = 1 / (1 + np.exp(-3 * np.log(p / (1 - p))))  # overconfident
    >>> cal = ProbabilityCalibrator("sigmoid").fit(over[:2000], y[:2000])
    >>> bool(brier_score(y[2000:], cal.predict_proba(over[2000:])[:, 1])
    ...      < brier_score(y[2000:], over[2000:]))
    True
    """

    def __init__(self, method: str = "temperature"):
        self.method = method

    def fit(self, y_prob, y) -> ProbabilityCalibrator:
        """Fit on validation probabilities ``y_prob`` and labels ``y``."""
        from sklearn.isotonic import IsotonicRegression

        validate_params(
            {"method": self.method},
            {"method": [StrOptions(tuple(CALIBRATION_METHODS))]},
        )
        p = _proba_matrix(y_prob, len(np.asarray(y)))
        y = _encode(y, p.shape[1])
        k = p.shape[1]
        self.n_classes_ = k
        if self.method == "temperature":
            self.calibrators_ = [TemperatureScaling(input="proba").fit(p, y)]
        elif self.method == "none":
            self.calibrators_ = []
        else:
            columns = [1] if k == 2 else range(k)
            self.calibrators_ = []
            for c in columns:
                target = (y == c).astype(int)
                if self.method == "sigmoid":
                    model = _platt_sigmoid(_logit(p[:, c]), target)
                else:
                    model = IsotonicRegression(
                        y_min=0.0, y_max=1.0, out_of_bounds="clip"
                    ).fit(p[:, c], target)
                self.calibrators_.append(model)
        return self

    def predict_proba(self, y_prob) -> np.ndarray:
        """Calibrated probabilities ``(n, n_classes)``."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "calibrators_")
        y_prob = np.asarray(y_prob, dtype=float)
        p = _proba_matrix(y_prob, len(y_prob))
        if p.shape[1] != self.n_classes_:
            raise ValueError(
                f"Fitted on {self.n_classes_} classes; got {p.shape[1]} columns."
            )
        if self.method == "none":
            return p.copy()
        if self.method == "temperature":
            return self.calibrators_[0].predict_proba(p)
        cols = []
        for model, c in zip(
            self.calibrators_,
            [1] if p.shape[1] == 2 else range(p.shape[1]),
            strict=True,
        ):
            if self.method == "sigmoid" and hasattr(model, "predict_proba"):
                # a calibrator fitted before skmedtl matched scikit-learn's
                # Platt scaling (a LogisticRegression with C=1e6): kept working
                cols.append(model.predict_proba(_logit(p[:, c])[:, None])[:, 1])
            elif self.method == "sigmoid":
                a, b = model
                cols.append(_expit(-(a * _logit(p[:, c]) + b)))
            else:
                cols.append(model.predict(p[:, c]))
        if p.shape[1] == 2:
            q = np.clip(cols[0], 0.0, 1.0)
            return np.column_stack([1 - q, q])
        q = np.column_stack(cols)
        total = q.sum(axis=1, keepdims=True)
        uniform = np.full_like(q, 1.0 / q.shape[1])
        return np.where(total > 0, q / np.where(total > 0, total, 1), uniform)


def _platt_sigmoid(scores, y) -> np.ndarray:
    """Platt's sigmoid ``1 / (1 + exp(A * score + B))`` fitted to 0/1 targets.

    Platt (2000), as ``sklearn.calibration._sigmoid_calibration``: the targets
    are smoothed to ``(N+ + 1) / (N+ + 2)`` and ``1 / (N- + 2)``, scores of
    magnitude 30 or more are rescaled, and ``(A, B)`` minimise the log-loss
    by L-BFGS-B from ``(0, log((N- + 1) / (N+ + 1)))`` with the same
    tolerances.

    Parameters
    ----------
    scores : ndarray of shape (n_samples,)
    y : ndarray of shape (n_samples,)
        1 for the event, 0 otherwise.

    Returns
    -------
    ndarray of shape (2,)
        ``[A, B]``.
    """
    from scipy.optimize import minimize

    f = np.asarray(scores, dtype=float)
    y = np.asarray(y)
    scale = 1.0
    if np.max(np.abs(f)) >= 30:
        scale = float(np.max(np.abs(f)))
        f = f / scale
    negative = y <= 0
    prior0 = float(negative.sum())
    prior1 = len(y) - prior0
    target = np.where(negative, 1.0 / (prior0 + 2.0), (prior1 + 1.0) / (prior1 + 2.0))

    def loss_grad(ab):
        raw = -(ab[0] * f + ab[1])
        loss = np.logaddexp(0, raw) - target * raw
        g = _expit(raw) - target
        return loss.sum(), np.array([-g @ f, -g.sum()])

    start = np.array([0.0, np.log((prior0 + 1.0) / (prior1 + 1.0))])
    result = minimize(
        loss_grad,
        start,
        method="L-BFGS-B",
        jac=True,
        options={"gtol": 1e-6, "ftol": 64 * np.finfo(float).eps},
    )
    return np.array([result.x[0] / scale, result.x[1]])


def _expit(x: np.ndarray) -> np.ndarray:
    from scipy.special import expit

    return expit(x)


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-7, 1 - 1e-7)
    return np.log(p / (1 - p))


def calibrate_prefit(estimator, X_val, y_val, *, method: str = "sigmoid"):
    """Calibrate an already fitted scikit-learn classifier on validation data.

    ``CalibratedClassifierCV`` over the frozen estimator: with scikit-learn >=
    1.6 through ``FrozenEstimator`` (``cv="prefit"`` is deprecated there),
    before that with ``cv="prefit"``. The estimator itself is not refitted.

    Parameters
    ----------
    estimator : fitted classifier
    X_val, y_val : validation data (never the test set)
    method : {"sigmoid", "isotonic"}, default="sigmoid"

    Returns
    -------
    sklearn.calibration.CalibratedClassifierCV
        Fitted.
    """
    from sklearn.calibration import CalibratedClassifierCV

    if method not in ("sigmoid", "isotonic"):
        raise ValueError(
            f"method must be 'sigmoid' or 'isotonic' for calibrate_prefit; got "
            f"{method!r} (temperature scaling: TemperatureScaling)."
        )
    try:
        from sklearn.frozen import FrozenEstimator
    except ImportError:  # scikit-learn < 1.6
        calibrated = CalibratedClassifierCV(estimator, method=method, cv="prefit")
    else:
        calibrated = CalibratedClassifierCV(FrozenEstimator(estimator), method=method)
    return calibrated.fit(X_val, y_val)


def batched_ece(confidence, outcome, counts, n_bins: int = 10) -> np.ndarray:
    """The quantile-bin ECE of every resample at once, from resample counts.

    The same number as :func:`expected_calibration_error` (``strategy=
    "quantile"``) on each materialised resample: the resample's sorted
    confidences are split into equal-mass bins, a run of tied values joining
    the bin of its first member. The samples are sorted once; a resample only
    reweights them (its cumulative counts place every copy).

    Parameters
    ----------
    confidence : ndarray of shape (n_samples,)
        The binned probability (binary: the positive class's; several
        classes: the top label's).
    outcome : ndarray of shape (n_samples,)
        1 where the event happened (the positive class; the top label right).
    counts : ndarray of shape (n_resamples, n_samples)
        Rows of :func:`~skmedtl.metrics.resample_counts`; every row must hold
        the same number of draws.
    n_bins : int, default=10

    Returns
    -------
    ndarray of shape (n_resamples,)
    """
    confidence = np.asarray(confidence, dtype=float)
    outcome = np.asarray(outcome, dtype=float)
    counts = np.atleast_2d(np.asarray(counts, dtype=np.int64))
    totals = counts.sum(axis=1)
    if len(totals) and (totals != totals[0]).any():
        raise ValueError("Every row of counts must hold the same number of draws.")
    order = np.argsort(confidence, kind="stable")
    ranked = confidence[order]
    first = np.searchsorted(ranked, ranked, side="left")
    weights = counts[:, order]
    below = np.zeros((len(weights), len(order) + 1), dtype=np.int64)
    np.cumsum(weights, axis=1, out=below[:, 1:])
    n = int(totals[0]) if len(totals) else 0
    k = max(1, min(int(n_bins), n))
    ends = np.cumsum(np.full(k, n // k) + (np.arange(k) < n % k))
    # The first copy of a tie run sits after every draw of a lower value.
    which = np.searchsorted(ends, below[:, first], side="right")
    np.minimum(which, k - 1, out=which)  # undrawn samples past the end: weight 0
    gap = weights * (outcome[order] - ranked)
    rows = np.arange(len(weights))[:, None] * k
    sums = np.bincount((which + rows).ravel(), gap.ravel(), len(weights) * k)
    return np.abs(sums.reshape(len(weights), k)).sum(axis=1) / max(n, 1)
