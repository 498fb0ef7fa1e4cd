"""How optimistic the selected configuration's validation score is.

Selecting the best of several configurations on one validation set makes the
winner's validation score optimistic (the winner's curse): even when every
configuration is equally good, the largest of several noisy scores lies above
their common true value. The study discloses that optimism beside the
validation score instead of quoting the score as an estimate.

The estimate is the bootstrap bias-corrected selection of Tsamardinos,
Greasidou and Borboudakis (BBC, *Machine Learning* 107:1895-1922, 2018):
resample the validation images (stratified, with replacement); in each
resample, select the configuration that is best *in-bag* (the same rule the
study applies to the whole validation set) and score it *out-of-bag*, on the
validation images that resample did not draw. The mean out-of-bag score
estimates the performance of the selection procedure, and the optimism is the
selected configuration's validation score minus that estimate. No model is
refitted: only the stored validation predictions are resampled.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..metrics._resample import (
    BOOTSTRAP_SEED,
    CONFIDENCE,
    bootstrap_indices,
    check_finite,
    percentile_interval,
    resample_counts,
    weighted_auc,
)

__all__ = ["SelectionOptimism", "auc_statistic", "selection_optimism"]

#: Default number of resamples of :func:`selection_optimism`.
N_SELECTION_RESAMPLES = 1000

#: ``statistic(y, score, counts)``: one value per row of ``counts``.
Statistic = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def auc_statistic(y, score, counts) -> np.ndarray:
    """ROC AUC of every weighting in ``counts`` (binary, multi-class, multi-label).

    Parameters
    ----------
    y : ndarray of shape (n_samples,) or (n_samples, n_labels)
        Binary labels (0/1, the positive class 1), class codes ``0..k-1``, or
        a 0/1 multi-label indicator matrix.
    score : ndarray of shape (n_samples,) or (n_samples, k)
        The positive class's score (binary), one column per class (macro
        one-vs-rest AUC), or one per label (mean per-label AUC).
    counts : ndarray of shape (n_resamples, n_samples)
        Multiplicity of each sample in each weighting.

    Returns
    -------
    ndarray of shape (n_resamples,)
        NaN where a class (or every label) has no sample.
    """
    y, score = np.asarray(y), np.asarray(score, dtype=float)
    if score.ndim == 1:
        return weighted_auc(y == 1, score, counts)
    positives = y.astype(bool) if y.ndim == 2 else y[:, None] == np.arange(len(score.T))
    per_column = [
        weighted_auc(positives[:, c], score[:, c], counts)
        for c in range(score.shape[1])
    ]
    with np.errstate(invalid="ignore"):
        stacked = np.vstack(per_column)
        valid = ~np.isnan(stacked)
        total = np.where(valid, stacked, 0.0).sum(axis=0)
        return np.where(valid.any(axis=0), total / valid.sum(axis=0), np.nan)


@dataclass(frozen=True)
class SelectionOptimism:
    """The winner's curse of one selection on one validation set.

    Attributes
    ----------
    selected : int
        Index of the configuration with the best validation score.
    observed : float
        Its validation score (what selection saw).
    corrected : float
        The bias-corrected estimate of the selection procedure's performance:
        the mean out-of-bag score of the configuration selected in-bag.
    optimism : float
        ``observed - corrected``: how much the selected score is expected to
        exceed the selected configuration's performance on new images.
    interval : tuple of float
        Percentile interval of the out-of-bag scores at ``confidence``.
    selection_rates : ndarray of shape (n_configurations,)
        How often each configuration was selected in-bag: the selection's
        stability.
    n_resamples : int
        Resamples drawn.
    n_valid : int
        Resamples whose in-bag and out-of-bag scores were both defined.
    confidence : float
    method : str
        The estimator, for the report's Methods.
    """

    selected: int
    observed: float
    corrected: float
    optimism: float
    interval: tuple[float, float]
    selection_rates: np.ndarray
    n_resamples: int
    n_valid: int
    confidence: float = CONFIDENCE
    method: str = "bootstrap bias-corrected selection (BBC; Tsamardinos et al., 2018)"


def _seeds_of(configuration, n_samples: int, index: int) -> list[np.ndarray]:
    """A configuration's per-seed scores, each checked against ``n_samples``."""
    if isinstance(configuration, (list, tuple)):
        seeds = [np.asarray(s, dtype=float) for s in configuration]
    else:
        seeds = [np.asarray(configuration, dtype=float)]
    if not seeds:
        raise ValueError(f"scores[{index}] has no seed's scores.")
    for seed, values in enumerate(seeds):
        if len(values) != n_samples:
            raise ValueError(
                f"scores[{index}] (seed {seed}) has {len(values)} rows but y has "
                f"{n_samples}: every configuration must be scored on the same "
                "validation images, in the same order."
            )
        check_finite(f"scores[{index}]", values)
    return seeds


