"""The one resampler: its random stream, its vectorised statistics, its NaN rule.

The reference loops below are the resampling loops the resampler replaced
(``rng.choice`` within each class, class by class, resample by resample;
``rng.randint(n, size=n)`` unstratified), scored with scikit-learn's metrics:
the vectorised code must give the same numbers.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    recall_score,
    roc_auc_score,
)
from sklearn.utils import check_random_state

from skmedtl.metrics import (
    BOOTSTRAP_SEED,
    CONFIDENCE,
    bootstrap,
    bootstrap_ci,
    bootstrap_indices,
    classification_report,
    multilabel_report,
    paired_bootstrap,
    per_class_auc,
    resample_counts,
    weighted_auc,
)
from tests._helpers import slow_except


def loop_indices(y, n_resamples, seed, stratify=True):
    """The resampling loop every copy used before the resampler."""
    rng = check_random_state(seed)
    if not stratify:
        return np.array([rng.randint(len(y), size=len(y)) for _ in range(n_resamples)])
    strata = [np.flatnonzero(y == c) for c in np.unique(y)]
    return np.array(
        [
            np.concatenate([rng.choice(s, size=len(s)) for s in strata])
            for _ in range(n_resamples)
        ]
    )


def interval(draws, confidence=CONFIDENCE):
    alpha = (1 - confidence) / 2
    return np.nanquantile(draws, [alpha, 1 - alpha], axis=0)


@pytest.fixture
def binary():
    rng = np.random.default_rng(3)
    y = np.repeat([0, 1], [70, 43])
    rng.shuffle(y)
    a = np.round(np.clip(0.3 * y + rng.normal(0.4, 0.25, len(y)), 0, 1), 2)  # ties
    b = np.round(np.clip(0.15 * y + rng.normal(0.4, 0.25, len(y)), 0, 1), 2)
    return y, a, b


@pytest.mark.parametrize("stratify", [True, False])
@pytest.mark.parametrize("sizes", [(1, 18, 18, 10), (1200, 3)])  # both draw paths
def test_indices_are_the_stream_of_the_loops_they_replaced(stratify, sizes):
    y = np.repeat(list("zabc"[: len(sizes)]), sizes)
    np.random.default_rng(0).shuffle(y)
    rng_new, rng_old = check_random_state(4), check_random_state(4)
    new = bootstrap_indices(y, 23, random_state=rng_new, stratify=stratify)
    old = loop_indices(y, 23, rng_old, stratify)
    np.testing.assert_array_equal(new, old)
    # a RandomState passed in is left where the loop left it
    assert rng_new.randint(10**9) == rng_old.randint(10**9)


def test_stratified_resamples_keep_every_class_count():
    y = np.repeat(["x", "y", "z"], [1, 5, 30])
    idx = bootstrap_indices(y, 300)
    for c in np.unique(y):
        assert ((y[idx] == c).sum(axis=1) == (y == c).sum()).all()
    # a one-sample class is drawn as itself in every resample: no empty class
    assert (idx[:, 0] == np.flatnonzero(y == "x")[0]).all()


def test_unstratified_stream_does_not_depend_on_batch_size(binary):
    y, a, _ = binary

    def auc(indices):
        return weighted_auc(y == 1, a, resample_counts(indices, len(y)))

    whole = bootstrap(auc, y, n_resamples=40, stratify=False, batched=True)
    pieces = bootstrap(
        auc, y, n_resamples=40, stratify=False, batched=True, batch_size=7
    )
    one_by_one = bootstrap(
        lambda idx: roc_auc_score(y[idx], a[idx]), y, n_resamples=40, stratify=False
    )
    np.testing.assert_array_equal(whole.draws, pieces.draws)
    np.testing.assert_allclose(whole.draws, one_by_one.draws, rtol=0, atol=1e-15)


def test_weighted_auc_is_roc_auc_of_every_resample(binary):
    y, a, _ = binary
    idx = bootstrap_indices(y, 200, random_state=1, stratify=False)
    expected = [
        roc_auc_score(y[i], a[i]) if len(np.unique(y[i])) == 2 else np.nan for i in idx
    ]
    got = weighted_auc(y == 1, a, resample_counts(idx, len(y)))
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-14)
    assert weighted_auc(y == 1, a) == pytest.approx(roc_auc_score(y, a), abs=1e-15)
    assert np.isnan(weighted_auc([1, 1, 1], [0.2, 0.3, 0.1]))


@pytest.mark.slow
def test_classification_report_equals_the_loop_with_sklearn_metrics(binary):
    y, a, _ = binary
    report = classification_report(y, a, threshold=0.5, n_bootstraps=300)
    pred = (a >= 0.5).astype(int)
    draws = []
    for i in loop_indices(y, 300, BOOTSTRAP_SEED):
        yy, pp, ss = y[i], pred[i], a[i]
        draws.append(
            [
                accuracy_score(yy, pp),
                balanced_accuracy_score(yy, pp),
                roc_auc_score(yy, ss),
                recall_score(yy, pp),
                recall_score(yy, pp, pos_label=0),
                np.mean((ss - yy) ** 2),
            ]
        )
    low, high = interval(np.array(draws))
    names = ["accuracy", "balanced_accuracy", "auc", "sensitivity", "specificity"]
    for j, name in enumerate([*names, "brier"]):
        est, lo, hi = report.metrics[name]
        assert (lo, hi) == pytest.approx((low[j], high[j]), abs=1e-12), name
    assert report["auc"] == pytest.approx(roc_auc_score(y, a), abs=1e-15)


@pytest.mark.parametrize(
    "metric",
    slow_except("accuracy", ["auc", "accuracy", "balanced_accuracy"]),
)
def test_paired_bootstrap_equals_the_loop(binary, metric):
    y, a, b = binary
    fn = {
        "auc": roc_auc_score,
        "accuracy": lambda yy, s: accuracy_score(yy, s >= 0.5),
        "balanced_accuracy": lambda yy, s: balanced_accuracy_score(yy, s >= 0.5),
    }[metric]
    pa, pb = (a, b) if metric == "auc" else ((a >= 0.5) * 1, (b >= 0.5) * 1)
    r = paired_bootstrap(y, pa, pb, metric=metric, n_resamples=400, random_state=5)
    diffs = np.array([fn(y[i], a[i]) - fn(y[i], b[i]) for i in loop_indices(y, 400, 5)])
    low, high = interval(diffs)
    assert (r.ci_low, r.ci_high) == pytest.approx((low, high), abs=1e-12)
    assert r.variance == pytest.approx(np.var(diffs, ddof=1), rel=1e-10)
    assert r.difference == pytest.approx(fn(y, a) - fn(y, b), abs=1e-15)


@pytest.mark.slow
def test_per_class_auc_and_bootstrap_ci_equal_the_loop():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 3, 90)
    proba = rng.dirichlet([1, 1, 1], 90) + 0.4 * np.eye(3)[y]
    proba /= proba.sum(axis=1, keepdims=True)
    result = per_class_auc(y, proba, n_resamples=200, random_state=3)
    idx = loop_indices(y, 200, 3)
    for c in range(3):
        draws = [roc_auc_score(y[i] == c, proba[i, c]) for i in idx]
        assert result[c][1:] == pytest.approx(tuple(interval(draws)), abs=1e-12)
        via_bootstrap_ci = bootstrap_ci(
            y,
            proba,
            lambda yy, pp, c=c: roc_auc_score(yy == c, pp[:, c]),
            n_resamples=200,
            random_state=3,
        )
        assert result[c] == pytest.approx(via_bootstrap_ci, abs=1e-12)


def test_multilabel_report_equals_the_unstratified_loop():
    rng = np.random.default_rng(0)
    Y = (rng.random((80, 3)) < [0.5, 0.3, 0.0]).astype(int)
    Y[[5, 40], 2] = 1  # two positives: some resamples draw neither
    S = np.clip(0.3 * Y + rng.random(Y.shape) * 0.7, 0, 1)
    report = multilabel_report(Y, S, n_bootstraps=300, random_state=2)
    draws = []
    for i in loop_indices(np.zeros(80), 300, 2, stratify=False):
        draws.append(
            [
                roc_auc_score(Y[i, j], S[i, j])
                if 0 < Y[i, j].sum() < len(i)
                else np.nan
                for j in range(3)
            ]
        )
    low, high = interval(np.array(draws))
    for j in range(3):
        _, lo, hi = report.per_label[str(j)]["auc"]
        assert (lo, hi) == pytest.approx((low[j], high[j]), abs=1e-12)
    # the rare label loses its positives in some resamples: counted in a note
    missing = int(np.isnan(np.array(draws)[:, 2]).sum())
    assert missing > 0
    assert f"AUC undefined in {missing} of 300 resamples" in " ".join(report.notes)


def test_nan_scores_are_an_error_before_resampling(binary):
    y, a, b = binary
    a = a.copy()
    a[3] = np.nan
    with pytest.raises(ValueError, match="pred_a contains NaN.*remove those rows"):
        paired_bootstrap(y, a, b)
    with pytest.raises(ValueError, match="y_score contains NaN"):
        classification_report(y, a)
    with pytest.raises(ValueError, match="pred contains NaN"):
        bootstrap_ci(y, a, roc_auc_score)
    with pytest.raises(ValueError, match="y_true contains NaN"):
        bootstrap_indices(np.where(y == 1, np.nan, 0.0), 10)
    with pytest.raises(ValueError, match="Y_score contains NaN"):
        multilabel_report(np.c_[y, y], np.c_[a, b])


def test_undefined_resamples_are_left_out_and_counted(binary):
    y, a, _ = binary
    # a statistic that is undefined whenever sample 0 is drawn
    r = bootstrap(lambda idx: np.nan if 0 in idx else a[idx].mean(), y, n_resamples=200)
    drawn = np.array([0 in i for i in bootstrap_indices(y, 200)])
    assert r.n_valid == int((~drawn).sum())
    kept = np.array(
        [
            a[i].mean()
            for i, d in zip(bootstrap_indices(y, 200), drawn, strict=True)
            if not d
        ]
    )
    assert (r.low, r.high) == pytest.approx(tuple(interval(kept)), abs=1e-15)


def test_bad_arguments_name_the_parameter(binary):
    y, a, _ = binary
    with pytest.raises(ValueError, match="n_resamples must be at least 1"):
        bootstrap_indices(y, 0)
    with pytest.raises(TypeError, match="n_resamples must be an int"):
        bootstrap_indices(y, 2.5)
    with pytest.raises(ValueError, match="confidence must be in"):
        bootstrap(lambda i: 0.0, y, confidence=95)
    with pytest.raises(ValueError, match="non-empty 1-D"):
        bootstrap_indices(np.c_[y, y], 5)
