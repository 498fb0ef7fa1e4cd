"""External validation and distribution shift (skmedtl.metrics._external)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, recall_score, roc_auc_score

from skmedtl.metrics import (
    EXTERNAL_METRICS,
    ProbabilityCalibrator,
    bootstrap_indices,
    brier_score,
    distribution_shift,
    expected_calibration_error,
    external_validation,
    intensity_statistics,
    multilabel_report,
    percentile_interval,
    resample_counts,
)
from skmedtl.metrics._calibration import batched_ece


def _binary_sets(seed=0, n_int=200, n_ext=150, d_int=1.5, d_ext=0.7):
    rng = np.random.default_rng(seed)
    yi = np.repeat([0, 1], [n_int // 2, n_int - n_int // 2])
    ye = np.repeat([0, 1], [n_ext - n_ext // 3, n_ext // 3])
    pi = 1 / (1 + np.exp(-((2 * yi - 1) * d_int + rng.normal(0, 1, n_int))))
    pe = 1 / (1 + np.exp(-((2 * ye - 1) * d_ext + rng.normal(0, 1, n_ext))))
    return yi, pi, ye, pe


def _independent(y, p, threshold):
    pred = (p >= threshold).astype(int)
    return {
        "auc": roc_auc_score(y, p),
        "accuracy": accuracy_score(y, pred),
        "balanced_accuracy": (recall_score(y, pred) + recall_score(1 - y, 1 - pred))
        / 2,
        "sensitivity": recall_score(y, pred),
        "specificity": recall_score(1 - y, 1 - pred),
        "brier": brier_score(y, p),
        "ece": expected_calibration_error(y, p),
    }


def test_binary_estimates_match_independent_computations():
    yi, pi, ye, pe = _binary_sets()
    r = external_validation(yi, pi, ye, pe, threshold=0.4, n_resamples=200)
    expected_i, expected_e = _independent(yi, pi, 0.4), _independent(ye, pe, 0.4)
    assert [s.metric for s in r.metrics] == list(EXTERNAL_METRICS)
    for name in EXTERNAL_METRICS:
        s = r[name]
        assert s.internal.estimate == pytest.approx(expected_i[name])
        assert s.external.estimate == pytest.approx(expected_e[name])
        assert s.difference.estimate == pytest.approx(
            expected_e[name] - expected_i[name]
        )
        for ci in (s.internal, s.external, s.difference):
            assert ci.low <= ci.estimate <= ci.high or name == "ece"
    assert r.n_internal == 200 and r.n_external == 150
    assert r.class_counts_external == (100, 50)
    assert r.threshold == 0.4 and r.labels == (0, 1)
    assert r["auc"].worse_externally
    assert r.to_frame().loc["auc", "difference"] == r["auc"].difference.estimate
    assert "external - internal" in str(r)


def test_difference_interval_is_the_unpaired_bootstrap():
    """Independent stratified resamples of the two sets from one seeded stream,
    each AUC recomputed by scikit-learn on the materialised resample."""
    yi, pi, ye, pe = _binary_sets(1, n_int=60, n_ext=45)
    r = external_validation(yi, pi, ye, pe, n_resamples=150, random_state=7)
    rng = np.random.RandomState(7)
    idx_i = bootstrap_indices(yi, 150, rng)
    idx_e = bootstrap_indices(ye, 150, rng)
    auc_i = np.array([roc_auc_score(yi[i], pi[i]) for i in idx_i])
    auc_e = np.array([roc_auc_score(ye[i], pe[i]) for i in idx_e])
    low, high = percentile_interval(auc_e - auc_i)
    assert r["auc"].difference.low == pytest.approx(low)
    assert r["auc"].difference.high == pytest.approx(high)
    ece_e = [expected_calibration_error(ye[i], pe[i]) for i in idx_e]
    assert r["ece"].external.low == pytest.approx(percentile_interval(ece_e)[0])
    # unpaired: the difference's spread is that of two independent estimates
    low_i, high_i = percentile_interval(auc_i)
    low_e, high_e = percentile_interval(auc_e)
    width = high - low
    assert width == pytest.approx(np.hypot(high_i - low_i, high_e - low_e), rel=0.25)


def test_multiclass_macro_metrics():
    rng = np.random.default_rng(3)
    y = np.repeat([0, 1, 2], 40)
    logits = np.eye(3)[y] * 2 + rng.normal(0, 1, (120, 3))
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    q = np.roll(p, 1, axis=0) * 0.5 + p * 0.5
    r = external_validation(y, p, y, q, threshold=None, n_resamples=100)
    assert r.threshold is None
    assert r["auc"].internal.estimate == pytest.approx(
        roc_auc_score(y, p, multi_class="ovr", average="macro")
    )
    assert r["accuracy"].external.estimate == pytest.approx(
        accuracy_score(y, q.argmax(axis=1))
    )
    assert r["ece"].internal.estimate == pytest.approx(expected_calibration_error(y, p))
    assert r["brier"].external.estimate == pytest.approx(brier_score(y, q))


def test_calibration_before_and_after_a_validation_fitted_calibrator():
    rng = np.random.default_rng(4)

    def overconfident(n):
        true = rng.uniform(0.05, 0.95, n)
        y = (rng.random(n) < true).astype(int)
        return y, 1 / (1 + np.exp(-3 * np.log(true / (1 - true))))

    y_val, p_val = overconfident(3000)
    yi, pi = overconfident(500)
    ye, pe = overconfident(500)
    calibrator = ProbabilityCalibrator("sigmoid").fit(p_val, y_val)
    r = external_validation(yi, pi, ye, pe, calibrator=calibrator, n_resamples=200)
    after = calibrator.predict_proba(pe)
    assert r.calibration_after.brier.estimate == pytest.approx(brier_score(ye, after))
    assert r.calibration_after.ece.estimate == pytest.approx(
        expected_calibration_error(ye, after)
    )
    assert r.calibration_before.ece.estimate == pytest.approx(
        r["ece"].external.estimate
    )
    assert r.calibration_after.ece.estimate < r.calibration_before.ece.estimate
    assert r.calibration_after.brier.estimate < r.calibration_before.brier.estimate
    assert 0 < r.calibration_after.ece_if_calibrated < 0.1
    assert external_validation(yi, pi, ye, pe, n_resamples=10).calibration_after is None


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"y_external": np.zeros(150, int)}, "no image of class"),
        ({"y_external": np.full(150, 5), "labels": (0, 1)}, "not in labels"),
        ({"threshold": None}, "threshold"),
        ({"threshold": 1.5}, "threshold"),
        ({"proba_external": np.ones((150, 3)) / 3}, "proba_external must have shape"),
        ({"proba_internal": np.full(200, 2.0)}, r"\[0, 1\]"),
        ({"proba_internal": np.full(200, np.nan)}, "NaN"),
        ({"calibrator": object()}, "predict_proba or transform"),
        ({"n_resamples": 0}, "n_resamples"),
    ],
)
def test_bad_input_is_a_clear_error(kwargs, match):
    yi, pi, ye, pe = _binary_sets()
    args = {"y_internal": yi, "proba_internal": pi, "y_external": ye}
    args.update(proba_external=pe, n_resamples=10)
    args.update(kwargs)
    with pytest.raises((ValueError, TypeError), match=match):
        external_validation(**args)


def test_batched_ece_equals_the_ece_of_every_materialised_resample():
    rng = np.random.default_rng(10)
    p = np.round(rng.uniform(0, 1, 83), 1)  # many ties
    y = (rng.random(83) < p).astype(int)
    idx = bootstrap_indices(y, 60, random_state=2)
    got = batched_ece(p, y, resample_counts(idx, 83), n_bins=7)
    expected = [expected_calibration_error(y[i], p[i], n_bins=7) for i in idx]
    assert got == pytest.approx(expected, abs=1e-12)


def test_string_labels_and_two_column_probabilities():
    yi, pi, ye, pe = _binary_sets(11)
    names = np.array(["benign", "malignant"])
    a = external_validation(yi, pi, ye, pe, n_resamples=50)
    b = external_validation(
        names[yi],
        np.column_stack([1 - pi, pi]),
        names[ye],
        np.column_stack([1 - pe, pe]),
        n_resamples=50,
    )
    assert b.labels == ("benign", "malignant")
    for name in EXTERNAL_METRICS:
        assert a[name].difference == b[name].difference
    with pytest.raises(KeyError, match="metrics are"):
        a["f1"]


# -- the must-show: a study-like simulation of one site and a shifted external site


def _images(rng, y, gain, offset):
    """8x8 images: noise, plus a lesion of contrast ``gain`` in the centre for
    positives; ``offset`` brightens the whole image (another scanner)."""
    images = rng.normal(0.0, 1.0, (len(y), 8, 8)) + offset
    images[:, 2:6, 2:6] += gain * y[:, None, None]
    return images


def _features(images):
    centre = images[:, 2:6, 2:6].mean(axis=(1, 2))
    border = (images.sum(axis=(1, 2)) - centre * 16) / 48
    return np.column_stack([centre, border])


def _true_metrics(model, threshold, gain, offset, rng, n=200_000):
    y = np.repeat([0, 1], n // 2)
    p = model.predict_proba(_features(_images(rng, y, gain, offset)))[:, 1]
    pred = p >= threshold
    return {
        "auc": roc_auc_score(y, p),
        "accuracy": float(np.mean(pred == y)),
        "sensitivity": float(pred[y == 1].mean()),
        "specificity": float(1 - pred[y == 0].mean()),
    }


@pytest.mark.slow  # 8-12 s on the shared 2-core machine
def test_drop_interval_covers_the_true_drop_at_the_nominal_rate():
    """One synthetic site: a model is trained once and a threshold chosen on
    validation; its internal and external test sets (lower lesion contrast and
    a brightness offset at the external site) are drawn 200 times. The 95%
    interval of external minus internal must cover the true difference (from
    200,000 images per site) in 90-99% of the simulations."""
    rng = np.random.default_rng(2026)
    internal, external = (0.6, 0.0), (0.35, 0.8)
    y_train = np.repeat([0, 1], 300)
    model = LogisticRegression().fit(
        _features(_images(rng, y_train, *internal)), y_train
    )
    y_val = np.repeat([0, 1], 100)
    p_val = model.predict_proba(_features(_images(rng, y_val, *internal)))[:, 1]
    threshold = float(np.median(p_val))
    truth_i = _true_metrics(model, threshold, *internal, rng)
    truth_e = _true_metrics(model, threshold, *external, rng)
    y_test = np.repeat([0, 1], 100)
    y_ext = np.repeat([0, 1], 80)
    covered = {name: 0 for name in truth_i}
    reps = 200
    for rep in range(reps):
        p_int = model.predict_proba(_features(_images(rng, y_test, *internal)))[:, 1]
        p_ext = model.predict_proba(_features(_images(rng, y_ext, *external)))[:, 1]
        r = external_validation(
            y_test,
            p_int,
            y_ext,
            p_ext,
            threshold=threshold,
            n_resamples=400,
            random_state=rep,
        )
        for name in covered:
            d = r[name].difference
            covered[name] += d.low <= truth_e[name] - truth_i[name] <= d.high
    assert truth_e["auc"] < truth_i["auc"] - 0.05  # a real drop
    coverage = {name: hits / reps for name, hits in covered.items()}
    # 200 repetitions estimate a coverage to about +-0.015 (one SE); the
    # proportions of 80 external positives are coarse, so their bounds are
    # one SE wider. (Seeds 1-3 gave 0.89-0.975 across the four metrics.)
    assert 0.90 <= coverage["auc"] <= 0.99, coverage
    assert 0.90 <= coverage["accuracy"] <= 0.99, coverage
    assert 0.88 <= coverage["sensitivity"] <= 0.99, coverage
    assert 0.88 <= coverage["specificity"] <= 0.99, coverage


# -- distribution shift


def test_mmd_matches_a_direct_computation_and_detects_a_shift():
    rng = np.random.default_rng(5)
    a, b = rng.normal(0, 1, (60, 5)), rng.normal(0.6, 1, (50, 5))
    r = distribution_shift(a, b, n_permutations=300)
    x = np.vstack([a, b])
    d2 = ((x[:, None] - x[None]) ** 2).sum(axis=2)
    h = np.sqrt(np.median(d2[np.triu_indices(110, 1)]))
    k = np.exp(-d2 / (2 * h**2))
    direct = k[:60, :60].mean() + k[60:, 60:].mean() - 2 * k[:60, 60:].mean()
    assert r.bandwidth == pytest.approx(h)
    assert r.mmd2 == pytest.approx(direct)
    assert r.p_value < 0.01
    assert (r.n_internal, r.n_external, r.n_permutations) == (60, 50, 300)
    assert r.intensity_smd is None


def test_mmd_permutation_test_holds_its_level_under_no_shift():
    rng = np.random.default_rng(6)
    p = [
        distribution_shift(
            rng.normal(0, 1, (40, 4)),
            rng.normal(0, 1, (40, 4)),
            n_permutations=99,
            random_state=s,
        ).p_value
        for s in range(60)
    ]
    assert np.mean(np.array(p) <= 0.05) <= 0.15
    assert np.mean(p) == pytest.approx(0.5, abs=0.12)


def test_intensity_statistics_and_standardised_difference():
    rng = np.random.default_rng(7)
    a = [rng.normal(0.3, 0.1, (6, 5)) for _ in range(30)]
    b = [rng.normal(0.5, 0.1, (4, 4, 3)) for _ in range(20)]  # another size
    stats = intensity_statistics(a)
    pixels = np.concatenate([x.ravel() for x in a])
    assert stats.mean == pytest.approx(pixels.mean())
    assert stats.sd == pytest.approx(pixels.std())
    assert dict(stats.percentiles)[50.0] == pytest.approx(np.median(pixels))
    r = distribution_shift(
        rng.normal(0, 1, (30, 3)), rng.normal(0, 1, (20, 3)), a, b, n_permutations=20
    )
    mi = np.array([x.mean() for x in a])
    me = np.array([x.mean() for x in b])
    smd = (me.mean() - mi.mean()) / np.sqrt((mi.var(ddof=1) + me.var(ddof=1)) / 2)
    assert r.intensity_smd == pytest.approx(smd)
    assert r.intensity_smd > 2
    assert r.intensity_external.n_images == 20


def test_distribution_shift_subsamples_large_sets():
    rng = np.random.default_rng(8)
    r = distribution_shift(
        rng.normal(0, 1, (300, 3)),
        rng.normal(0, 1, (40, 3)),
        max_samples=100,
        n_permutations=10,
    )
    assert (r.n_internal, r.n_external) == (100, 40)


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((np.zeros((5, 3)), np.zeros((5, 4))), "same backbone"),
        ((np.zeros(5), np.zeros((5, 4))), "2-D"),
        ((np.zeros((5, 3)), np.zeros((5, 3)), [np.zeros(3)]), "together"),
        ((np.full((5, 3), np.nan), np.zeros((5, 3))), "NaN"),
    ],
)
def test_distribution_shift_bad_input(args, match):
    with pytest.raises(ValueError, match=match):
        distribution_shift(*args)


def test_intensity_statistics_bad_input():
    with pytest.raises(ValueError, match="empty"):
        intensity_statistics([])
    with pytest.raises(ValueError, match="Image 1"):
        intensity_statistics([np.zeros(3), np.full(3, np.nan)])


def _multilabel_sets(seed=12, n_labels=3):
    rng = np.random.default_rng(seed)

    def draw(n, d):
        y = (rng.random((n, n_labels)) < 0.3).astype(int)
        p = 1 / (1 + np.exp(-((2 * y - 1) * d + rng.normal(0, 1, (n, n_labels)))))
        return y, p

    return (*draw(120, 1.5), *draw(90, 0.8))


def test_multilabel_matches_multilabel_report_and_the_unstratified_bootstrap():
    yi, pi, ye, pe = _multilabel_sets()
    thr = [0.4, 0.5, 0.6]
    r = external_validation(
        yi,
        pi,
        ye,
        pe,
        threshold=thr,
        labels=["a", "b", "c"],
        n_resamples=60,
        random_state=3,
    )
    assert (
        r.multilabel and r.labels == ("a", "b", "c") and r.threshold == (0.4, 0.5, 0.6)
    )
    assert r.class_counts_external == tuple(ye.sum(axis=0).tolist())
    for y, p, part in ((yi, pi, "internal"), (ye, pe, "external")):
        report = multilabel_report(y, p, thresholds=thr, n_bootstraps=10)
        for name in ("auc", "accuracy", "balanced_accuracy", "sensitivity"):
            assert getattr(r[name], part).estimate == pytest.approx(report[name])
        assert getattr(r["brier"], part).estimate == pytest.approx(
            np.mean((p - y) ** 2)
        )
        assert getattr(r["ece"], part).estimate == pytest.approx(
            expected_calibration_error(y.ravel(), p.ravel())
        )
    rng = np.random.RandomState(3)
    idx_i = bootstrap_indices(np.zeros(120), 60, rng, stratify=False)
    idx_e = bootstrap_indices(np.zeros(90), 60, rng, stratify=False)
    auc_i = [
        np.mean([roc_auc_score(yi[i, j], pi[i, j]) for j in range(3)]) for i in idx_i
    ]
    auc_e = [
        np.mean([roc_auc_score(ye[i, j], pe[i, j]) for j in range(3)]) for i in idx_e
    ]
    low, high = percentile_interval(np.subtract(auc_e, auc_i))
    assert (r["auc"].difference.low, r["auc"].difference.high) == pytest.approx(
        (low, high)
    )


def test_multilabel_bad_input():
    yi, pi, ye, pe = _multilabel_sets()
    with pytest.raises(ValueError, match="labels but y_external"):
        external_validation(yi, pi, ye[:, :2], pe[:, :2], n_resamples=10)
    constant = yi.copy()
    constant[:, 1] = 0
    with pytest.raises(ValueError, match="columns"):
        external_validation(constant, pi, ye, pe, n_resamples=10)
    with pytest.raises(ValueError, match="choose_thresholds"):
        external_validation(yi, pi, ye, pe, threshold=None, n_resamples=10)
    with pytest.raises(ValueError, match="indicators"):
        external_validation(yi, pi, ye[:, 0], pe, n_resamples=10)
