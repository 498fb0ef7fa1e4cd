"""The one selection loop: fit every candidate, keep the best on validation.

The role scikit-learn's ``evaluate_candidates`` plays inside its searches, for
skmedtl's fixed validation split: each candidate is fitted (on training data
only) and scored on the validation set; the best score wins, the first
candidate among equals (so the candidates' order is the tie-break), and a NaN
score never wins over a number.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

__all__ = ["Selection", "select_on_validation"]


@dataclass(frozen=True)
class Selection:
    """The outcome of :func:`select_on_validation`.

    Attributes
    ----------
    candidate : object
        The selected candidate.
    model : object
        Its fitted model (what ``fit`` returned).
    score : float
        Its validation score.
    index : int
        Its position among the candidates.
    scores : tuple of float
        Every candidate's validation score, in order.
    """

    candidate: Any
    model: Any
    score: float
    index: int
    scores: tuple

    @property
    def n_candidates(self) -> int:
        """How many candidates were fitted."""
        return len(self.scores)


def select_on_validation(
    candidates: Iterable,
    fit: Callable[[Any], Any],
    score: Callable[[Any], float],
) -> Selection:
    """Fit each candidate and keep the one with the highest validation score.

    Parameters
    ----------
    candidates : iterable
        Hyperparameter settings (dicts, learning rates, ...), tried in order.
    fit : callable
        ``fit(candidate)`` returns a model fitted on the training data.
    score : callable
        ``score(model)``: the model's validation score, higher is better (give
        ``-loss`` for a loss).

    Returns
    -------
    Selection

    Raises
    ------
    ValueError
        When there is no candidate.

    Examples
    --------
    >>> from skmedtl.model_selection import select_on_validation
    >>> best = select_on_validation([1, 3, 2], fit=lambda c: c * 10,
    ...                             score=lambda m: -abs(m - 25))
    >>> best.candidate, best.model, best.scores
    (3, 30, (-15, -5, -5))
    """
    best = None
    scores = []
    for i, candidate in enumerate(candidates):
        model = fit(candidate)
        value = score(model)
        scores.append(value)
        if best is None or value > best[0] or _is_nan(best[0]) and not _is_nan(value):
            best = (value, i, candidate, model)
    if best is None:
        raise ValueError("select_on_validation needs at least one candidate.")
    value, i, candidate, model = best
    return Selection(candidate, model, value, i, tuple(scores))


def _is_nan(value) -> bool:
    try:
        return math.isnan(value)
    except TypeError:
        return False
