"""A study on multi-label data: MedMNIST-layout npz, CSV, splits and the report."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from PIL import Image
from sklearn.metrics import roc_auc_score

from skmedtl.datasets import CHESTMNIST_LABELS, load_medmnist
from skmedtl.study import StudyDataset, load_study_dataset
from tests._helpers import tiny_study, tiny_study_flags

from ._synthetic import LABELS, make_multilabel


def _write_npz(path, sizes=(("train", 96), ("val", 32), ("test", 64))):
    arrays = {}
    for seed, (split, n) in enumerate(sizes):
        X, Y = make_multilabel(n, seed=seed, size=28)
        arrays[f"{split}_images"] = X
        arrays[f"{split}_labels"] = Y.astype(np.uint8)  # MedMNIST: (n, n_labels)
    np.savez(path, **arrays)
    return path


@pytest.mark.slow
def test_study_end_to_end(tmp_path):
    path = _write_npz(tmp_path / "findings.npz")
    study = tiny_study(
        path,
        tmp_path / "out",
        approaches=["hybrid-logreg", "feature_extractor", "fine_tune:1"],
        max_epochs=2,
    )
    results = study.run()
    assert len(results.table) == 3 and not results.failures
    data = study.data_
    assert data.labels.shape == (192, 4)
    summary = data.summary()
    assert summary["n_per_split"] == {"train": 96, "val": 32, "test": 64}
    assert summary["counts"]["test"]["0"] == data.labels[data.split == "test", 0].sum()

    log = [json.loads(line) for line in (tmp_path / "out" / "results.jsonl").open()]
    cells = [r for r in log if r.get("type") == "cell"]
    Y_test = data.labels[data.split == "test"]
    for record in cells:
        assert record["task"] == "multilabel"
        proba = np.asarray(record["y_score"])
        assert proba.shape == (64, 4)
        np.testing.assert_array_equal(record["y_true"], Y_test)
        # The headline AUC is the mean per-label AUC (MedMNIST's), recomputed.
        per_label = [roc_auc_score(Y_test[:, j], proba[:, j]) for j in range(4)]
        assert record["metrics"]["auc"][0] == pytest.approx(np.mean(per_label))
        for j in range(4):
            assert record["per_label"][str(j)]["auc"][0] == pytest.approx(per_label[j])
        # Thresholds come from validation (Youden), not the default 0.5.
        assert len(record["thresholds"]) == 4
        assert record["thresholds"] != [0.5] * 4
        pred = (proba >= np.asarray(record["thresholds"])).astype(int)
        np.testing.assert_array_equal(record["y_pred"], pred)
    hybrid = next(r for r in cells if r["approach"] == "hybrid-logreg")
    # Planted findings are learned by frozen LeNet features + per-label heads.
    assert hybrid["per_label"]["0"]["auc"][0] > 0.7
    assert hybrid["per_label"]["2"]["auc"][0] > 0.7

    report = (tmp_path / "out" / "report.md").read_text()
    assert "## Per-label results" in report
    table = report.split("## Per-label results")[1]
    for j in range(4):
        assert f"\n| {j} | {int(Y_test[:, j].sum())} |" in table
    assert "mean (MedMNIST AUC)" in table
    assert "Youden" in table
    assert (tmp_path / "out" / "report.html").read_text().count("Per-label") >= 1


def test_chestmnist_layout_and_names(tmp_path):
    rng = np.random.default_rng(0)
    arrays = {}
    for split, n in (("train", 40), ("val", 10), ("test", 20)):
        Y = (rng.random((n, 14)) < 0.5).astype(np.uint8)
        arrays[f"{split}_images"] = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        arrays[f"{split}_labels"] = Y
    path = tmp_path / "chestmnist.npz"
    np.savez(path, **arrays)
    images, labels = load_medmnist(path, "val")
    assert images.shape == (10, 28, 28) and labels.shape == (10, 14)
    data = load_study_dataset(path)
    assert data.class_names == list(CHESTMNIST_LABELS)
    assert data.labels.shape == (70, 14)
    assert data.summary()["counts"]["val"]["hernia"] == int(labels[:, 13].sum())


def test_from_arrays_holds_out_patients_by_iterative_stratification():
    X, Y = make_multilabel(120, seed=5, size=28)
    groups = np.repeat(np.arange(40), 3)
    data = StudyDataset.from_arrays(X, Y, groups=groups, random_state=0)
    test = data.split == "test"
    assert 0.15 < test.mean() < 0.25
    assert not set(groups[test]) & set(groups[~test])
    # 8 test patients of 3 images: prevalences move in steps of 1/24.
    np.testing.assert_allclose(Y[test].mean(0), Y.mean(0), atol=0.11)
    assert "iteratively stratified patient-level" in data.test_protocol
    with pytest.raises(ValueError, match="pos_label applies to two-class"):
        StudyDataset.from_arrays(X, Y, pos_label=1)
    bad = Y.copy()
    bad[:, 3] = 0
    with pytest.raises(ValueError, match="Label '3' is never present"):
        StudyDataset.from_arrays(X, bad, random_state=0)


def test_csv_with_several_label_columns(tmp_path):
    X, Y = make_multilabel(30, seed=6, size=28)
    rows = []
    for i, (image, y) in enumerate(zip(X, Y, strict=True)):
        Image.fromarray(image).save(tmp_path / f"img{i}.png")
        rows.append([f"img{i}.png", *y.tolist(), "test" if i < 10 else "train"])
    with open(tmp_path / "data.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["path", *LABELS, "split"])
        writer.writerows(rows)
    data = load_study_dataset(tmp_path / "data.csv")
    assert data.class_names == LABELS
    np.testing.assert_array_equal(data.labels, Y)
    rows[3][2] = "maybe"
    with open(tmp_path / "bad.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["path", *LABELS, "split"])
        writer.writerows(rows)
    with pytest.raises(ValueError, match="line 5: column 'stripes' is 'maybe'"):
        load_study_dataset(tmp_path / "bad.csv")


def test_class_folders_cannot_express_multilabel(tmp_path):
    image = np.random.default_rng(0).integers(0, 256, (16, 16), dtype=np.uint8)
    for cls in ("effusion", "nodule"):
        (tmp_path / cls).mkdir()
        for i in range(3):
            Image.fromarray(image + i).save(tmp_path / cls / f"{cls}{i}.png")
    Image.fromarray(image).save(tmp_path / "nodule" / "shared.png")
    Image.fromarray(image).save(tmp_path / "effusion" / "shared.png")
    with pytest.raises(ValueError, match="cannot express multi-label"):
        load_study_dataset(tmp_path)


def test_cli_study_on_multilabel_npz(tmp_path, capsys):
    from skmedtl.cli import main

    path = _write_npz(
        tmp_path / "chest.npz", sizes=(("train", 48), ("val", 16), ("test", 32))
    )
    code = main(
        [
            "study",
            "--dataset",
            str(path),
            "--out",
            str(tmp_path / "out"),
            "--profile",
            "quick",
            *tiny_study_flags(
                train_input_size=False,
                max_epochs=False,
                approaches=["hybrid-logreg"],
                n_bootstraps=20,
            ),
        ]
    )
    assert code == 0, capsys.readouterr()
    assert "## Per-label results" in (tmp_path / "out" / "report.md").read_text()


@pytest.mark.slow
def test_hybrid_without_validation_split_holds_out_patients_iteratively(tmp_path):
    X, Y = make_multilabel(90, seed=7, size=28)
    groups = np.repeat(np.arange(30), 3)
    data = StudyDataset.from_arrays(X, Y, groups=groups, random_state=0)
    results = tiny_study(
        data, tmp_path / "out", approaches=["hybrid-logreg"], n_bootstraps=20
    ).run()
    selection = results.cells[0]["selection"]  # tuned inside the training images
    scheme = "inner CV of the training images, patient-grouped"
    assert selection["scheme"].endswith(scheme)
    assert selection["inner_folds"] >= 2 and np.isfinite(selection["inner_score"])
    assert (
        "iteratively stratified patient-level"
        in (tmp_path / "out" / "report.md").read_text()
    )


def test_seeds_pool_into_mean_estimates_with_intervals():
    from skmedtl.study._per_label import (
        evaluate_per_label,
        pooled_per_label_metrics,
    )

    rng = np.random.default_rng(0)
    Y = rng.integers(0, 2, (80, 3))
    records = [
        evaluate_per_label(
            Y, np.clip(Y * 0.4 + rng.random(Y.shape) * 0.6, 0, 1), 0.5, "abc", 50
        )
        for _ in range(2)
    ]
    pooled = pooled_per_label_metrics(records, n_bootstraps=50)
    for m, (est, low, high) in pooled.items():
        seeds = [r["metrics"][m][0] for r in records]
        assert est == pytest.approx(np.mean(seeds)), m
        assert low <= est <= high, m
    single = pooled_per_label_metrics(records[:1], n_bootstraps=50)
    assert single["auc"] == tuple(records[0]["metrics"]["auc"])
