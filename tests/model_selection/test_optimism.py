"""selection_optimism: the winner's curse of validation selection, estimated by BBC."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm
from sklearn.metrics import roc_auc_score

from skmedtl.metrics import bootstrap_indices, resample_counts
from skmedtl.model_selection import auc_statistic, selection_optimism


def _equal_configurations(rng, y, m, auc, rho):
    """``m`` binormal scorers with the same true AUC, correlated through the image."""
    d = np.sqrt(2) * norm.ppf(auc)
    shared = rng.standard_normal(len(y))
    noise = rng.standard_normal((m, len(y)))
    return d * y + np.sqrt(rho) * shared + np.sqrt(1 - rho) * noise


@pytest.mark.slow
@pytest.mark.parametrize("rho", [0.3, 0.7])
def test_disclosed_optimism_matches_the_simulated_winners_curse(rho):
    # BreastMNIST's validation split (21 malignant, 57 benign), 9 configurations
    # of equal true AUC: the selected one's validation AUC exceeds the truth by
    # the winner's curse; the estimate must match it on average within .01.
    rng = np.random.default_rng(0)
    y = np.r_[np.ones(21), np.zeros(57)].astype(int)
    true_auc, simulated, disclosed = 0.85, [], []
    for rep in range(150):
        scores = _equal_configurations(rng, y, 9, true_auc, rho)
        result = selection_optimism(y, list(scores), n_resamples=200, random_state=rep)
        assert result.observed == pytest.approx(
            max(roc_auc_score(y, s) for s in scores)
        )
        simulated.append(result.observed - true_auc)
        disclosed.append(result.optimism)
    assert np.mean(simulated) > 0.02  # the curse is real at this size
    assert abs(np.mean(disclosed) - np.mean(simulated)) < 0.01


def test_one_configuration_has_no_optimism():
    rng = np.random.default_rng(1)
    y = np.r_[np.ones(30), np.zeros(50)].astype(int)
    optimism = [
        selection_optimism(
            y, [_equal_configurations(rng, y, 1, 0.8, 0.5)[0]], n_resamples=200
        ).optimism
        for _ in range(100)
    ]
    assert abs(np.mean(optimism)) < 0.01


def test_a_clearly_better_configuration_is_selected_stably():
    rng = np.random.default_rng(2)
    y = np.repeat([0, 1], 60)
    strong = 3.0 * y + rng.standard_normal(120)
    weak = [0.5 * y + rng.standard_normal(120) for _ in range(3)]
    result = selection_optimism(y, [*weak, strong], n_resamples=300)
    assert result.selected == 3
    assert result.selection_rates[3] > 0.99
    assert result.selection_rates.sum() == pytest.approx(1.0)
    assert abs(result.optimism) < 0.02  # nothing to be lucky about
    low, high = result.interval
    assert low <= result.corrected <= high


def test_seeds_are_averaged_as_the_study_selects():
    rng = np.random.default_rng(3)
    y = np.repeat([0, 1], 25)
    seeds = [y + rng.standard_normal(50) for _ in range(3)]
    other = y * 0.2 + rng.standard_normal(50)
    result = selection_optimism(y, [other, seeds], n_resamples=50)
    assert result.selected == 1
    assert result.observed == pytest.approx(
        np.mean([roc_auc_score(y, s) for s in seeds])
    )


def test_auc_statistic_equals_scikit_learn_on_every_resample():
    rng = np.random.default_rng(4)
    n = 40
    y_bin = rng.integers(0, 2, n)
    y_multi = np.r_[np.arange(3), rng.integers(0, 3, n - 3)]
    proba = rng.dirichlet(np.ones(3), n)
    y_ml = rng.integers(0, 2, (n, 2))
    y_ml[:2] = [[0, 0], [1, 1]]
    score_ml = rng.random((n, 2))
    counts = resample_counts(bootstrap_indices(y_bin, 5, random_state=0), n)
    for b, row in enumerate(counts):
        expand = np.repeat(np.arange(n), row)
        got = auc_statistic(y_bin, proba[:, 1], counts)[b]
        assert got == pytest.approx(roc_auc_score(y_bin[expand], proba[expand, 1]))
    ones = np.ones((1, n), dtype=np.int64)
    assert auc_statistic(y_multi, proba, ones)[0] == pytest.approx(
        roc_auc_score(y_multi, proba, multi_class="ovr", average="macro")
    )
    assert auc_statistic(y_ml, score_ml, ones)[0] == pytest.approx(
        roc_auc_score(y_ml, score_ml, average="macro")
    )


def test_bad_inputs_are_named():
    y = np.repeat([0, 1], 10)
    with pytest.raises(ValueError, match=r"scores\[1\].*19 rows but y has 20"):
        selection_optimism(y, [np.zeros(20), np.zeros(19)])
    with pytest.raises(ValueError, match="scores is empty"):
        selection_optimism(y, [])
    with pytest.raises(ValueError, match=r"scores\[0\]"):
        selection_optimism(y, [np.r_[np.nan, np.zeros(19)]])
