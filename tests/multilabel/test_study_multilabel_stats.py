"""Multi-label study statistics: paired comparisons, Brier / ECE, recalibration."""

from __future__ import annotations

import csv
from types import SimpleNamespace

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from skmedtl.metrics import paired_bootstrap
from skmedtl.study import StudyDataset, TransferStudy
from skmedtl.study._per_label import per_label_statistics

from ._synthetic import make_multilabel

N_BOOT = 40


def _ece(y, p, n_bins=10):
    """Equal-mass ECE of one binary label, written out here (not the library's):
    positions split into ``n_bins`` runs in sorted order, then every probability
    moved to the run of its first occurrence, so that ties share a bin."""
    order = np.argsort(p, kind="stable")
    first_bin = {}
    for b, run in enumerate(np.array_split(order, n_bins)):
        for i in run:
            first_bin.setdefault(p[i], b)
    bins = [[i for i in range(len(p)) if first_bin[p[i]] == b] for b in range(n_bins)]
    total = sum(len(b) * abs(y[b].mean() - p[b].mean()) for b in bins if b)
    return total / len(y)


def _holm(p):
    """Holm step-down adjusted p-values, written out."""
    p = np.asarray(p, dtype=float)
    m = len(p)
    order = np.argsort(p)
    out = np.empty(m)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, (m - rank) * p[i])
        out[i] = min(1.0, running)
    return out


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("mlstats")
    parts = []
    for seed, (split, n) in enumerate((("train", 80), ("val", 48), ("test", 60))):
        X, Y = make_multilabel(n, seed=10 + seed, size=28)
        parts.append((X, Y, [split] * n))
    X = np.concatenate([p[0] for p in parts])
    Y = np.concatenate([p[1] for p in parts])
    split = sum((p[2] for p in parts), [])
    data = StudyDataset.from_arrays(X, Y, split=split)
    study = TransferStudy(
        data,
        tmp / "out",
        backbones=["lenet5", "resnet18"],
        approaches=["hybrid-logreg", "hybrid-svm"],
        weights=None,
        input_size=32,
        seeds=2,
        calibrate="sigmoid",
        n_bootstraps=N_BOOT,
        verbose=0,
    )
    results = study.run()
    assert not results.failures, results.failures
    return study, results, tmp / "out"


