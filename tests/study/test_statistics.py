"""The study's statistics: selection on validation, paired tests, calibration,
operating points, ordinal grades, the audit trail (predictions.csv, cell keys)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from skmedtl.metrics._report import _binary_auc
from skmedtl.study import StudyDataset, TransferStudy
from skmedtl.study._stats import compare_configurations, pooled_validation
from skmedtl.study._summary import recommend
from tests._helpers import TINY_STUDY

from .conftest import make_images

COMMON = TINY_STUDY  # hybrid approaches only: the epochs do not matter


def _csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


# -- the winner's curse ----------------------------------------------------------------
def _equal_configurations(rng, n_configs=6, n_val=80, n_test=150):
    """Configurations that all have the same true AUC (independent noisy scores)."""
    y_val = np.repeat([0, 1], n_val // 2)
    y_test = np.repeat([0, 1], n_test // 2)
    groups = {}
    for k in range(n_configs):
        sv = 1 / (1 + np.exp(-(0.6 * y_val + rng.normal(0, 1, n_val))))
        st = 1 / (1 + np.exp(-(0.6 * y_test + rng.normal(0, 1, n_test))))
        groups[f"c{k}"] = [
            {
                "val_y": y_val.tolist(),
                "val_proba": np.column_stack([1 - sv, sv]).tolist(),
                "validation": {"score": _binary_auc(y_val == 1, sv)},
                "y_true": y_test.tolist(),
                "test_proba": np.column_stack([1 - st, st]).tolist(),
            }
        ]
    return groups


@pytest.mark.slow
def test_planted_winners_curse_no_false_significance_after_holm():
    """Six configurations of equal true performance, selected on validation:
    after Holm, 'distinguishable from the selected one' in <= ~5% of studies;
    picking the best on test instead would overstate its AUC."""
    rng = np.random.default_rng(0)
    reps, flagged, flagged_boot, gap_test_pick, gap_val_pick = 100, 0, 0, [], []
    for _ in range(reps):
        groups = _equal_configurations(rng)
        rows = []
        for config, recs in groups.items():
            v = pooled_validation(recs, "auc", 50)
            y = np.asarray(recs[0]["y_true"])
            test_auc = _binary_auc(y == 1, np.asarray(recs[0]["test_proba"])[:, 1])
            rows.append(
                {
                    "config": config,
                    "validation_score": v["score"],
                    "validation_low": v["low"],
                    "compute_time_s": 1.0,
                    "auc": test_auc,
                }
            )
        rec = recommend(rows, "auc", "time")
        assert rec["selected_on"] == "validation"
        comparisons = compare_configurations(groups, rec["best"]["config"], "auc", 50)
        assert len(comparisons) == 5
        assert all(c["primary_test"] == "DeLong" for c in comparisons)
        flagged += any(c["significant"] for c in comparisons)
        flagged_boot += any(c["p_bootstrap_holm"] < 0.05 for c in comparisons)
        gap_val_pick.append(rec["best"]["auc"])
        gap_test_pick.append(max(r["auc"] for r in rows))
    # Nominal family-wise error 0.05 (binomial SE 0.022 over 100 studies).
    assert flagged / reps <= 0.07
    assert flagged_boot / reps <= 0.07
    # The winner's curse the study avoids: the best test AUC of six equal models
    # is optimistic; the one selected on validation is not.
    assert np.mean(gap_test_pick) > np.mean(gap_val_pick) + 0.03


@pytest.fixture(scope="module")
def noise_study(tmp_path_factory):
    """Hybrid heads on pure noise: every configuration has true AUC 0.5."""
    rng = np.random.default_rng(1)
    labels = np.tile([0, 1], 40)  # every split balanced
    images = rng.integers(0, 256, (80, 16, 16), dtype=np.uint8)
    split = np.array(["train"] * 40 + ["val"] * 16 + ["test"] * 24)
    data = StudyDataset.from_arrays(images, labels, split=split)
    out = tmp_path_factory.mktemp("noise")
    study = TransferStudy(
        data,
        out,
        approaches=["hybrid-logreg", "hybrid-svm"],
        seeds=2,
        calibrate="temperature",
        **COMMON,
    )
    return study, study.run(), out


@pytest.mark.slow
def test_noise_study_selects_on_validation_and_finds_nothing(noise_study):
    study, results, out = noise_study
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "**Selected on validation**" in report
    assert "selected by its validation AUC" in report
    assert "**exploratory**" in report
    assert not any(c["significant"] for c in results.comparisons)
    assert "0 of 1 configurations are distinguishable" in report
    best = max(results.table, key=lambda r: r["validation_score"])
    assert results.selected["config"] == best["config"]
    # Calibration before / after, bins stated; the operating point; Methods.
    assert "ECE (10 bins)" in report and "ECE after temperature" in report
    assert "## Operating point chosen on validation" in report
    assert "## Methods (for a paper)" in report and "## Limitations" in report
    assert "Holm" in report and "DeLong" in report
    for row in results.table:
        assert row["brier_low"] <= row["brier"] <= row["brier_high"]
        assert row["ece"] >= 0 and row["ece_calibrated"] >= 0
        assert row["n_seeds"] == 2 and row["validation_sd"] is not None


@pytest.mark.slow
def test_predictions_csv_recomputes_the_reported_aucs_exactly(noise_study):
    study, results, out = noise_study
    rows = _csv(out / "predictions.csv")
    n_test = study.data_.n_images("test")
    assert len(rows) == n_test * len(results.cells) == 24 * 2 * 2
    classes = ["0", "1"]
    assert {"p_0", "p_1", "p_calibrated_0", "p_calibrated_1", "cell_key"} <= set(
        rows[0]
    )
    by_key: dict = {}
    for r in rows:
        by_key.setdefault(r["cell_key"], []).append(r)
    cells = {c["key"]: c for c in results.cells}
    assert set(by_key) == set(cells)
    per_config: dict = {}
    for key, rs in by_key.items():
        y = np.array([classes.index(r["true_label"]) for r in rs])
        p = np.array([float(r["p_1"]) for r in rs])
        auc = _binary_auc(y == 1, p)
        assert auc == cells[key]["auc"]  # exactly
        assert auc == pytest.approx(roc_auc_score(y, p), abs=1e-12)
        np.testing.assert_allclose(
            [float(r["p_0"]) + float(r["p_1"]) for r in rs], 1.0, atol=1e-12
        )
        per_config.setdefault(rs[0]["config"], []).append(auc)
    for row in results.table:
        assert np.mean(per_config[row["config"]]) == row["auc"]


@pytest.mark.slow
def test_rerun_recomputes_only_cells_whose_settings_changed(noise_study, monkeypatch):
    study, results, out = noise_study
    same = TransferStudy(
        study.dataset,
        out,
        approaches=["hybrid-logreg", "hybrid-svm"],
        seeds=2,
        calibrate="temperature",
        **COMMON,
    )
    again = same.run()
    assert again.n_run == 0 and again.n_skipped == 4
    manifest = json.loads((out / "study.json").read_text())
    assert manifest["packages"]["numpy"] == np.__version__
    assert manifest["packages"]["scikit-learn"]
    changed = TransferStudy(
        study.dataset,
        out,
        approaches=["hybrid-logreg", "hybrid-svm"],
        seeds=2,
        calibrate="isotonic",
        **COMMON,
    ).run()
    assert changed.n_run == 4 and changed.n_skipped == 0
    import skmedtl

    monkeypatch.setattr(skmedtl, "__version__", "999.0")
    upgraded = TransferStudy(
        study.dataset,
        out,
        approaches=["hybrid-logreg"],
        seeds=2,
        calibrate="isotonic",
        **COMMON,
    ).run()
    assert upgraded.n_run == 2  # an upgrade invalidates every cell


@pytest.mark.slow
def test_operating_point_target_and_ordinal_task(tmp_path):
    rng = np.random.default_rng(2)
    labels = np.repeat([0, 1, 2], 20)
    images = rng.integers(60, 200, (60, 16, 16), dtype=np.uint8)
    for g in range(3):
        images[labels == g, 4:12, 4:12] = 40 + 80 * g + rng.integers(0, 60, (20, 8, 8))
    data = StudyDataset.from_arrays(images, labels, random_state=0)
    results = TransferStudy(
        data, tmp_path / "ord", approaches=["hybrid-logreg"], task="ordinal", **COMMON
    ).run()
    row = results.table[0]
    assert {"qwk", "mae", "auc_class_0", "auc_class_2"} <= set(row)
    assert row["qwk_low"] <= row["qwk"] <= row["qwk_high"]
    report = (tmp_path / "ord" / "report.md").read_text(encoding="utf-8")
    assert "## Per-class AUC (one vs rest)" in report
    assert "## Ordinal agreement" in report and "quadratic weighted kappa" in report

    binary = StudyDataset.from_arrays(
        make_images(rng, np.repeat([0, 1], 30)), np.repeat([0, 1], 30)
    )
    study = TransferStudy(
        binary,
        tmp_path / "sens",
        approaches=["hybrid-logreg"],
        target_sensitivity=0.9,
        **COMMON,
    )
    results = study.run()
    record = next(iter(study._store.latest("cell").values()))
    op = record["operating_point"]
    assert op["rule"] == "sensitivity" and op["target"] == 0.9
    y_val = np.asarray(record["val_y"])
    p_val = np.asarray(record["val_proba"])[:, 1]
    assert np.mean(p_val[y_val == 1] >= op["threshold"]) >= 0.9
    assert "sensitivity >= 0.9" in (tmp_path / "sens" / "report.md").read_text()


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"calibrate": "platt"}, "Unknown calibrate 'platt'"),
        ({"task": "regression"}, "Unknown task 'regression'"),
        ({"target_sensitivity": 0.9, "target_specificity": 0.9}, "not both"),
        ({"target_specificity": 1.5}, "target_specificity must be"),
    ],
)
def test_statistics_options_are_checked(params, message, tiny_npz, tmp_path):
    study = TransferStudy(
        tiny_npz, tmp_path, approaches=["hybrid-logreg"], **COMMON, **params
    )
    with pytest.raises(ValueError, match=message):
        study.plan()


@pytest.mark.slow
def test_seeds_vary_the_svm_calibration_folds(noise_study):
    """A deterministic SVC still differs between seeds: its sigmoid calibration
    folds are drawn with the seed."""
    study, results, out = noise_study
    keys = {c["key"] for c in results.cells}
    records = [
        r
        for k, r in study._store.latest("cell").items()
        if k in keys and r["approach"] == "hybrid-svm"
    ]
    seeds = {r["seed"]: np.asarray(r["test_proba"]) for r in records}
    assert set(seeds) == {0, 1}
    assert not np.allclose(seeds[0], seeds[1])
