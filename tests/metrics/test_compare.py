"""Paired comparisons: DeLong's test, the paired bootstrap and Holm's correction."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.stats import norm
from sklearn.metrics import roc_auc_score

from skmedtl.metrics import (
    bootstrap_ci,
    delong_test,
    holm,
    paired_bootstrap,
    pooled_delong_test,
)

ASAH = Path(__file__).parents[1] / "data" / "asah" / "asah.csv"


def brute_force_delong(y, a, b):
    """DeLong et al. (1988) from the definition: the n_pos x n_neg kernel matrix."""
    pos, neg = y == 1, y == 0
    comps = []
    for s in (a, b):
        x, z = s[pos][:, None], s[neg][None, :]
        psi = (x > z) + 0.5 * (x == z)  # m x n
        comps.append((psi.mean(), psi.mean(axis=1), psi.mean(axis=0)))
    (auc_a, v10_a, v01_a), (auc_b, v10_b, v01_b) = comps
    m, n = pos.sum(), neg.sum()
    s10 = np.cov(np.vstack([v10_a, v10_b]))
    s01 = np.cov(np.vstack([v01_a, v01_b]))
    s = s10 / m + s01 / n
    var = s[0, 0] + s[1, 1] - 2 * s[0, 1]
    return auc_a, auc_b, (auc_a - auc_b) / np.sqrt(var), var


@pytest.mark.parametrize("ties", [False, True])
def test_delong_matches_brute_force_structural_components(ties):
    rng = np.random.default_rng(1)
    y = (rng.random(300) < 0.35).astype(int)
    a = y + rng.normal(0, 1.0, 300)
    b = 0.5 * a + y * 0.3 + rng.normal(0, 0.8, 300)  # correlated with a
    if ties:
        a, b = np.round(a), np.round(b * 2) / 2
    auc_a, auc_b, z, var = brute_force_delong(y, a, b)
    r = delong_test(y, a, b)
    assert r.auc_a == pytest.approx(auc_a, abs=1e-12)
    assert r.auc_b == pytest.approx(auc_b, abs=1e-12)
    assert r.z == pytest.approx(z, abs=1e-9)
    assert r.variance == pytest.approx(var, rel=1e-9)
    assert r.p_value == pytest.approx(2 * norm.sf(abs(z)), abs=1e-12)


def test_delong_variance_agrees_with_paired_bootstrap_variance():
    rng = np.random.default_rng(2)
    n = 3000
    y = np.repeat([0, 1], [1800, 1200])
    a = y + rng.normal(0, 1.2, n)
    b = 0.6 * a + 0.4 * (y + rng.normal(0, 1.2, n))
    r = delong_test(y, a, b)
    boot = paired_bootstrap(y, a, b, metric="auc", n_resamples=2000, random_state=0)
    assert boot.difference == pytest.approx(r.difference, abs=1e-12)
    assert boot.variance == pytest.approx(r.variance, rel=0.10)


def test_delong_reproduces_proc_roc_test_on_asah():
    """pROC's documented example: ``roc.test(roc(aSAH$outcome, aSAH$s100b),
    roc(aSAH$outcome, aSAH$wfns))`` prints Z = -2.209, p-value = 0.02718, AUCs
    0.7313686 and 0.8236789; against ndka: Z = 1.3908, p-value = 0.1643,
    AUC 0.6119580 (pROC's roc.test help page, DeLong's test for two correlated
    ROC curves)."""
    pd = pytest.importorskip("pandas")
    data = pd.read_csv(ASAH)
    poor = (data["outcome"] == "Poor").to_numpy().astype(int)
    r = delong_test(poor, data["s100b"], data["wfns"])
    assert (round(r.auc_a, 7), round(r.auc_b, 7)) == (0.7313686, 0.8236789)
    assert round(r.z, 3) == -2.209
    assert round(r.p_value, 5) == 0.02718
    r = delong_test(poor, data["s100b"], data["ndka"])
    assert round(r.auc_b, 7) == 0.6119580
    assert round(r.z, 4) == 1.3908
    assert round(r.p_value, 4) == 0.1643


def test_delong_rejects_bad_input():
    with pytest.raises(ValueError, match="exactly two classes"):
        delong_test([0, 1, 2, 1], [0.1] * 4, [0.2] * 4)
    with pytest.raises(ValueError, match="score_b must give one score per sample"):
        delong_test([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4], [0.1, 0.2])
    with pytest.raises(ValueError, match="at least two samples of each class"):
        delong_test([0, 1, 1, 1], [0.1, 0.2, 0.3, 0.4], [0.1, 0.2, 0.3, 0.5])
    same = delong_test([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4], [0.1, 0.2, 0.3, 0.4])
    assert same.difference == 0 and same.p_value == 1.0


def test_paired_bootstrap_pairs_resamples_and_is_reproducible():
    rng = np.random.default_rng(3)
    y = np.repeat([0, 1], 60)
    a = y + rng.normal(0, 1, 120)
    same = paired_bootstrap(y, a, a.copy(), n_resamples=200)
    assert (same.difference, same.ci_low, same.ci_high, same.p_value) == (0, 0, 0, 1)
    b = y + rng.normal(0, 1, 120)
    r1 = paired_bootstrap(y, a, b, n_resamples=300, random_state=7)
    r2 = paired_bootstrap(y, a, b, n_resamples=300, random_state=7)
    assert r1 == r2
    assert r1.ci_low <= r1.difference <= r1.ci_high


def test_paired_bootstrap_metrics_by_name_and_callable():
    rng = np.random.default_rng(4)
    y = np.repeat([0, 1, 2], 50)
    good = np.eye(3)[y] * 0.6 + rng.dirichlet([1, 1, 1], 150) * 0.4
    poor = rng.dirichlet([1, 1, 1], 150)
    r = paired_bootstrap(y, good, poor, metric="macro_auc", n_resamples=200)
    assert r.difference > 0.3 and r.p_value < 0.01
    acc = paired_bootstrap(y, good, poor, metric="accuracy", n_resamples=200)
    assert acc.estimate_a == 1.0
    # Several seeds per model: stacked on the second axis, a callable averages.
    seeds_a = np.stack([good, good], axis=1)
    seeds_b = np.stack([poor, good], axis=1)

    def mean_accuracy(yy, p):
        return np.mean([np.mean(p[:, s].argmax(1) == yy) for s in range(p.shape[1])])

    r = paired_bootstrap(y, seeds_a, seeds_b, metric=mean_accuracy, n_resamples=100)
    assert r.metric == "mean_accuracy"
    assert r.difference == pytest.approx((1.0 - acc.estimate_b) / 2)
    with pytest.raises(ValueError, match="macro_auc"):
        paired_bootstrap(y, good[:, 0], poor[:, 0], metric="auc")
    with pytest.raises(ValueError, match="metric must be one of"):
        paired_bootstrap(y, good, poor, metric="f2")
    with pytest.raises(ValueError, match="pred_b must have one entry per sample"):
        paired_bootstrap(y, good, poor[:10], metric="accuracy")


def test_paired_bootstrap_false_positive_rate_near_nominal():
    """Two equally good models: 'significant at 5%' in about 5% of test sets."""
    rng = np.random.default_rng(5)
    hits = 0
    reps = 200
    for _ in range(reps):
        y = np.repeat([0, 1], 50)
        a = y * 0.8 + rng.normal(0, 1, 100)
        b = y * 0.8 + rng.normal(0, 1, 100)
        hits += (
            paired_bootstrap(y, a, b, n_resamples=200, random_state=1).p_value < 0.05
        )
    assert hits / reps <= 0.09  # nominal 0.05; binomial SE 0.015


def test_holm_against_its_definition():
    rng = np.random.default_rng(6)
    p = rng.random(12) ** 3
    m = len(p)
    order = np.argsort(p)
    expected = np.empty(m)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        expected[i] = running
    np.testing.assert_allclose(holm(p), expected)
    assert holm([]).size == 0
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03]), [0.03, 0.06, 0.06])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        holm([0.1, 1.2])


def test_bootstrap_ci_covers_and_keeps_labels():
    y = np.array(["a"] * 30 + ["b"] * 30)
    pred = np.r_[np.zeros(30), np.ones(30)]
    est, low, high = bootstrap_ci(y, pred, lambda yy, p: np.mean(p[yy == "b"]))
    assert (est, low, high) == (1.0, 1.0, 1.0)


def test_pooled_delong_with_one_seed_is_delong():
    rng = np.random.default_rng(4)
    y = (rng.random(150) < 0.4).astype(int)
    a, b = y + rng.normal(0, 1, 150), y + rng.normal(0, 1.4, 150)
    assert pooled_delong_test(y, a, b) == delong_test(y, a, b)


def test_pooled_delong_tests_the_mean_of_per_seed_aucs():
    rng = np.random.default_rng(5)
    y = (rng.random(200) < 0.4).astype(int)
    a = y[:, None] + rng.normal(0, 1, (200, 3))
    b = [y + rng.normal(0, 1.3, 200) for _ in range(2)]  # fewer seeds, as a list
    r = pooled_delong_test(y, a, b)
    auc_a = np.mean([roc_auc_score(y, a[:, s]) for s in range(3)])
    auc_b = np.mean([roc_auc_score(y, s) for s in b])
    assert (r.auc_a, r.auc_b) == pytest.approx((auc_a, auc_b), abs=1e-12)
    assert r.difference == pytest.approx(auc_a - auc_b, abs=1e-12)
    assert (r.n_seeds_a, r.n_seeds_b) == (3, 2)
    # not the AUC of the seed-averaged scores
    assert r.auc_a != pytest.approx(roc_auc_score(y, a.mean(axis=1)), abs=1e-3)
    with pytest.raises(ValueError, match="scores_b must be"):
        pooled_delong_test(y, a, b[0][:50])


def test_pooled_delong_variance_and_size_match_a_simulation():
    # Fixed models (3 seeds each), new test sets: the DeLong variance of the
    # seed-mean difference must match its spread over test sets, and a test of
    # two equally good models must reject about 5% of the time.
    rng = np.random.default_rng(6)
    diffs, variances, rejected = [], [], 0
    for _ in range(400):
        y = (rng.random(160) < 0.4).astype(int)
        signal = y + rng.normal(0, 0.6, 160)  # what every model sees
        a = signal[:, None] + rng.normal(0, 0.8, (160, 3))
        b = signal[:, None] + rng.normal(0, 0.8, (160, 3))
        r = pooled_delong_test(y, a, b)
        diffs.append(r.difference)
        variances.append(r.variance)
        rejected += r.p_value < 0.05
    ratio = np.mean(variances) / np.var(diffs, ddof=1)
    assert 0.8 < ratio < 1.25, ratio
    assert 0.02 <= rejected / 400 <= 0.09, rejected