def _mean_over_seeds(statistic: Statistic, y, seeds, counts) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return np.mean([statistic(y, s, counts) for s in seeds], axis=0)


def selection_optimism(
    y,
    scores: Sequence,
    *,
    statistic: Statistic = auc_statistic,
    n_resamples: int = N_SELECTION_RESAMPLES,
    random_state=BOOTSTRAP_SEED,
    confidence: float = CONFIDENCE,
) -> SelectionOptimism:
    """Estimate how optimistic the best validation score of several configurations is.

    Parameters
    ----------
    y : array-like of shape (n_samples,) or (n_samples, n_labels)
        Validation labels, encoded as ``statistic`` expects (binary 0/1 with
        the positive class 1, class codes, or a multi-label indicator matrix).
    scores : sequence
        One entry per configuration, all on the same validation images: an
        array of scores, or a list of arrays (one per seed; the
        configuration's score is then the mean over seeds of ``statistic``,
        as the study selects).
    statistic : callable, default=auc_statistic
        ``statistic(y, score, counts)`` returns the score of every weighting
        of the samples given by the rows of ``counts``; higher is better.
    n_resamples : int, default=1000
    random_state : int, RandomState instance or None, default=BOOTSTRAP_SEED
    confidence : float, default=CONFIDENCE

    Returns
    -------
    SelectionOptimism

    Notes
    -----
    Resamples are stratified by class (by label combination for a
    multi-label ``y``). Ties in-bag go to the configuration listed first, so
    list configurations in the order the study breaks ties (cheapest first).
    With one configuration there is no selection and the optimism is close
    to zero.

    Examples
    --------
    >>> import numpy as np
    >>> from skmedtl.model_selection import selection_optimism
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat([0, 1], 40)
    >>> scores = [y + rng.normal(0, 1.2, 80) for _ in range(9)]  # all equally good
    >>> result = selection_optimism(y, scores, n_resamples=200)
    >>> bool(result.optimism > 0)
    True
    """
    y = np.asarray(y)
    if y.ndim not in (1, 2) or len(y) < 2:
        raise ValueError(
            f"y must hold one label (or label row) per validation image; got shape "
            f"{y.shape}."
        )
    check_finite("y", y.astype(float) if y.dtype != object else y)
    if len(scores) == 0:
        raise ValueError("scores is empty: give one entry per configuration.")
    configurations = [_seeds_of(c, len(y), j) for j, c in enumerate(scores)]
    strata = y if y.ndim == 1 else np.unique(y, axis=0, return_inverse=True)[1]
    indices = bootstrap_indices(np.ravel(strata), n_resamples, random_state)
    in_bag = resample_counts(indices, len(y))
    out_of_bag = (in_bag == 0).astype(np.int64)
    full = np.ones((1, len(y)), dtype=np.int64)

    observed = np.array(
        [_mean_over_seeds(statistic, y, seeds, full)[0] for seeds in configurations]
    )
    if np.isnan(observed).all():
        raise ValueError("statistic is undefined on the validation set.")
    selected = int(np.nanargmax(observed))
    in_scores = np.vstack(
        [_mean_over_seeds(statistic, y, seeds, in_bag) for seeds in configurations]
    )
    defined = ~np.isnan(in_scores).all(axis=0)
    choice = np.nanargmax(np.where(np.isnan(in_scores), -np.inf, in_scores), axis=0)
    oob = np.full(len(choice), np.nan)
    for j, seeds in enumerate(configurations):
        rows = np.flatnonzero(defined & (choice == j))
        if len(rows):
            oob[rows] = _mean_over_seeds(statistic, y, seeds, out_of_bag[rows])
    valid = ~np.isnan(oob)
    if not valid.any():
        raise ValueError(
            "No resample left both classes out-of-bag: the validation set is too "
            "small to estimate the selection's optimism."
        )
    rates = np.bincount(choice[defined], minlength=len(configurations)) / max(
        int(defined.sum()), 1
    )
    corrected = float(oob[valid].mean())
    low, high = percentile_interval(oob[valid], confidence)
    return SelectionOptimism(
        selected=selected,
        observed=float(observed[selected]),
        corrected=corrected,
        optimism=float(observed[selected]) - corrected,
        interval=(float(low), float(high)),
        selection_rates=rates,
        n_resamples=int(n_resamples),
        n_valid=int(valid.sum()),
        confidence=float(confidence),
    )
