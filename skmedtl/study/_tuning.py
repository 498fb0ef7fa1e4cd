"""Tuning inside the training partition: the validation set never tunes.

A hybrid head's grid value is chosen by stratified (patient-grouped when the
study has groups) K-fold cross-validation of the training images only, seeded by
the cell's seed; the chosen value is refitted on all of them. A random forest
without patient groups is scored by its out-of-bag predictions instead (each
training image by the trees that did not draw it): one fit per grid value, on
all the training images, and the chosen forest is the one kept. Trained approaches
take early stopping and the learning rate from a split carved out of the
training images (``FineTuneClassifier(validation_fraction=...)``, with the
patient groups). The study's validation set is predicted once per cell, to score
it for selection, so its labels cannot reach a fitted model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..model_selection import make_cv, select_on_validation

__all__ = [
    "INNER_FOLDS",
    "INNER_FRACTION",
    "OUT_OF_BAG",
    "InnerFolds",
    "drop_out_of_bag",
    "head_workers",
    "inner_folds",
    "refit",
    "tune_by_cv",
    "tune_forest_out_of_bag",
    "tune_out_of_bag",
]

#: Folds of the inner cross-validation that chooses a hybrid head's grid value.
INNER_FOLDS = 5
#: Share of the training images a trained approach holds out for early stopping
#: and its learning-rate choice.
INNER_FRACTION = 0.2
#: The selection scheme of a head tuned by its out-of-bag predictions.
OUT_OF_BAG = "out-of-bag predictions of the forest's trees on the training images"


@dataclass(frozen=True)
class InnerFolds:
    """The inner folds of one cell's training images.

    Attributes
    ----------
    splits : list of (train index, held-out index)
        Empty when the training images are too few to cross-validate.
    n_splits : int
    grouped : bool
        Whether whole patients stay in one fold.
    note : str or None
        Why fewer folds than asked were used (or none at all).
    """

    splits: list
    n_splits: int
    grouped: bool
    note: str | None = None


def inner_folds(
    y, groups=None, n_splits: int = INNER_FOLDS, seed: int = 0
) -> InnerFolds:
    """Stratified (group-aware) folds of the training labels ``y``.

    Fewer folds than ``n_splits`` when the smallest class (in images, or in
    patients with ``groups``) has fewer members; none (and a note) when it has
    fewer than two. A 2-D ``y`` (multi-label indicator) is split by iterative
    stratification, the smallest class being the rarest label's positives.

    Examples
    --------
    >>> from skmedtl.study._tuning import inner_folds
    >>> f = inner_folds([0, 0, 0, 1, 1, 1, 1], n_splits=5, seed=0)
    >>> f.n_splits, f.note
    (3, '3 inner folds instead of 5: the smallest class has 3 members')
    """
    y = np.asarray(y)
    groups = None if groups is None else np.asarray(groups)
    if y.ndim == 2:  # multi-label: the positives of each label present
        encoded = None
        columns = [y[:, j].astype(bool) for j in range(y.shape[1])]
        columns = [c for c in columns if c.any()] or [np.ones(len(y), bool)]
    else:
        _, encoded = np.unique(y, return_inverse=True)
        columns = [encoded == c for c in np.unique(encoded)]
    members = [
        len(np.unique(groups[c])) if groups is not None else int(c.sum())
        for c in columns
    ]
    smallest = int(min(members))
    n = min(int(n_splits), smallest)
    note = None
    if n < n_splits:
        note = (
            f"{n} inner folds instead of {n_splits}: the smallest class has "
            f"{smallest} {'patients' if groups is not None else 'members'}"
        )
    if n < 2:
        return InnerFolds([], 0, groups is not None, note + "; not tuned")
    if encoded is None:
        from ..model_selection import IterativeStratifiedKFold

        cv = IterativeStratifiedKFold(n, random_state=int(seed))
        splits = list(cv.split(np.zeros((len(y), 1)), y, groups))
    else:
        cv = make_cv(n, groups=groups, random_state=int(seed))
        splits = list(cv.split(np.zeros((len(y), 1)), encoded, groups))
    return InnerFolds(splits, n, groups is not None, note)


def tune_by_cv(
    candidates: list,
    fit: Callable[[object, np.ndarray], object],
    score: Callable[[object, np.ndarray], float],
    folds: InnerFolds,
    n_jobs: int | None = None,
):
    """Choose among ``candidates`` by their mean inner-fold score.

    ``fit(candidate, train_index)`` returns a model fitted on those training
    images; ``score(model, held_out_index)`` its score there. The choice is the
    one selection loop (:func:`~skmedtl.model_selection.select_on_validation`,
    first among equals); without folds the first candidate is kept, unscored.

    Parameters
    ----------
    candidates : list
    fit, score : callable
    folds : InnerFolds
    n_jobs : int or None, default=None
        Threads fitting (candidate, fold) pairs at the same time (``None``:
        one), each under one BLAS / OpenMP thread (``threadpoolctl``), so that
        ``n_jobs`` threads use ``n_jobs`` cores: a logistic regression's BLAS
        on two threads spent 5x the CPU time of one on a busy 2-core machine.
        The fits must release the GIL to gain (scikit-learn's trees and
        libsvm, XGBoost, BLAS do). Every pair is fitted and scored as one at a
        time would: the choice and its score do not depend on ``n_jobs``.

    Returns
    -------
    candidate, inner_score : object, float
    """
    if not folds.splits:
        return candidates[0], float("nan")
    pairs = [(c, tr, te) for c in candidates for tr, te in folds.splits]
    values = _map(lambda pair: score(fit(pair[0], pair[1]), pair[2]), pairs, n_jobs)
    k = len(folds.splits)
    means = []
    for i in range(len(candidates)):
        mine = values[i * k : (i + 1) * k]
        means.append(float(np.nanmean(mine)) if np.isfinite(mine).any() else np.nan)
    best, score = _first_best(means)
    return candidates[best], score


def tune_out_of_bag(
    candidates: list,
    fit: Callable[[object], object],
    score: Callable[[object], float],
    n_jobs: int | None = None,
):
    """Choose among ``candidates`` by the out-of-bag score of their fits.

    ``fit(candidate)`` returns a bagged model fitted on every training image
    with its out-of-bag predictions (a ``RandomForestClassifier`` with
    ``oob_score=True``); ``score(model)`` scores those. No image informs its
    own score (its trees did not draw it), so this is a score inside the
    training images, like the inner folds, at the cost of one fit per
    candidate instead of ``folds + 1``. The same selection loop as
    :func:`tune_by_cv` (first among equals).

    Returns
    -------
    candidate, inner_score, model
        ``model``: the chosen candidate's fit (nothing to refit).
    """
    models = _map(fit, candidates, n_jobs)
    best, inner = _first_best([score(m) for m in models])
    return candidates[best], inner, models[best]


def tune_forest_out_of_bag(pipe, candidates: list, X, y, score_of, n_jobs=None):
    """:func:`tune_out_of_bag` of a head pipeline whose step ``clf`` is a forest.

    ``score_of(model, y, proba)`` scores the out-of-bag probabilities of the
    training images (those every tree drew have none and are left out). The
    chosen forest is returned without its out-of-bag predictions.
    """
    from sklearn.base import clone

    def fit(params):
        return clone(pipe).set_params(**params, clf__oob_score=True).fit(X, y)

    def score(model) -> float:
        proba = model.named_steps["clf"].oob_decision_function_
        scored = np.isfinite(proba).all(axis=1)
        return score_of(model, y[scored], proba[scored])

    params, inner, model = tune_out_of_bag(candidates, fit, score, n_jobs)
    drop_out_of_bag(model.named_steps["clf"])
    return params, inner, model


def drop_out_of_bag(forest) -> None:
    """The forest as a plain fit makes it: the out-of-bag predictions (one row
    per training image) are not saved with the model. Its trees are those of
    ``oob_score=False``: scoring draws nothing from the forest's random state."""
    forest.set_params(oob_score=False)
    for name in ("oob_score_", "oob_decision_function_"):
        forest.__dict__.pop(name, None)


