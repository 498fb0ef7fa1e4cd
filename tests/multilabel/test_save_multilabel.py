"""A multi-label study saves its selected model; ``skmedtl predict`` applies it.

Synthetic multi-label PNG files (a planted pattern per label, and a noise
label), a CSV with one 0/1 column per label, a tiny random LeNet-5: the
frozen-backbone hybrid (one head per label) and the trained head
(``feature_extractor``), with per-label temperature scaling.
"""

from __future__ import annotations

import csv
import json
import logging
import os
from pathlib import Path

import numpy as np
import pytest

import skmedtl
from skmedtl.cli import main
from skmedtl.metrics import choose_thresholds
from skmedtl.study import MultiLabelStudyModel, StudyModel
from tests._helpers import cell_predictions, predict_saved_model, tiny_study

from ._synthetic import LABELS, make_multilabel

SIZES = (("train", 48), ("val", 24), ("test", 24))
#: The study of ``ml_study`` (a tiny study: :data:`tests._helpers.TINY_STUDY`).
OPTIONS = dict(
    approaches=["hybrid-logreg", "feature_extractor"],
    max_epochs=2,
    n_bootstraps=20,
    calibrate="temperature",
    save="best,recommended",
)


@pytest.fixture(scope="module")
def ml_study(tmp_path_factory):
    """PNG files, a multi-label CSV and a finished study that saved its models."""
    from PIL import Image

    root = tmp_path_factory.mktemp("findings")
    rows = []
    for seed, (split, n) in enumerate(SIZES):
        X, Y = make_multilabel(n, seed=seed + 10, size=28)
        for i, (image, y) in enumerate(zip(X, Y, strict=True)):
            path = root / "png" / split / f"{i}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(image).save(path)
            rows.append([f"png/{split}/{i}.png", *y.tolist(), split])
    dataset = root / "findings.csv"
    with open(dataset, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["path", *LABELS, "split"])
        writer.writerows(rows)
    out = root / "study"
    handler = _Records()
    logging.getLogger("skmedtl").addHandler(handler)
    try:
        results = tiny_study(dataset, out, **OPTIONS).run()
    finally:
        logging.getLogger("skmedtl").removeHandler(handler)
    return {
        "root": root,
        "out": out,
        "results": results,
        "messages": handler.messages,
    }


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def _records(out: Path) -> dict:
    lines = (out / "results.jsonl").read_text().splitlines()
    cells = [json.loads(line) for line in lines]
    return {r["key"]: r for r in cells if r.get("type") == "cell"}


def test_multilabel_study_saves_its_selected_model(ml_study):
    out, results = ml_study["out"], ml_study["results"]
    assert not any("do not save a model" in m for m in ml_study["messages"])
    records = _records(out)
    rec = results.recommendation
    assert {p.name for p in (out / "models").iterdir()} == set(records)
    for record in records.values():  # hybrid and trained head alike:
        # the thresholds come from validation only, recomputed here from the
        # recorded validation predictions
        chosen = choose_thresholds(record["val_y"], record["val_proba"])
        np.testing.assert_allclose(record["thresholds"], chosen)
    for target, row in (("model", rec["best"]), ("model-recommended", rec["cheapest"])):
        assert results.files[target] == os.fspath(out / target)
        meta = json.loads((out / target / "metadata.json").read_text())
        assert meta["config"] == row["config"] and meta["task"] == "multilabel"
        record = records[meta["cell_key"]]
        assert list(meta["thresholds"].values()) == record["thresholds"]
        card = json.loads((out / target / "model_card.json").read_text())
        assert card["labels"] == LABELS
        assert card["thresholds"] == dict(
            zip(LABELS, record["thresholds"], strict=True)
        )
        assert "validation" in card["threshold_rule"]
        assert card["test"]["auc"] == record["metrics"]["auc"]
        assert (
            card["test_per_label"]["bright"]["auc"]
            == (record["per_label"]["bright"]["auc"])
        )
        assert card["calibration"] == "temperature"
        text = (out / target / "model_card.md").read_text()
        assert "## Per-label decisions" in text
        for name, t in zip(LABELS, record["thresholds"], strict=True):
            assert f"| {name} | {t:.4f} |" in text
        assert "most probable class" not in text


