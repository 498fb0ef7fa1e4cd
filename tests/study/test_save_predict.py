"""From study to use: the selected model saved, and ``skmedtl predict`` on images.

One small study on PNG files written from the bundled BreastMNIST (a subset of
its official split; MedMNIST v2, CC BY 4.0), with the code path of the demo:
the frozen-backbone approaches, recalibration and the operating point chosen
on validation.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import numpy as np
import pytest

import skmedtl
from skmedtl.cli import main
from skmedtl.persistence import UnsafeModelError
from skmedtl.study import StudyModel, TransferStudy, load_study_dataset
from skmedtl.study._predict import CALL_BATCHES
from skmedtl.study._save import parse_save
from tests._helpers import cell_predictions, predict_saved_model, tiny_study

#: Images per split and class taken from the bundled BreastMNIST.
PER_CLASS = {"train": 16, "val": 6, "test": 8}


def _study(dataset, out, **kwargs) -> TransferStudy:
    options = dict(
        approaches=["hybrid-logreg", "feature_extractor"], calibrate="temperature"
    )
    return tiny_study(dataset, out, **{**options, **kwargs})


@pytest.fixture(scope="module")
def png_study(tmp_path_factory):
    """BreastMNIST images as PNG files, a CSV list, and a finished study."""
    from PIL import Image

    root = tmp_path_factory.mktemp("breast")
    data = load_study_dataset("breastmnist")
    rows = []
    for split, n in PER_CLASS.items():
        for label in (0, 1):
            index = np.flatnonzero((data.split == split) & (data.labels == label))[:n]
            for i in index:
                path = root / "png" / split / f"{i}.png"
                path.parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(data.images[i]).save(path)
                rows.append(
                    {
                        "path": f"png/{split}/{i}.png",
                        "label": data.class_names[label],
                        "split": split,
                    }
                )
    dataset = root / "breast.csv"
    with open(dataset, "w", newline="") as f:
        writer = csv.DictWriter(f, ["path", "label", "split"])
        writer.writeheader()
        writer.writerows(rows)
    out = root / "study"
    study = _study(dataset, out, pos_label="malignant", save="best,recommended")
    results = study.run()
    return {"root": root, "dataset": dataset, "out": out, "results": results}


def _metadata(path: Path) -> dict:
    return json.loads((path / "metadata.json").read_text())


def test_study_saves_selected_model_with_card(png_study):
    out, results = png_study["out"], png_study["results"]
    rec = results.recommendation
    for target, row in (("model", rec["best"]), ("model-recommended", rec["cheapest"])):
        assert results.files[target] == os.fspath(out / target)
        meta = _metadata(out / target)
        assert meta["config"] == row["config"]
        card = json.loads((out / target / "model_card.json").read_text())
        assert card["model"] == row["config"]
        assert card["splits"] == {
            "train": 2 * PER_CLASS["train"],
            "validation": 2 * PER_CLASS["val"],
            "test": 2 * PER_CLASS["test"],
            "validation_source": "the data set's own validation split",
        }
        record = next(c for c in results.cells if c["cell"] == meta["cell"])
        assert card["test"]["auc"][0] == pytest.approx(record["auc"])
        assert set(card) >= {"date", "packages", "intended_use", "limitations"}
        text = (out / target / "model_card.md").read_text()
        assert "## Limitations" in text and meta["config"] in text
    # every finished cell was saved as it finished
    assert {p.name for p in (out / "models").iterdir()} == {
        c["key"]
        for c in _study(png_study["dataset"], out, pos_label="malignant").plan()
    }


def test_loaded_model_is_a_fitted_classifier(png_study):
    from sklearn.base import clone
    from sklearn.metrics import accuracy_score

    out = png_study["out"]
    model, meta = skmedtl.load(out / "model", return_metadata=True)
    assert isinstance(model, StudyModel)
    assert clone(model) is model  # frozen: scikit-learn code cannot unfit it
    assert model.classes_.tolist() == ["normal or benign", "malignant"]
    rows = cell_predictions(out, meta["cell_key"])
    paths = [r["image"] for r in rows]
    y = [r["true_label"] for r in rows]
    predicted = model.predict(paths)
    assert predicted.tolist() == [r["predicted_label"] for r in rows]
    assert model.score(paths, y) == pytest.approx(accuracy_score(y, predicted))
    # the operating point chosen on validation, recomputed by hand
    assert model.threshold_ == meta["operating_point"]["threshold"]
    calibrated = model.predict_proba(paths)[:, 1]
    expected = np.where(calibrated >= model.threshold_, "malignant", "normal or benign")
    assert model.predict(paths, threshold="validation").tolist() == expected.tolist()
    assert model.predict(paths, threshold=0.0).tolist() == ["malignant"] * len(paths)
    with pytest.raises(ValueError, match="threshold"):
        model.predict(paths, threshold="youden")


@pytest.mark.slow
def test_predict_in_a_fresh_process_reproduces_the_study(png_study, tmp_path):
    target = tmp_path / "predictions.csv"
    rows, done = predict_saved_model(png_study["out"], target)
    assert done.returncode == 0, done.stderr
    with open(target, newline="") as f:
        predicted = {r["path"]: r for r in csv.DictReader(f)}
    assert len(predicted) == len(rows) == 2 * PER_CLASS["test"]
    for r in rows:
        p = predicted[r["image"]]
        assert p["error"] == ""
        assert p["predicted_label"] == r["predicted_label"]
        for c in ("normal or benign", "malignant"):
            assert float(p[f"p_{c}"]) == pytest.approx(float(r[f"p_{c}"]), abs=1e-5)
            assert float(p[f"p_calibrated_{c}"]) == pytest.approx(
                float(r[f"p_calibrated_{c}"]), abs=1e-5
            )


def test_predict_reports_unreadable_and_mismatched_images(png_study, tmp_path, capsys):
    from PIL import Image

    folder = tmp_path / "new"
    (folder / "sub").mkdir(parents=True)
    tests = sorted((png_study["root"] / "png" / "test").glob("*.png"))[:3]
    for p in tests:
        (folder / p.name).write_bytes(p.read_bytes())
    (folder / "sub" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    Image.fromarray(np.zeros((28, 28, 3), np.uint8)).save(folder / "colour.png")
    target = tmp_path / "p.csv"
    code = main(
        [
            "predict",
            "--model",
            os.fspath(png_study["out"] / "model"),
            "--images",
            os.fspath(folder),
            "--out",
            os.fspath(target),
            "-q",
        ]
    )
    err = capsys.readouterr().err
    assert code == 1
    with open(target, newline="") as f:
        rows = {Path(r["path"]).name: r for r in csv.DictReader(f)}
    assert set(rows) == {p.name for p in tests} | {"broken.png", "colour.png"}
    for p in tests:
        assert rows[p.name]["error"] == ""
        assert 0.0 <= float(rows[p.name]["p_malignant"]) <= 1.0
    assert "not a readable image" in rows["broken.png"]["error"]
    assert rows["broken.png"]["p_malignant"] == ""
    assert "3 channels" in rows["colour.png"]["error"]
    assert "greyscale" in rows["colour.png"]["error"]
    assert "5 image(s): 3 predicted, 2 failed" in err and "broken.png" in err


def test_predict_csv_holds_the_models_probabilities_of_the_arrays(png_study, tmp_path):
    """Every cell of the CSV, from ``predict_proba`` on arrays read apart (PIL)."""
    from PIL import Image

    folder = tmp_path / "new"
    folder.mkdir()
    for p in sorted((png_study["root"] / "png" / "test").glob("*.png")):
        (folder / p.name).write_bytes(p.read_bytes())
    (folder / "5_broken.png").write_bytes(b"not an image")
    target = tmp_path / "p.csv"
    argv = ["predict", "--model", os.fspath(png_study["out"] / "model"),
            "--images", os.fspath(folder), "--out", os.fspath(target),
            "--batch-size", "2", "-q"]  # fmt: skip
    assert main(argv) == 1  # one file failed

    model = skmedtl.load(png_study["out"] / "model")
    classes = [str(c) for c in model.classes_]
    paths = sorted(os.fspath(p) for p in folder.iterdir())
    expected = {}
    call = 2 * CALL_BATCHES  # the command hands the model 4 batches of 2 files
    assert len(paths) > call  # more than one call: the read-ahead is exercised
    for start in range(0, len(paths), call):
        good = [p for p in paths[start : start + call] if "broken" not in p]
        arrays = [np.asarray(Image.open(p)) for p in good]
        raw = model.predict_proba(arrays, calibrated=False)
        final = model.predict_proba(arrays)  # the network again, then calibrated
        for p, r, f in zip(good, raw, final, strict=True):
            top, decision = int(np.argmax(r)), int(f[1] >= model.threshold_)
            expected[p] = [
                p, classes[top], model.class_names_[top], classes[decision],
                model.class_names_[decision], *map(repr, r.tolist()),
                *map(repr, f.tolist()), "",
            ]  # fmt: skip
    with open(target, newline="") as f:
        header, *rows = list(csv.reader(f))
    assert header == [
        "path", "predicted_label", "predicted_class", "decision_label",
        "decision_class", *[f"p_{c}" for c in classes],
        *[f"p_calibrated_{c}" for c in classes], "error",
    ]  # fmt: skip
    assert [r[0] for r in rows] == paths
    for r in rows:
        if "broken" in r[0]:
            assert r[1:-1] == [""] * (len(header) - 2)
            assert "not a readable image" in r[-1]
        else:
            assert r == expected[r[0]]


def test_predict_prints_a_table_without_out(png_study, capsys):
    image = sorted((png_study["root"] / "png" / "test").glob("*.png"))[0]
    code = main(
        [
            "predict",
            "--model",
            os.fspath(png_study["out"] / "model"),
            "--images",
            os.fspath(image),
            "-q",
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0
    header, row = out.splitlines()[:2]
    assert header.split()[:3] == ["path", "predicted_class", "decision_class"]
    assert row.startswith(os.fspath(image))
    assert "1 image(s): 1 predicted, 0 failed" in err


def test_predict_usage_errors_exit_2(png_study, tmp_path, capsys):
    model = os.fspath(png_study["out"] / "model")
    image = os.fspath(sorted((png_study["root"] / "png" / "test").glob("*.png"))[0])
    bad_csv = tmp_path / "list.csv"
    bad_csv.write_text("file_name\na.png\n")
    for argv, message in [
        (["--model", os.fspath(tmp_path), "--images", image], "not a saved skmedtl"),
        (["--model", model, "--images", os.fspath(tmp_path / "x.png")], "no such"),
        (["--model", model, "--images", os.fspath(bad_csv)], "column named 'path'"),
    ]:
        assert main(["predict", *argv]) == 2
        assert message in capsys.readouterr().err


def test_resumed_and_report_only_runs_keep_the_saved_model(png_study, monkeypatch):
    from skmedtl.study import LocalExecutor

    out = png_study["out"]
    before = {
        t: (out / t / "manifest.json").stat().st_mtime_ns
        for t in ("model", "model-recommended")
    }

    def no_refit(*args, **kwargs):
        raise AssertionError("a finished cell was fitted again")

    monkeypatch.setattr(LocalExecutor, "call_task", no_refit)
    study = _study(
        png_study["dataset"], out, pos_label="malignant", save="best,recommended"
    )
    assert study.run().n_run == 0
    study.report()
    for t, mtime in before.items():
        assert (out / t / "manifest.json").stat().st_mtime_ns == mtime


@pytest.mark.slow
def test_a_cell_finished_without_saving_is_fitted_again_once(tiny_npz, tmp_path):
    out = tmp_path / "study"
    options = dict(approaches=["hybrid-svm"], calibrate="none")  # seeded folds
    _study(tiny_npz, out, save="none", **options).run()
    assert not (out / "model").exists() and not (out / "models").exists()
    _study(tiny_npz, out, **options).report()  # report-only: never trains
    assert not (out / "model").exists()
    results = _study(tiny_npz, out, **options).run()
    assert results.n_run == 0
    card = json.loads((out / "model" / "model_card.json").read_text())
    assert "fitted again" in card["refitted"]
    model = skmedtl.load(out / "model")
    assert model.calibrator is None and model.threshold_ is not None
    assert card["input"]["from"] == "arrays" and card["input"]["channels"] == [1]


def test_save_choices():
    assert parse_save("best,recommended") == ("best", "recommended")
    assert parse_save(["recommended"]) == ("recommended",)
    assert parse_save("none") == ()
    with pytest.raises(ValueError, match="Did you mean 'best'"):
        parse_save("bset")


def test_model_card_is_covered_by_the_manifest(png_study, tmp_path):
    import shutil

    copy = tmp_path / "model"
    shutil.copytree(png_study["out"] / "model", copy)
    with open(copy / "model_card.md", "a") as f:
        f.write("edited\n")
    with pytest.raises(UnsafeModelError, match="model_card.md"):
        skmedtl.load(copy)
    with pytest.raises(ValueError, match="plain file name"):
        skmedtl.save(
            skmedtl.load(png_study["out"] / "model"),
            tmp_path / "m2",
            files={"model.json": "x"},
        )


def _fitted_logreg():
    from sklearn.linear_model import LogisticRegression

    X = np.array([[0.0], [1.0], [2.0], [3.0], [4.0], [5.0]])
    return LogisticRegression().fit(X, np.array([0, 0, 1, 1, 2, 2])), X


def test_study_model_contract_and_errors():
    import pickle

    from sklearn.base import clone
    from sklearn.utils import estimator_checks as checks

    clf, X = _fitted_logreg()
    for check in (
        checks.check_no_attributes_set_in_init,
        checks.check_get_params_invariance,
        checks.check_set_params,
        checks.check_estimator_repr,
        checks.check_mixin_order,
    ):
        check("StudyModel", StudyModel(clf))
    model = StudyModel(clf, classes=[2, 0, 1], class_names=["c", "a", "b"]).fit()
    assert clone(model) is model
    proba = model.predict_proba(X)
    np.testing.assert_allclose(proba, clf.predict_proba(X)[:, [2, 0, 1]])
    assert model.predict(X).tolist() == clf.predict(X).tolist()
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_allclose(again.predict_proba(X), proba)
    with pytest.raises(ValueError, match="two-class"):
        model.predict(X, threshold=0.5)
    with pytest.raises(ValueError, match="estimator's classes"):
        StudyModel(clf, classes=[0, 1]).fit()
    with pytest.raises(ValueError, match="two-class"):
        StudyModel(clf, threshold=0.5).fit()


def test_explain_takes_the_saved_model(png_study, tmp_path, capsys):
    pytest.importorskip("pytorch_grad_cam")
    image = sorted((png_study["root"] / "png" / "test").glob("*.png"))[0]
    code = main(
        ["explain", "--model", os.fspath(png_study["out"] / "model"), "--images",
         os.fspath(image), "--out", os.fspath(tmp_path / "maps"),
         "--method", "occlusion", "--patch-size", "8"]
    )  # fmt: skip
    assert code == 0, capsys.readouterr().err
    assert any((tmp_path / "maps").iterdir())


def test_predict_warns_about_another_bit_depth(png_study, tmp_path, capsys):
    import tifffile

    image = tmp_path / "deep.tif"
    tifffile.imwrite(image, (np.arange(28 * 28).reshape(28, 28) * 80).astype(np.uint16))
    code = main(["predict", "--model", os.fspath(png_study["out"] / "model"),
                 "--images", os.fspath(image), "-q"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 0  # predicted, with a warning
    assert "uint16 but the model was trained on uint8 images" in err


def test_report_shows_where_the_selected_model_looks(png_study):
    """The report's saliency figure is drawn from the saved selected model."""
    out, results = png_study["out"], png_study["results"]
    figure = Path(results.files["explanations"])
    assert figure == out / "figures" / "explanations.png" and figure.stat().st_size
    report = (out / "report.md").read_text()
    assert "figures/explanations.png" in report
    assert "Where the selected model looks" in report
