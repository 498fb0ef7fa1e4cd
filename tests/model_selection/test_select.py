"""select_on_validation: the one selection loop."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import ParameterGrid

from skmedtl.model_selection import Selection, select_on_validation


def test_the_highest_score_wins_and_the_first_among_equals():
    fitted = []

    def fit(c):
        fitted.append(c)
        return {"c": c}

    best = select_on_validation([1, 5, 3, 5], fit, lambda m: m["c"])
    assert isinstance(best, Selection)
    assert (best.candidate, best.index, best.score) == (5, 1, 5)
    assert best.model == {"c": 5} and best.scores == (1, 5, 3, 5)
    assert fitted == [1, 5, 3, 5] and best.n_candidates == 4


def test_nan_never_wins_over_a_number():
    scores = {0: np.nan, 1: 0.2, 2: np.nan}
    best = select_on_validation([0, 1, 2], lambda c: c, lambda m: scores[m])
    assert best.candidate == 1
    only_nan = select_on_validation([0, 2], lambda c: c, lambda m: scores[m])
    assert only_nan.candidate == 0 and np.isnan(only_nan.score)


def test_no_candidate_is_an_error():
    with pytest.raises(ValueError, match="at least one candidate"):
        select_on_validation([], lambda c: c, lambda m: 0.0)


def test_a_grid_selected_on_validation_matches_an_explicit_loop():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 5))
    y = (X[:, 0] + rng.normal(0, 1.5, 120) > 0).astype(int)
    Xt, yt, Xv, yv = X[:80], y[:80], X[80:], y[80:]
    grid = list(ParameterGrid({"C": [0.001, 0.01, 0.1, 1.0]}))
    best = select_on_validation(
        grid,
        fit=lambda p: LogisticRegression(**p).fit(Xt, yt),
        score=lambda m: roc_auc_score(yv, m.predict_proba(Xv)[:, 1]),
    )
    aucs = [
        roc_auc_score(yv, LogisticRegression(**p).fit(Xt, yt).predict_proba(Xv)[:, 1])
        for p in grid
    ]
    assert best.scores == pytest.approx(aucs)
    assert best.candidate == grid[int(np.argmax(aucs))]