def test_loaded_models_reproduce_the_recorded_predictions(ml_study):
    """Every saved cell model (hybrid and trained head) gives the study's numbers."""
    out = ml_study["out"]
    records = _records(out)
    seen = set()
    for key, record in records.items():
        model, meta = skmedtl.load(out / "models" / key, return_metadata=True)
        assert type(model) is StudyModel and len(model.labels_) > 1
        seen.add(record["approach"])
        rows = cell_predictions(out, key)
        paths = [r["image"] for r in rows]
        assert len(paths) == dict(SIZES)["test"]
        raw = model.predict_proba(paths, calibrated=False)
        recorded = np.array([[float(r[f"p_{c}"]) for c in LABELS] for r in rows])
        np.testing.assert_allclose(raw, recorded, atol=1e-5)
        calibrated = model.predict_proba(paths)
        expected = [[float(r[f"p_calibrated_{c}"]) for c in LABELS] for r in rows]
        np.testing.assert_allclose(calibrated, expected, atol=1e-5)
        assert not np.allclose(calibrated, raw)  # the calibrators are applied
        thresholds = [float(rows[0][f"threshold_{c}"]) for c in LABELS]
        assert model.thresholds_.tolist() == thresholds == record["thresholds"]
        predicted = model.predict(paths)
        assert predicted.shape == (len(paths), len(LABELS))
        assert predicted.dtype == np.int64
        present = [
            ";".join(c for c, v in zip(LABELS, p, strict=True) if v) for p in predicted
        ]
        assert present == [r["predicted_label"] for r in rows]
        np.testing.assert_array_equal(predicted, (raw >= model.thresholds_) * 1)
        np.testing.assert_array_equal(
            model.predict(paths, threshold=0.0), np.ones_like(predicted)
        )
        truth = np.array(
            [[c in r["true_label"].split(";") for c in LABELS] for r in rows]
        )
        assert model.score(paths, truth.astype(int)) == pytest.approx(
            np.mean((predicted == truth).all(axis=1))
        )
    assert seen == {"hybrid-logreg", "feature_extractor"}


@pytest.mark.slow
def test_cli_predict_writes_a_probability_and_a_decision_per_label(ml_study, tmp_path):
    target = tmp_path / "predictions.csv"
    recorded, done = predict_saved_model(ml_study["out"], target)
    rows = {r["image"]: r for r in recorded}
    assert done.returncode == 0, done.stderr
    with open(target, newline="") as f:
        reader = csv.DictReader(f)
        predicted = {r["path"]: r for r in reader}
        columns = reader.fieldnames
    assert columns == [
        "path",
        "predicted_labels",
        *(f"p_{c}" for c in LABELS),
        *(f"decision_{c}" for c in LABELS),
        *(f"p_calibrated_{c}" for c in LABELS),
        "error",
    ]
    assert set(predicted) == set(rows)
    for path, r in rows.items():
        p = predicted[path]
        assert p["error"] == "" and p["predicted_labels"] == r["predicted_label"]
        for c in LABELS:
            assert float(p[f"p_{c}"]) == pytest.approx(float(r[f"p_{c}"]), abs=1e-5)
            assert float(p[f"p_calibrated_{c}"]) == pytest.approx(
                float(r[f"p_calibrated_{c}"]), abs=1e-5
            )
            decision = int(float(r[f"p_{c}"]) >= float(r[f"threshold_{c}"]))
            assert p[f"decision_{c}"] == str(decision)


def test_cli_predict_reports_images_it_cannot_use(ml_study, tmp_path, capsys):
    from PIL import Image

    folder = tmp_path / "new"
    folder.mkdir()
    good = sorted((ml_study["root"] / "png" / "test").glob("*.png"))[0]
    (folder / "good.png").write_bytes(good.read_bytes())
    Image.fromarray(np.zeros((28, 28, 3), np.uint8)).save(folder / "colour.png")
    code = main(["predict", "--model", os.fspath(ml_study["out"] / "model"),
                 "--images", os.fspath(folder), "-q"])  # fmt: skip
    stdout, err = capsys.readouterr()
    assert code == 1
    header = stdout.splitlines()[0].split()
    assert header[:2] == ["path", "predicted_labels"]
    assert [f"decision_{c}" for c in LABELS] == [h for h in header if "decision" in h]
    assert "3 channels" in err and "2 image(s): 1 predicted, 1 failed" in err


def test_a_plain_saved_multilabel_model_predicts_at_its_own_thresholds(
    ml_study, tmp_path, capsys
):
    """``skmedtl.save`` of a bare multi-label estimator: per-label columns too."""
    model = skmedtl.load(ml_study["out"] / "model")
    bare = tmp_path / "bare"
    skmedtl.save(model.estimator, bare)
    image = sorted((ml_study["root"] / "png" / "test").glob("*.png"))[0]
    target = tmp_path / "p.csv"
    code = main(["predict", "--model", os.fspath(bare), "--images",
                 os.fspath(image), "--out", os.fspath(target), "-q"])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    with open(target, newline="") as f:
        (row,) = list(csv.DictReader(f))
    raw = model.predict_proba([os.fspath(image)], calibrated=False)[0]
    cuts = getattr(model.estimator, "thresholds_", np.full(len(LABELS), 0.5))
    names = ["0", "1", "2", "3"]  # no label names without a study's metadata
    for c, p, t in zip(names, raw, cuts, strict=True):
        assert float(row[f"p_{c}"]) == pytest.approx(p, abs=1e-6)
        assert row[f"decision_{c}"] == str(int(p >= t))
    assert "p_calibrated_0" not in row


