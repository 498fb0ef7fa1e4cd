"""Data sources, grid resolution, protocol, metrics pooling and the recommendation."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from PIL import Image

from skmedtl.metrics import classification_report
from skmedtl.study import (
    StudyDataset,
    TransferStudy,
    get_profile,
    load_study_dataset,
    parse_approach,
    recommend,
)
from skmedtl.study._evaluate import pooled_metrics
from tests._helpers import tiny_study

from .conftest import make_images


# -- grid -----------------------------------------------------------------------------
def test_approach_names_and_did_you_mean():
    assert parse_approach("fine_tune", fine_tune_blocks=3).trainable_blocks == 3
    assert parse_approach("fine_tune:2").name == "fine_tune:2"
    assert parse_approach("hybrid-xgboost").frozen
    assert not parse_approach("gradual").frozen
    with pytest.raises(ValueError, match="Did you mean 'random_init'"):
        parse_approach("random_int")
    with pytest.raises(ValueError, match="at least one trainable block"):
        parse_approach("fine_tune:0")


def test_profiles_and_overrides(tiny_npz, tmp_path):
    assert set(get_profile("quick").approaches) >= {"feature_extractor", "full"}
    with pytest.raises(ValueError, match="Did you mean 'thorough'"):
        get_profile("thorogh")
    study = TransferStudy(
        tiny_npz,
        tmp_path,
        profile="standard",
        backbones=["lenet5"],
        approaches=["hybrid-svm", "fine_tune"],
        seeds=2,
        weights=None,
        max_epochs=3,
    )
    plan = study.plan()
    assert [c["cell"] for c in plan] == [
        "lenet5 / hybrid-svm / seed 0",
        "lenet5 / fine_tune:2 / seed 0",
        "lenet5 / hybrid-svm / seed 1",
        "lenet5 / fine_tune:2 / seed 1",
    ]
    assert study.profile_.max_epochs == 3  # override
    assert study.profile_.lrs == get_profile("standard").lrs  # from the profile
    assert not any(c["done"] for c in plan)


def test_a_custom_profile_object(tiny_npz, tmp_path):
    mine = get_profile("quick").replace(
        name="mine", backbones=("lenet5",), approaches=("fine_tune:1",), seeds=2
    )
    study = TransferStudy(tiny_npz, tmp_path, profile=mine, weights=None)
    assert [c["cell"] for c in study.plan()] == [
        "lenet5 / fine_tune:1 / seed 0",
        "lenet5 / fine_tune:1 / seed 1",
    ]
    assert study.profile_.name == "mine"
    with pytest.raises(TypeError, match="profile"):
        TransferStudy(tiny_npz, tmp_path, profile={"seeds": 2}).plan()


def test_fine_tune_deeper_than_the_backbone_is_refused(tiny_npz, tmp_path):
    study = TransferStudy(
        tiny_npz,
        tmp_path,
        backbones=["lenet5"],
        approaches=["fine_tune:4"],
        weights=None,
    )
    with pytest.raises(ValueError, match="only 3 block groups"):
        study.plan()


def test_pretrained_weights_must_exist(tiny_npz, tmp_path):
    study = TransferStudy(tiny_npz, tmp_path, backbones=["lenet5"], approaches=["full"])
    with pytest.raises(ValueError, match="no pretrained weights"):
        study.plan()


# -- data sources ------------------------------------------------------------------
def test_bundled_breastmnist_keeps_its_official_splits():
    data = load_study_dataset("breastmnist")
    assert (data.n_images("train"), data.n_images("val"), data.n_images("test")) == (
        546,
        78,
        156,
    )
    assert data.class_name(data.pos_label) == "malignant"
    assert data.label_order()[-1] == data.pos_label


def _write_pngs(folder, labels, rng, prefix="img"):
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, image in enumerate(make_images(rng, np.asarray(labels))):
        path = folder / f"{prefix}{i}.png"
        Image.fromarray(image).save(path)
        paths.append(path)
    return paths


def test_csv_with_groups_and_splits(tmp_path):
    rng = np.random.default_rng(0)
    labels = [0, 1] * 10
    paths = _write_pngs(tmp_path / "png", labels, rng)
    rows = []
    for i, (path, label) in enumerate(zip(paths, labels, strict=True)):
        patient = f"p{i // 2}"  # two images per patient, same split
        split = "test" if i // 2 >= 7 else "train"
        rows.append(
            {
                "path": f"png/{path.name}",
                "label": ["benign", "malignant"][label],
                "group": patient,
                "split": split,
            }
        )
    with open(tmp_path / "data.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["path", "label", "group", "split"])
        writer.writeheader()
        writer.writerows(rows)
    data = load_study_dataset(tmp_path / "data.csv")
    assert data.class_names == ["benign", "malignant"]
    assert data.n_images("test") == 6 and not data.has_validation
    assert data.groups is not None and data.pos_label == "malignant"
    # a patient on both sides of the split is refused
    rows[0]["split"] = "test"
    with open(tmp_path / "bad.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["path", "label", "group", "split"])
        writer.writeheader()
        writer.writerows(rows)
    with pytest.raises(ValueError, match="appear in both splits"):
        load_study_dataset(tmp_path / "bad.csv")


def test_csv_errors_name_the_problem(tmp_path):
    (tmp_path / "a.csv").write_text("file,label\nx.png,0\n")
    with pytest.raises(ValueError, match="needs a 'path' column"):
        load_study_dataset(tmp_path / "a.csv")
    (tmp_path / "b.csv").write_text("path,label\nmissing.png,0\n")
    with pytest.raises(FileNotFoundError, match="line 2"):
        load_study_dataset(tmp_path / "b.csv")


def test_folder_without_test_split_gets_a_patient_level_hold_out(tmp_path):
    rng = np.random.default_rng(0)
    for cls, label in (("benign", 0), ("malignant", 1)):
        for patient in range(8):
            _write_pngs(
                tmp_path / "data" / cls,
                [label, label],
                rng,
                prefix=f"pt{cls[0]}{patient}_",
            )
    data = load_study_dataset(
        tmp_path / "data", groups=r"(pt\w\d+)_", test_size=0.25, random_state=0
    )
    assert "patient-level hold-out" in data.test_protocol
    test_groups = set(data.groups[data.split == "test"])
    assert test_groups and not test_groups & set(data.groups[data.split == "train"])
    assert set(data.labels[data.split == "test"]) == {"benign", "malignant"}


def test_folder_with_train_and_test_subfolders(tmp_path):
    rng = np.random.default_rng(0)
    for split, n in (("train", 6), ("test", 2)):
        for cls, label in (("a", 0), ("b", 1)):
            _write_pngs(tmp_path / split / cls, [label] * n, rng, prefix=f"{split}")
    data = load_study_dataset(tmp_path)
    assert data.n_images("train") == 12 and data.n_images("test") == 4
    assert data.test_protocol == "the data set's own test split"


def test_pos_label_by_name_and_errors(tiny_npz):
    data = load_study_dataset(tiny_npz)
    assert data.pos_label == 1 and data.with_pos_label("0").pos_label == 0
    with pytest.raises(ValueError, match="not a class"):
        data.with_pos_label("2")


def test_volumes_and_multilabel_are_refused():
    with pytest.raises(ValueError, match="3-D volumes"):
        StudyDataset.from_arrays(np.zeros((10, 8, 8, 8), np.uint8), [0, 1] * 5)
    # Multi-label data makes a multi-label study (tests/multilabel); a label that
    # has no positive image on one side of the split cannot be scored.
    with pytest.raises(ValueError, match="never present in the test split"):
        StudyDataset.from_arrays(np.zeros((4, 8, 8), np.uint8), np.eye(4, 2))


# -- protocol --------------------------------------------------------------------------
def _one_head_study(approach: str) -> dict:
    """A one-cell study of ``approach`` on LeNet-5 features of the tiny data."""
    return dict(
        backbones=["lenet5"],
        approaches=[approach],
        weights=None,
        input_size=32,
        n_bootstraps=50,
        verbose=0,
    )


@pytest.mark.slow
def test_hybrid_heads_tune_inside_training_and_validate_on_val(tiny_npz, tmp_path):
    """Heads tune by inner CV of the training images; validation (own val split,
    or one stratified split of the training data) scores them once."""
    data = load_study_dataset(tiny_npz)
    common = _one_head_study("hybrid-logreg")
    with_val = TransferStudy(data, tmp_path / "a", **common).run()
    selection = with_val.cells[0]["selection"]
    assert selection["scheme"] == "5-fold inner CV of the training images"
    assert selection["n_candidates"] == 3 and selection["inner_folds"] == 5
    assert 0 <= selection["inner_score"] <= 1
    assert with_val.table[0]["n_validation"] == data.n_images("val") == 8
    assert selection["validation_score"] == with_val.table[0]["validation_score"]
    assert (
        "the data set's own validation split"
        in (tmp_path / "a" / "report.md").read_text()
    )
    no_val = StudyDataset.from_arrays(data.images, data.labels)
    results = TransferStudy(no_val, tmp_path / "b", **common).run()
    n_dev = no_val.n_images("train", "val")
    assert abs(results.table[0]["n_validation"] - 0.2 * n_dev) <= 1
    report = (tmp_path / "b" / "report.md").read_text()
    assert "hold-out" in report and "one stratified split of 20%" in report


@pytest.mark.slow
def test_forest_head_tunes_out_of_bag_unless_patients_are_grouped(tiny_npz, tmp_path):
    """Without patient ids a random forest is scored by its out-of-bag
    predictions (one fit per grid value, the chosen one kept); with them, by
    patient-grouped inner folds (its trees drew a patient's other images)."""
    from skmedtl.study._tuning import OUT_OF_BAG

    data = load_study_dataset(tiny_npz)
    common = _one_head_study("hybrid-rf")
    results = TransferStudy(data, tmp_path / "a", **common).run()
    selection = results.cells[0]["selection"]
    assert selection["scheme"] == OUT_OF_BAG and selection["inner_folds"] is None
    assert selection["n_candidates"] == 2 and 0 <= selection["inner_score"] <= 1
    report = (tmp_path / "a" / "report.md").read_text()
    assert "out-of-bag predictions of their trees" in report
    assert "cross-validation inside the training" not in report
    grouped = StudyDataset.from_arrays(
        data.images, data.labels, split=data.split, groups=np.arange(52) // 2
    )
    results = TransferStudy(grouped, tmp_path / "b", **common).run()
    selection = results.cells[0]["selection"]
    assert selection["scheme"].endswith(
        "inner CV of the training images, patient-grouped"
    )
    report = (tmp_path / "b" / "report.md").read_text()
    assert "out-of-bag predictions of their trees" not in report  # the Methods
    assert "cross-validation inside the training partition" in report


def test_seeds_are_pooled_with_bootstrap_cis(tiny_npz, tmp_path):
    results = tiny_study(
        tiny_npz,
        tmp_path / "study",  # not beside tiny.npz: a folder it did not write
        approaches=["full"],
        seeds=2,
    ).run()
    row = results.table[0]
    assert row["n_seeds"] == 2 and row["seeds"] == [0, 1]
    aucs = [c["auc"] for c in results.cells]
    assert row["auc"] == pytest.approx(np.mean(aucs))
    assert row["auc_sd"] == pytest.approx(np.std(aucs, ddof=1))
    assert row["auc_low"] <= row["auc"] <= row["auc_high"]
    assert "## Per seed" in (tmp_path / "study" / "report.md").read_text()


def test_pooled_metrics_of_one_seed_are_its_classification_report():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 20)
    score = np.clip(y * 0.3 + rng.uniform(size=40) * 0.7, 0, 1)
    pred = (score >= 0.5).astype(int)
    report = classification_report(
        y, score, y_pred=pred, n_bootstraps=200, random_state=0
    )
    record = {
        "metrics": {m: list(report.metrics[m]) for m in report.metrics},
        "y_true": y.tolist(),
        "y_pred": pred.tolist(),
        "y_score": score.tolist(),
        "classes": ["0", "1"],
    }
    one = pooled_metrics([record], 200)
    assert one["auc"] == report.metrics["auc"]
    # two identical seeds pool to the same estimate and the same interval
    two = pooled_metrics([record, record], 200)
    for m in ("accuracy", "auc", "sensitivity"):
        assert two[m] == pytest.approx(report.metrics[m])


