"""The one bootstrap resampler behind every interval and paired comparison.

Every confidence interval, paired comparison and calibration interval of
skmedtl draws its resamples here, with one confidence level, one seed and one
treatment of the two things that make bootstraps disagree:

- **Empty classes cannot arise.** Resamples are stratified by default: each
  class of ``y`` is resampled with replacement *within itself*, so every
  resample holds exactly as many samples of each class as the original
  sample. AUC, sensitivity and specificity are therefore defined on every
  resample whenever they are defined on the sample. (Multi-label reports
  resample images unstratified, see :func:`skmedtl.metrics.multilabel_report`.)
- **NaN is refused before resampling.** Labels and scores with NaN or
  infinite values raise a ``ValueError`` (:func:`check_finite`): drop those
  rows from every model compared, so the comparison stays paired, and report
  how many. A statistic that is undefined on a resample (NaN) is left out of
  that statistic's percentile interval; :class:`BootstrapResult` counts the
  resamples kept (``n_valid``).

Resamples are *paired*: one index matrix (:func:`bootstrap_indices`) serves
every model scored on the same images, so intervals of differences reflect
the correlation between the models.

The random stream is that of ``numpy.random.RandomState``: resample ``b``
draws ``rng.randint(0, n_c, n_c)`` for each class ``c`` in sorted order (the
same numbers as ``rng.choice(indices_of_c, n_c)``), so seeded results equal
those of the loops this module replaced (drawn in one call with a bound per
entry while strata are small). Statistics are evaluated for all
resamples at once through the resample *counts* (how often each sample is
drawn, :func:`resample_counts`): an AUC of every resample is one weighted
Mann-Whitney sum (:func:`weighted_auc`), a confusion matrix one matrix
product.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
from sklearn.utils import check_random_state

__all__ = [
    "BOOTSTRAP_SEED",
    "CONFIDENCE",
    "N_BOOTSTRAP",
    "BootstrapResult",
    "bootstrap",
    "bootstrap_ci",
    "bootstrap_indices",
    "check_finite",
    "percentile_interval",
    "resample_counts",
    "weighted_auc",
]

#: Confidence level of every interval skmedtl reports.
CONFIDENCE = 0.95
#: Seed of every bootstrap (the same seed gives the same resamples).
BOOTSTRAP_SEED = 0
#: Default number of bootstrap resamples.
N_BOOTSTRAP = 2000
#: At most this many (resample, sample) entries are held at once; larger
#: problems are processed in chunks of resamples (same results).
_CHUNK_ENTRIES = 2**22
#: Mean stratum size up to which stratified indices are drawn in one call
#: (measured: faster below, slower above; the numbers are the same).
_BROADCAST_MAX_STRATUM = 500


def check_finite(name: str, values) -> np.ndarray:
    """``values`` as an array, or a ``ValueError`` naming ``name`` if not finite.

    The resampler's NaN rule: NaN or infinite labels and scores are an error
    before resampling (no row is dropped silently).

    Parameters
    ----------
    name : str
        The argument's name, for the message.
    values : array-like

    Returns
    -------
    ndarray
    """
    values = np.asarray(values)
    if values.dtype.kind in "fc" and not np.isfinite(values).all():
        bad = int((~np.isfinite(values)).any(axis=tuple(range(1, values.ndim))).sum())
        raise ValueError(
            f"{name} contains NaN or infinite values ({bad} of {len(values)} "
            "samples). The bootstrap does not resample them: remove those rows "
            "from every model compared (so the comparison stays paired) and "
            "report how many were removed."
        )
    return values


def _check_labels(y) -> np.ndarray:
    y = check_finite("y_true", y)
    if y.ndim != 1 or len(y) == 0:
        raise ValueError(
            f"y_true must be a non-empty 1-D array of labels; got shape {y.shape}."
        )
    return y


def _check_n_resamples(n_resamples) -> int:
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, (int, np.integer)):
        raise TypeError(f"n_resamples must be an int; got {n_resamples!r}.")
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be at least 1; got {n_resamples!r}.")
    return int(n_resamples)


def _check_confidence(confidence) -> float:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1); got {confidence!r}.")
    return float(confidence)


def _index_chunks(
    y: np.ndarray, n_resamples: int, rng, stratify: bool, chunk: int
) -> Iterator[np.ndarray]:
    """Successive ``(<= chunk, n)`` blocks of the resample-index matrix."""
    n = len(y)
    if not stratify:
        for start in range(0, n_resamples, chunk):
            size = min(chunk, n_resamples - start)
            # Row-major: the same numbers as `size` calls of randint(0, n, n).
            yield rng.randint(0, n, size=(size, n))
        return
    strata = [np.flatnonzero(y == c) for c in np.unique(y)]
    sizes = np.array([len(st) for st in strata])
    members = np.concatenate(strata)
    # One randint call with a bound per entry draws the same numbers, in the
    # same order, as one call per stratum and resample (legacy RandomState
    # masks and rejects entry by entry); it is faster while strata are small.
    broadcast = n / len(strata) <= _BROADCAST_MAX_STRATUM
    highs = np.repeat(sizes, sizes)
    offsets = np.repeat(np.cumsum(sizes) - sizes, sizes)
    for start in range(0, n_resamples, chunk):
        size = min(chunk, n_resamples - start)
        if broadcast:
            yield members[rng.randint(0, highs, size=(size, n)) + offsets]
            continue
        block = np.empty((size, n), dtype=np.intp)
        for row in block:
            offset = 0
            for st in strata:
                row[offset : offset + len(st)] = st[rng.randint(0, len(st), len(st))]
                offset += len(st)
        yield block


def bootstrap_indices(
    y,
    n_resamples: int = N_BOOTSTRAP,
    random_state=BOOTSTRAP_SEED,
    *,
    stratify: bool = True,
) -> np.ndarray:
    """The resample-index matrix: row ``b`` indexes the ``b``-th resample.

    Use one matrix for every model scored on the same samples (a paired
    design): ``score_a[idx[b]]`` and ``score_b[idx[b]]`` are the same images.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Labels (any type, no NaN); resamples are drawn within each of them.
    n_resamples : int, default=N_BOOTSTRAP
    random_state : int, RandomState instance or None, default=BOOTSTRAP_SEED
    stratify : bool, default=True
        Draw within each class (each resample keeps every class count, so no
        class is ever empty); ``False`` draws from all samples.

    Returns
    -------
    ndarray of shape (n_resamples, n_samples)
        With ``stratify``, each row lists the draws of the first class (in
        sorted order), then of the second, and so on.

    Examples
    --------
    >>> import numpy as np
    >>> from skmedtl.metrics import bootstrap_indices
    >>> y = np.array([0, 0, 0, 1, 1])
    >>> idx = bootstrap_indices(y, 4, random_state=0)
    >>> idx.shape
    (4, 5)
    >>> bool((y[idx].sum(axis=1) == 2).all())  # every resample keeps two positives
    True
    """
    y = _check_labels(y)
    n_resamples = _check_n_resamples(n_resamples)
    rng = check_random_state(random_state)
    return np.concatenate(
        list(_index_chunks(y, n_resamples, rng, stratify, n_resamples))
    )


def resample_counts(indices, n_samples: int) -> np.ndarray:
    """How often each sample is drawn in each resample.

    Parameters
    ----------
    indices : array-like of shape (n_resamples, m)
        Rows of :func:`bootstrap_indices`.
    n_samples : int

    Returns
    -------
    ndarray of shape (n_resamples, n_samples), int64
        ``counts[b, i]`` copies of sample ``i`` in resample ``b``; any
        statistic that is a sum over samples is ``counts @ values``.
    """
    indices = np.asarray(indices)
    if indices.ndim == 1:
        indices = indices[None]
    b = len(indices)
    flat = (indices + n_samples * np.arange(b)[:, None]).ravel()
    return np.bincount(flat, minlength=b * n_samples).reshape(b, n_samples)


def weighted_auc(positive, score, counts=None) -> np.ndarray | float:
    """ROC AUC (Mann-Whitney, ties count one half) with sample multiplicities.

    With ``counts`` the rows of :func:`resample_counts`, this is the AUC of
    every resample in one pass: no resample is sorted; the negatives are
    sorted once, each positive's place among them is found once, and each
    resample only reweights them (a cumulative sum of negative counts). The U
    statistic is exact (integer arithmetic), so the result equals the rank
    formula bit for bit.

    Parameters
    ----------
    positive : array-like of bool, shape (n_samples,)
    score : array-like of shape (n_samples,)
        Higher: more likely positive.
    counts : array-like of shape (n_samples,) or (n_resamples, n_samples), optional
        Non-negative integer multiplicities; one of each sample by default.

    Returns
    -------
    float or ndarray of shape (n_resamples,)
        NaN where a class has no sample.

    Examples
    --------
    >>> from skmedtl.metrics import weighted_auc
    >>> weighted_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    0.75
    >>> weighted_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], [[1, 0, 1, 1], [0, 1, 1, 1]])
    array([1. , 0.5])
    """
    positive = np.asarray(positive, dtype=bool)
    score = np.asarray(score, dtype=float)
    single = counts is None or np.ndim(counts) == 1
    if counts is None:
        counts = np.ones((1, len(score)), dtype=np.int64)
    counts = np.atleast_2d(np.asarray(counts, dtype=np.int64))
    pos, neg = np.flatnonzero(positive), np.flatnonzero(~positive)
    order = neg[np.argsort(score[neg], kind="stable")]
    neg_scores = score[order]
    # below[:, j]: weight of the negatives among the j lowest-scored ones.
    below = np.zeros((len(counts), len(order) + 1), dtype=np.int64)
    np.cumsum(counts[:, order], axis=1, out=below[:, 1:])
    lower = np.searchsorted(neg_scores, score[pos], side="left")
    upper = np.searchsorted(neg_scores, score[pos], side="right")
    # Each positive outranks the negatives below it and ties with those in
    # [lower, upper): 2U = sum w * (below_lower + below_upper), exact integers.
    twice_u = (counts[:, pos] * (below[:, lower] + below[:, upper])).sum(axis=1)
    n_pos, n_neg = counts[:, pos].sum(axis=1), below[:, -1]
    with np.errstate(divide="ignore", invalid="ignore"):
        auc = (twice_u / 2) / (n_pos * n_neg)
    auc = np.where((n_pos > 0) & (n_neg > 0), auc, np.nan)
    return float(auc[0]) if single else auc


def column_aucs(positive, score, counts) -> np.ndarray:
    """:func:`weighted_auc` of each column: one-vs-rest, per label.

    Parameters
    ----------
    positive : array-like of bool, shape (n_samples, n_columns)
        Multi-class: ``y[:, None] == np.arange(n_classes)``; multi-label: the
        indicator matrix.
    score : array-like of shape (n_samples, n_columns)
    counts : array-like of shape (n_resamples, n_samples)
        Rows of :func:`resample_counts`.

    Returns
    -------
    ndarray of shape (n_resamples, n_columns)
        NaN where a column has one class only in a resample.
    """
    positive = np.asarray(positive, dtype=bool)
    score = np.asarray(score, dtype=float)
    counts = np.atleast_2d(counts)
    columns = range(score.shape[1])
    return np.column_stack(
        [weighted_auc(positive[:, j], score[:, j], counts) for j in columns]
    )


def percentile_interval(
    draws, confidence: float = CONFIDENCE
) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval of bootstrap draws, leaving NaN draws out.

    Parameters
    ----------
    draws : array-like of shape (n_resamples,) or (n_resamples, ...)
    confidence : float, default=CONFIDENCE

    Returns
    -------
    (low, high) : ndarrays of the shape of one draw
        NaN where every draw is NaN.
    """
    confidence = _check_confidence(confidence)
    alpha = (1 - confidence) / 2
    with warnings.catch_warnings():  # all-NaN columns give NaN, quietly
        warnings.simplefilter("ignore", RuntimeWarning)
        low = np.nanquantile(draws, alpha, axis=0)
        high = np.nanquantile(draws, 1 - alpha, axis=0)
    return low, high