def _fitted_heads():
    from sklearn.linear_model import LogisticRegression
    from sklearn.multioutput import MultiOutputClassifier

    X = np.arange(12.0).reshape(-1, 1)
    Y = np.array([[0, 1], [0, 0], [0, 1], [0, 0], [1, 1], [1, 0]] * 2)
    Y[:6, 0] = [0, 0, 0, 1, 0, 0]
    return MultiOutputClassifier(LogisticRegression()).fit(X, Y), X, Y


def test_multilabel_study_model_contract_and_errors():
    import pickle

    from sklearn.base import clone
    from sklearn.linear_model import LogisticRegression
    from sklearn.utils import estimator_checks as checks

    heads, X, Y = _fitted_heads()
    for check in (
        checks.check_no_attributes_set_in_init,
        checks.check_get_params_invariance,
        checks.check_set_params,
        checks.check_estimator_repr,
        checks.check_mixin_order,
    ):
        check("MultiLabelStudyModel", MultiLabelStudyModel(heads))
    model = MultiLabelStudyModel(heads, labels=["a", "b"], thresholds=[0.3, 0.7]).fit()
    assert clone(model) is model
    expected = np.column_stack([p[:, 1] for p in heads.predict_proba(X)])
    np.testing.assert_allclose(model.predict_proba(X), expected)
    np.testing.assert_array_equal(model.predict(X), expected >= [0.3, 0.7])
    np.testing.assert_array_equal(model.predict(X, threshold=0.5), expected >= 0.5)
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_allclose(again.predict_proba(X), expected)
    assert model.class_names_ == ["a", "b"] and len(model.classes_) == 2

    # a single-label classifier, or single-label targets, are refused clearly
    single = LogisticRegression().fit(X, Y[:, 0])
    with pytest.raises(ValueError, match="not a multi-label classifier.*StudyModel"):
        MultiLabelStudyModel(single).fit()
    # one StudyModel for every task: the alias is StudyModel with other names
    same = StudyModel(heads, class_names=["a", "b"], threshold=[0.3, 0.7]).fit()
    np.testing.assert_array_equal(same.predict(X), model.predict(X))
    assert same.class_names_ == model.class_names_ and same.labels_ == ["a", "b"]
    with pytest.raises(ValueError, match="multi-label.*class_names"):
        StudyModel(heads, classes=[0, 1]).fit()
    with pytest.raises(ValueError, match=r"\(n_images, 2\) 0/1 label matrix"):
        model.score(X, Y[:, 0])
    with pytest.raises(ValueError, match="values other than 0/1"):
        model.score(X, Y * 2)
    with pytest.raises(ValueError, match="3 values for 2 labels"):
        model.predict(X, threshold=[0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="'validation', a number"):
        model.predict(X, threshold="youden")
    with pytest.raises(ValueError, match="3 names for 2 labels"):
        MultiLabelStudyModel(heads, labels=["a", "b", "c"]).fit()
    with pytest.raises(ValueError, match=r"probabilities in \[0, 1\]"):
        MultiLabelStudyModel(heads, thresholds=[0.5, 1.5]).fit()
    with pytest.raises(ValueError, match="one per label"):
        MultiLabelStudyModel(heads, calibrators=[]).fit()


def test_resumed_and_report_only_runs_keep_the_saved_model(ml_study, monkeypatch):
    from skmedtl.study import LocalExecutor

    out = ml_study["out"]
    before = (out / "model" / "manifest.json").stat().st_mtime_ns

    def no_refit(*args, **kwargs):
        raise AssertionError("a finished cell was fitted again")

    monkeypatch.setattr(LocalExecutor, "call_task", no_refit)
    study = tiny_study(ml_study["root"] / "findings.csv", out, **OPTIONS)
    assert study.report().files["model"] == os.fspath(out / "model")
    assert (out / "model" / "manifest.json").stat().st_mtime_ns == before


@pytest.mark.slow
def test_a_cell_finished_without_saving_is_fitted_again_once(tmp_path):
    from skmedtl.study import StudyDataset

    X, Y = make_multilabel(72, seed=3, size=28)
    split = np.array(["train"] * 40 + ["val"] * 16 + ["test"] * 16)
    data = StudyDataset.from_arrays(X, Y, split=split, class_names=LABELS)
    out = tmp_path / "study"
    options = dict(approaches=["hybrid-logreg"], n_bootstraps=20)
    tiny_study(data, out, save="none", **options).run()
    assert not (out / "model").exists() and not (out / "models").exists()
    results = tiny_study(data, out, **options).run()
    assert results.n_run == 0 and results.files["model"] == os.fspath(out / "model")
    card = json.loads((out / "model" / "model_card.json").read_text())
    assert "fitted again" in card["refitted"]
    (record,) = _records(out).values()
    model = skmedtl.load(out / "model")
    assert model.calibrator is None and not model.calibrated_
    assert model.thresholds_.tolist() == record["thresholds"]
    proba = model.predict_proba(X[split == "test"])
    np.testing.assert_allclose(proba, record["test_proba"], atol=1e-5)