def test_recommendation_rule_uses_validation_only():
    def row(config, val, low, cost, test):
        return {
            "config": config,
            "validation_score": val,
            "validation_low": low,
            "compute_time_s": cost,
            "auc": test,  # test scores must not matter
            "auc_low": test - 0.01,
        }

    rows = [
        row("a", 0.90, 0.85, 100.0, 0.70),
        row("b", 0.86, 0.80, 10.0, 0.99),
        row("c", 0.83, 0.78, 1.0, 0.99),
        row("d", 0.90, 0.84, 50.0, 0.60),
    ]
    rec = recommend(rows, "auc", "time")
    assert rec["selected_on"] == "validation"
    assert rec["best"]["config"] == "d"  # tie on validation: the cheaper
    assert rec["cheapest"]["config"] == "d"  # no paired differences: no alternative
    assert rec["candidates"] == []
    # non-inferiority of the paired validation difference: lower bound > -margin
    lows = {"a": -0.001, "b": -0.019, "c": -0.021}
    asked = []

    def difference(other, selected):
        asked.append((other, selected))
        return {"difference": 0.0, "ci_low": lows[other], "ci_high": 0.01}

    rec = recommend(rows, "auc", "time", difference=difference, margin=0.02)
    assert sorted(asked) == [("b", "d"), ("c", "d")]  # only cheaper ones
    assert rec["candidates"] == ["b"]  # c's lower bound is below -0.02
    assert rec["cheapest"]["config"] == "b"
    rec = recommend(rows, "auc", "time", difference=difference, margin=0.025)
    assert rec["cheapest"]["config"] == "c"  # the cheapest non-inferior one
    rec = recommend(rows, "auc", "time", difference=difference, margin=0.01)
    assert rec["cheapest"]["config"] == "d" and rec["candidates"] == []
    assert recommend([row("a", float("nan"), 0, 1, 0.9)], "auc", "time") is None