def _first_best(scores: list) -> tuple[int, float]:
    """The index and value of the best score, first among equals: the one
    selection loop (:func:`~skmedtl.model_selection.select_on_validation`)."""
    best = select_on_validation(
        range(len(scores)), fit=scores.__getitem__, score=lambda v: v
    )
    return best.candidate, float(best.score)


def _map(function: Callable, items: list, n_jobs: int | None) -> list:
    """``[function(item) for item in items]`` in ``n_jobs`` threads, each with
    one BLAS / OpenMP thread."""
    from joblib import Parallel, delayed
    from threadpoolctl import threadpool_limits

    n_jobs = 1 if n_jobs is None else int(n_jobs)
    with threadpool_limits(1):
        if n_jobs == 1 or len(items) < 2:
            return [function(item) for item in items]
        return Parallel(n_jobs=n_jobs, prefer="threads")(
            delayed(function)(item) for item in items
        )


def head_workers(n_jobs: int | None) -> int:
    """Threads for a hybrid head's inner fits: the run's PyTorch threads.

    The study's ``n_threads`` (the usable cores by default) is how many cores the run
    may use; the cells run one after the other, so a head's tuning may use them
    all: that many fits at once, each with ``n_jobs`` threads of its own.
    """
    import torch

    return max(1, torch.get_num_threads() // max(1, int(n_jobs or 1)))


#: Head parameters whose value changes how fast the head fits, not what it
#: learns: a random forest draws every tree's seed before fitting any (its
#: trees are fitted in threads). Not the calibrated SVM (its ``n_jobs`` starts
#: processes: 2x slower for the demo's refit) nor XGBoost (its thread count can
#: change its sums, and its OpenMP threads spin on a busy CPU).
_PARALLEL_FIT = {"RandomForestClassifier": "clf__n_jobs"}


def refit(fit, params: dict, pipe, workers: int):
    """``fit(params)`` on every training image, on ``workers`` threads where the
    head learns the same whatever its threads (:data:`_PARALLEL_FIT`).

    The parameter is set back afterwards, so the fitted model predicts (the
    forest sums its trees in order) and is saved as if fitted on one thread.
    """
    key = _PARALLEL_FIT.get(type(pipe.named_steps["clf"]).__name__)
    if key is None or workers < 2 or key in params:
        return fit(params)
    before = pipe.get_params()[key]
    if before not in (None, 1):  # the user's own n_jobs: left as it is
        return fit(params)
    model = fit({**params, key: workers})
    return model.set_params(**{key: before})