def _predictions(out):
    with open(out / "predictions.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    labels = [c.removeprefix("p_") for c in rows[0] if c.startswith("p_")]
    labels = [c for c in labels if not c.startswith("calibrated_")]
    by_config: dict = {}
    for r in rows:
        by_config.setdefault(r["config"], {}).setdefault(r["seed"], []).append(r)
    return labels, by_config


def _arrays(rows, labels, prefix="p_"):
    return np.array([[float(r[f"{prefix}{c}"]) for c in labels] for r in rows])


@pytest.mark.slow
def test_paired_comparisons_recompute_from_predictions_csv(study):
    _, results, out = study
    selected = results.recommendation["best"]["config"]
    comparisons = results.comparisons
    assert len(comparisons) == 3
    labels, by_config = _predictions(out)
    Y = np.array(
        [
            [c in r["true_label"].split(";") for c in labels]
            for r in by_config[selected]["0"]
        ],
        dtype=int,
    )

    def packed(config):
        seeds = by_config[config]
        return np.stack([Y] + [_arrays(seeds[s], labels) for s in sorted(seeds)], 1)

    def mean_label_auc(y, p):  # y (first label) is unused: labels ride in slot 0
        Yr = p[:, 0].astype(int)
        return np.mean(
            [
                np.mean(
                    [roc_auc_score(Yr[:, j], p[:, s, j]) for j in range(Yr.shape[1])]
                )
                for s in range(1, p.shape[1])
            ]
        )

    p_values = []
    for c in comparisons:
        assert c["selected"] == selected and c["p_delong"] is None
        boot = paired_bootstrap(
            Y[:, 0],
            packed(selected),
            packed(c["config"]),
            metric=mean_label_auc,
            n_resamples=N_BOOT,
            random_state=0,
        )
        assert c["p_bootstrap"] == pytest.approx(boot.p_value, abs=1e-12)
        assert c["difference"] == pytest.approx(boot.difference, abs=1e-12)
        assert c["ci_low"] == pytest.approx(boot.ci_low, abs=1e-12)
        row = next(r for r in results.table if r["config"] == c["config"])
        assert c["estimate_other"] == pytest.approx(row["auc"], abs=1e-9)
        p_values.append(boot.p_value)
    holm = _holm(p_values)
    for c, p in zip(comparisons, holm, strict=True):
        assert c["p_bootstrap_holm"] == pytest.approx(p)
        assert c["significant"] == (p < 0.05)

    report = (out / "report.md").read_text()
    section = report.split("## Paired comparisons with the selected configuration")[1]
    section = section.split("\n## ")[0]
    assert "p Holm" in section and "stratified by the first label" in section
    for c in comparisons:
        assert f"| {c['config']} |" in section
        p = c["p_bootstrap_holm"]
        assert ("<0.001" if p < 0.001 else f"{p:.3f}") in section


@pytest.mark.slow
def test_brier_and_ece_per_label_and_mean(study):
    _, results, out = study
    labels, by_config = _predictions(out)
    report = (out / "report.md").read_text()
    calibration = report.split("## Calibration")[1].split("\n## ")[0]
    for row in results.table:
        seeds = by_config[row["config"]]
        first = seeds[sorted(seeds)[0]]
        Y = np.array(
            [[c in r["true_label"].split(";") for c in labels] for r in first],
            dtype=int,
        )
        brier, ece, brier_cal = [], [], []
        for s in sorted(seeds):
            P = _arrays(seeds[s], labels)
            C = _arrays(seeds[s], labels, "p_calibrated_")
            brier.append(((P - Y) ** 2).mean(axis=0))
            ece.append([_ece(Y[:, j], P[:, j]) for j in range(len(labels))])
            brier_cal.append(((C - Y) ** 2).mean())
        brier, ece = np.mean(brier, axis=0), np.mean(ece, axis=0)
        assert row["brier"] == pytest.approx(brier.mean())
        assert row["ece"] == pytest.approx(ece.mean())
        assert row["brier_calibrated"] == pytest.approx(np.mean(brier_cal))
        for j in range(len(labels)):
            assert row[f"brier_label_{j}"] == pytest.approx(brier[j])
            assert row[f"ece_label_{j}"] == pytest.approx(ece[j])
        assert row["brier_low"] <= row["brier"] <= row["brier_high"]
        assert row["ece_low"] < row["ece_high"]  # ECE is biased: no containment
        line = next(
            x for x in calibration.splitlines() if x.startswith(f"| {row['config']} |")
        )
        assert f"{row['brier']:.3f} [" in line and f"{row['ece']:.3f} [" in line
        assert "n/a" not in line
    assert "averaged over labels" in calibration
    assert (out / "figures" / "reliability.png").stat().st_size > 0
    assert "labels pooled" in report
    per_label = report.split("## Per-label results")[1]
    assert "| Brier [95% CI] | ECE [95% CI] |" in per_label


def _ctx(Y_val, Y_test, calibrate):
    data = SimpleNamespace(
        labels=np.concatenate([Y_val, Y_test]),
        class_names=[f"l{j}" for j in range(Y_val.shape[1])],
    )
    return SimpleNamespace(
        metric="auc",
        calibrate=calibrate,
        data=data,
        test=np.arange(len(Y_val), len(Y_val) + len(Y_test)),
        profile=SimpleNamespace(n_bootstraps=20),
    )


def test_per_label_temperature_fixes_an_overconfident_model():
    rng = np.random.default_rng(0)

    def draw(n):
        p = rng.uniform(0.05, 0.95, (n, 3))
        Y = (rng.random((n, 3)) < p).astype(int)
        z = np.log(p / (1 - p)) * np.array([3.0, 1.0, 0.4])  # over-, well-, under-
        return Y, 1 / (1 + np.exp(-z))

    Y_val, P_val = draw(1500)
    Y_test, P_test = draw(1500)
    record = per_label_statistics(
        _ctx(Y_val, Y_test, "temperature"), Y_val, P_val, P_test
    )
    extras = record["extras"]
    assert extras["ece_calibrated"][0] < extras["ece"][0] / 2
    assert extras["brier_calibrated"][0] < extras["brier"][0]
    temperatures = record["calibration"]["temperature"]
    assert temperatures[0] == pytest.approx(3.0, rel=0.15)
    assert temperatures[1] == pytest.approx(1.0, rel=0.15)
    assert temperatures[2] == pytest.approx(0.4, rel=0.15)
    none = per_label_statistics(_ctx(Y_val, Y_test, "none"), Y_val, P_val, P_test)
    assert none["test_proba_calibrated"] is None
    assert "ece_calibrated" not in none["extras"]
    assert none["extras"]["ece"] == extras["ece"]


def test_recalibration_needs_both_classes_on_validation():
    Y_val = np.array([[0, 1], [1, 1], [0, 1], [1, 1]])
    P = np.full((4, 2), 0.5)
    with pytest.raises(ValueError, match="label 'l1' has only positive.*--calibrate"):
        per_label_statistics(_ctx(Y_val, Y_val, "isotonic"), Y_val, P, P)


@pytest.mark.slow
def test_methods_paragraph_describes_the_multilabel_analysis(study):
    _, _, out = study
    methods = (out / "report.md").read_text().split("## Methods (for a paper)")[1]
    methods = methods.split("\n## ")[0]
    assert "188 images with 4 binary labels" in methods
    assert "80 training, 48 validation" in methods and "60 test images" in methods
    assert "sigmoid, one calibrator per label" in methods
    assert "Per-label decision thresholds" in methods
    assert "mean per-label AUC (images resampled, stratified by the first" in methods
    assert "DeLong" not in methods