def test_verbose_0_prints_nothing(tiny_npz, tmp_path, capsys):
    tiny_study(
        tiny_npz,
        tmp_path / "study",
        approaches=["full"],
        n_bootstraps=20,
    ).run()
    out, err = capsys.readouterr()
    assert out == "" and err == ""


@pytest.mark.slow
def test_three_classes_use_macro_metrics_and_micro_roc(tmp_path):
    rng = np.random.default_rng(0)
    labels = np.repeat(["a", "b", "c"], 14)
    images = rng.integers(60, 200, (42, 16, 16), dtype=np.uint8)
    for k, cls in enumerate("abc"):
        images[labels == cls, 2 + 4 * k : 6 + 4 * k, 4:12] = 255
    data = StudyDataset.from_arrays(images, labels, random_state=0)
    assert data.pos_label is None
    results = tiny_study(
        data,
        tmp_path,
        approaches=["hybrid-logreg", "full"],
        n_bootstraps=30,
    ).run()
    assert len(results.table) == 2
    for row in results.table:
        assert 0 <= row["auc_low"] <= row["auc"] <= row["auc_high"] <= 1
    assert (tmp_path / "figures" / "roc_best.png").stat().st_size > 0


def test_trained_approaches_early_stop_inside_training(tiny_npz, tmp_path, monkeypatch):
    """With patient ids and no validation split, the study's one validation
    split holds whole patients; FineTuneClassifier.fit sees only the training
    images, with their patient ids, for its own early-stopping split."""
    from skmedtl.finetune import FineTuneClassifier

    data = load_study_dataset(tiny_npz)
    patients = np.arange(len(data.labels)) // 2  # two images per patient
    split = np.where(data.split == "val", "train", data.split)  # no own val split
    grouped = StudyDataset.from_arrays(
        data.images, data.labels, split=split, groups=patients
    )
    seen = []
    original = FineTuneClassifier.fit

    def recording(self, X, y, groups=None, validation_mask=None):
        seen.append((len(X), groups, validation_mask, self.validation_fraction))
        return original(self, X, y, groups=groups, validation_mask=validation_mask)

    monkeypatch.setattr(FineTuneClassifier, "fit", recording)
    tiny_study(
        grouped,
        tmp_path / "study",
        approaches=["full"],
        n_bootstraps=20,
    ).run()
    dev = grouped.split != "test"
    assert len(seen) == 1
    n, groups, mask, fraction = seen[0]
    assert mask is None and fraction == 0.2  # never the study's validation set
    assert n == len(groups) < dev.sum()  # the training images only
    study_val = set(patients[dev]) - set(groups)  # whole patients held out
    assert study_val and not study_val & set(groups)


@pytest.mark.parametrize("labels", [np.zeros(5), np.zeros((5, 3))])
def test_groups_of_another_length_are_refused(labels):
    from skmedtl.study._splits import resolve_split

    with pytest.raises(ValueError, match="5 images but 4 groups"):
        resolve_split(labels, groups=np.arange(4))
