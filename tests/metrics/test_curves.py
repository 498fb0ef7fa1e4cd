"""Learning-curve crossover (skmedtl.metrics.learning_curve_crossover)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm
from sklearn.metrics import roc_auc_score

from skmedtl.metrics import holm, learning_curve_crossover, pooled_delong_test

SIZES = [20, 50, 100, 200, 400, 800]


def _auc_a(n):  # needs more data, higher plateau (fine-tuning)
    return 0.95 - 1.2 / np.sqrt(n)


def _auc_b(n):  # learns fast, lower plateau (a frozen hybrid)
    return 0.85 - 0.5 / np.sqrt(n)


TRUE_CROSSOVER = 49.0  # 0.10 = 0.7 / sqrt(n)


def _curves(seed, n_test=1000, repeats=3, jitter=0.01):
    """Binormal scores on one test set with the given AUCs. Each repeat (a
    training subsample) moves its AUC a little; A and B share an image
    difficulty term, so their scores are correlated (paired)."""
    rng = np.random.default_rng(seed)
    y = np.repeat([0, 1], n_test // 2)
    difficulty = rng.normal(0, 1, n_test)

    def scores(auc):
        aucs = np.clip(auc + rng.normal(0, jitter, repeats), 0.51, 0.99)
        shift = np.sqrt(2) * norm.ppf(aucs)[:, None] * y
        noise = 0.5 * difficulty + np.sqrt(0.75) * rng.normal(0, 1, (repeats, n_test))
        return shift + noise

    a = [scores(_auc_a(n)) for n in SIZES]
    b = [scores(_auc_b(n)) for n in SIZES]
    return y, a, b


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_recovers_the_crossover_of_a_slow_learner_with_a_higher_plateau(seed):
    y, a, b = _curves(seed)
    r = learning_curve_crossover(y, SIZES, a, b, name_a="fine-tune", name_b="hybrid")
    assert r.method == "power law"
    assert TRUE_CROSSOVER * 0.7 < r.crossover_size < TRUE_CROSSOVER * 1.4
    # significant from a size past the crossover, on to the largest
    assert r.significant_from is not None and r.significant_from > TRUE_CROSSOVER
    assert all(c.a_better for c in r.comparisons if c.size >= r.significant_from)
    first = r.comparisons[0]  # the hybrid is ahead with 20 images
    assert first.difference < 0 and not first.a_better
    assert "fine-tune is significantly better than hybrid" in r.note
    assert str(r.significant_from) in str(r)


def test_per_size_statistics_are_pooled_delong_and_holm():
    y, a, b = _curves(3)
    r = learning_curve_crossover(
        y, SIZES[::-1], a[::-1], b[::-1], repeat_variance=False
    )
    assert [c.size for c in r.comparisons] == SIZES  # sorted
    p = []
    for c, sa, sb in zip(r.comparisons, a, b, strict=True):
        d = pooled_delong_test(y, sa.T, sb.T)
        assert c.difference == pytest.approx(d.difference)
        assert c.se == pytest.approx(d.se)
        assert c.p_value == pytest.approx(d.p_value)
        assert c.auc_a == pytest.approx(np.mean([roc_auc_score(y, s) for s in sa]))
        assert c.n_repeats == 3
        p.append(d.p_value)
    assert [c.p_holm for c in r.comparisons] == pytest.approx(holm(p).tolist())


def test_repeat_variance_widens_the_standard_error():
    y, a, b = _curves(4, jitter=0.03)
    plain = learning_curve_crossover(y, SIZES, a, b, repeat_variance=False)
    wide = learning_curve_crossover(y, SIZES, a, b)
    for c, d, sa, sb in zip(plain.comparisons, wide.comparisons, a, b, strict=True):
        diffs = [
            roc_auc_score(y, u) - roc_auc_score(y, v)
            for u, v in zip(sa, sb, strict=True)
        ]
        assert d.se**2 == pytest.approx(c.se**2 + np.var(diffs, ddof=1) / 3)


def test_no_crossover_within_the_sizes_run():
    y, a, b = _curves(5)
    r = learning_curve_crossover(y, SIZES, b, a)  # the fast learner as A
    assert r.significant_from is None
    assert r.crossover_size is None
    assert "not significantly better" in r.note
    r = learning_curve_crossover(y, SIZES[-3:], a[-3:], b[-3:])  # A ahead from 200
    assert r.method == "interpolation" and r.crossover_size is None
    assert "ahead from the smallest size" in r.note


def test_interpolated_crossover_with_few_sizes():
    y, a, b = _curves(6)
    r = learning_curve_crossover(
        y, [20, 100, 400], [a[0], a[2], a[4]], [b[0], b[2], b[4]]
    )
    assert r.method == "interpolation"
    assert 20 < r.crossover_size < 100


@pytest.mark.parametrize(
    ("sizes", "n_entries", "match"),
    [
        ([10.5, 20], 2, "integers"),
        ([10, 10], 2, "distinct"),
        ([10, 20], 3, "one entry per size"),
    ],
)
def test_bad_input(sizes, n_entries, match):
    y = np.repeat([0, 1], 10)
    scores = [np.zeros((2, 20))] * n_entries
    with pytest.raises(ValueError, match=match):
        learning_curve_crossover(y, sizes, scores, scores)


def test_scores_must_be_one_per_test_image():
    y = np.repeat([0, 1], 10)
    with pytest.raises(ValueError, match=r"scores_a\[0\]"):
        learning_curve_crossover(y, [10], [np.zeros((2, 19))], [np.zeros((2, 20))])