@dataclass(frozen=True)
class BootstrapResult:
    """The outcome of :func:`bootstrap`.

    Attributes
    ----------
    estimate : float or ndarray
        The statistic on the original sample.
    low, high : float or ndarray
        Percentile ``confidence`` interval (NaN draws left out).
    draws : ndarray of shape (n_resamples, ...)
        The statistic on every resample.
    n_valid : int or ndarray
        Resamples on which the statistic was finite (those the interval uses).
    n_resamples : int
    confidence : float
    stratified : bool
    """

    estimate: float | np.ndarray
    low: float | np.ndarray
    high: float | np.ndarray
    draws: np.ndarray
    n_valid: int | np.ndarray
    n_resamples: int
    confidence: float
    stratified: bool


def _scalar(value):
    value = np.asarray(value)
    return value.item() if value.ndim == 0 else value


def bootstrap(
    statistic: Callable,
    y,
    *,
    n_resamples: int = N_BOOTSTRAP,
    confidence: float = CONFIDENCE,
    random_state=BOOTSTRAP_SEED,
    stratify: bool = True,
    batched: bool = False,
    batch_size: int | None = None,
) -> BootstrapResult:
    """A statistic of the samples with its percentile bootstrap interval.

    Parameters
    ----------
    statistic : callable
        ``statistic(idx)`` with ``idx`` an index array of shape
        ``(n_samples,)``, returning a float or a 1-D array. With ``batched``,
        ``statistic(indices)`` takes an index matrix ``(b, n_samples)`` (rows
        of :func:`bootstrap_indices`) and returns ``(b,)`` or ``(b, m)``, one
        value per row: evaluate every resample at once, e.g. with
        :func:`resample_counts` and :func:`weighted_auc`.
    y : array-like of shape (n_samples,)
        Labels the resamples are stratified by.
    n_resamples : int, default=N_BOOTSTRAP
    confidence : float, default=CONFIDENCE
    random_state : int, RandomState instance or None, default=BOOTSTRAP_SEED
    stratify : bool, default=True
    batched : bool, default=False
    batch_size : int, optional
        Rows of the index matrix per call of a batched statistic; by default
        about four million index entries per call. Results do not depend on it.

    Returns
    -------
    BootstrapResult

    Examples
    --------
    >>> import numpy as np
    >>> from skmedtl.metrics import bootstrap, resample_counts, weighted_auc
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat([0, 1], 50)
    >>> score = y + rng.normal(0, 1, 100)
    >>> r = bootstrap(lambda idx: weighted_auc(y == 1, score,
    ...               resample_counts(idx, 100)), y, batched=True)
    >>> bool(r.low < r.estimate < r.high)
    True
    """
    y = _check_labels(y)
    n_resamples = _check_n_resamples(n_resamples)
    confidence = _check_confidence(confidence)
    n = len(y)
    rng = check_random_state(random_state)
    if batched:
        estimate = np.asarray(statistic(np.arange(n)[None]), dtype=float)[0]
        chunk = batch_size or max(1, _CHUNK_ENTRIES // n)
        draws = np.concatenate(
            [
                np.asarray(statistic(block), dtype=float)
                for block in _index_chunks(y, n_resamples, rng, stratify, chunk)
            ]
        )
    else:
        estimate = np.asarray(statistic(np.arange(n)), dtype=float)
        draws = np.empty((n_resamples,) + estimate.shape)
        b = 0
        for block in _index_chunks(y, n_resamples, rng, stratify, 256):
            for idx in block:
                draws[b] = statistic(idx)
                b += 1
    low, high = percentile_interval(draws, confidence)
    return BootstrapResult(
        estimate=_scalar(estimate),
        low=_scalar(low),
        high=_scalar(high),
        draws=draws,
        n_valid=_scalar(np.isfinite(draws).sum(axis=0)),
        n_resamples=n_resamples,
        confidence=confidence,
        stratified=bool(stratify),
    )


def bootstrap_ci(
    y_true,
    pred,
    metric,
    *,
    n_resamples: int = N_BOOTSTRAP,
    confidence: float = CONFIDENCE,
    random_state=BOOTSTRAP_SEED,
    stratify: bool = True,
) -> tuple[float, float, float]:
    """A metric with its stratified percentile bootstrap interval.

    A convenience over :func:`bootstrap` for ``metric(y, pred)``.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Labels, passed to ``metric`` as given; resamples are drawn within
        each label.
    pred : array-like with first dimension n_samples
        No NaN (see the module's NaN rule).
    metric : callable
        ``metric(y, pred) -> float``.
    n_resamples : int, default=N_BOOTSTRAP
    confidence : float, default=CONFIDENCE
    random_state : int, RandomState instance or None, default=BOOTSTRAP_SEED
    stratify : bool, default=True

    Returns
    -------
    (estimate, low, high) : tuple of float

    Examples
    --------
    >>> import numpy as np
    >>> from skmedtl.metrics import bootstrap_ci, brier_score
    >>> y = np.repeat([0, 1], 50)
    >>> est, low, high = bootstrap_ci(y, np.full(100, 0.5), brier_score)
    >>> est, low, high
    (0.25, 0.25, 0.25)
    """
    y = _check_labels(y_true)
    pred = check_finite("pred", pred)
    if pred.shape[:1] != (len(y),):
        raise ValueError(
            f"pred must have one entry per sample ({len(y)}); got shape {pred.shape}."
        )
    result = bootstrap(
        lambda idx: metric(y[idx], pred[idx]),
        y,
        n_resamples=n_resamples,
        confidence=confidence,
        random_state=random_state,
        stratify=stratify,
    )
    return float(result.estimate), float(result.low), float(result.high)
