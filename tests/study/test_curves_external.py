"""Learning curves and external test sets in a study (issue #29)."""

from __future__ import annotations

import csv
import json
from collections import Counter

import numpy as np
import pytest
from PIL import Image
from sklearn.metrics import balanced_accuracy_score, recall_score, roc_auc_score

from skmedtl.study import StudyDataset, TransferStudy
from tests._helpers import TINY_STUDY

from .conftest import TINY, make_images


def _data(n=40, seed=0):
    rng = np.random.default_rng(seed)
    y = np.repeat([0, 1], n)
    return StudyDataset.from_arrays(make_images(rng, y), y, random_state=0)


def _log(out) -> list[dict]:
    return [json.loads(line) for line in (out / "results.jsonl").open()]


def _folder(path, images, labels):
    for i, (img, label) in enumerate(zip(images, labels, strict=True)):
        d = path / str(label)
        d.mkdir(parents=True, exist_ok=True)
        Image.fromarray(img).save(d / f"{i}.png")
    return path


@pytest.mark.slow
def test_learning_curve_study_writes_curves_and_reports_skipped_sizes(tmp_path):
    out = tmp_path / "s"
    study = TransferStudy(
        _data(),
        out,
        approaches=["hybrid-logreg", "fine_tune:1"],
        train_sizes=[4, 10, "all"],
        train_repeats=2,
        **TINY_STUDY,
    )
    results = study.run()
    log = _log(out)
    types = Counter(r["type"] for r in log)
    # 2 study cells; curves: fine_tune 2 sizes x 2 repeats, the hybrid only 10
    # (4 images hold fewer than cv_folds of each class): 6 curve cells.
    assert types["cell"] == 2 and types["curve"] == 6
    assert types["extraction"] == 1  # frozen curve cells sliced the study's rows
    # The selection and saved model are the full-size study's.
    assert {r["config"] for r in results.table} == {
        "lenet5 / hybrid-logreg",
        "lenet5 / fine_tune:1",
    }
    rows = list(csv.DictReader((out / "learning_curves.csv").open()))
    assert Counter((r["approach"], r["size"]) for r in rows) == {
        ("hybrid-logreg", "10"): 2,
        ("hybrid-logreg", "all"): 1,
        ("fine_tune:1", "4"): 2,
        ("fine_tune:1", "10"): 2,
        ("fine_tune:1", "all"): 1,
    }
    n_train = int((~study.val_mask_).sum())
    curves = {r["key"]: r for r in log if r["type"] == "curve"}
    for r in curves.values():  # the subsample, the study's validation and test
        sub = r["settings"]["train_subsample"]
        assert r["n_train"] == sub["n_train"] < n_train
        assert r["test_index"] == [int(i) for i in study.data_.indices("test")]
        y = np.asarray(r["y_true"])  # independent recomputation of the AUC
        assert r["metrics"]["auc"][0] == pytest.approx(
            roc_auc_score(y, np.asarray(r["y_score"]))
        )
    full = [r for r in rows if r["size"] == "all"]
    assert {int(r["n_train"]) for r in full} == {n_train}
    report = (out / "report.md").read_text()
    assert "## Learning curves (label efficiency)" in report
    assert "figures/learning_curves.png" in report
    assert (out / "figures" / "learning_curves.png").stat().st_size > 0
    assert "hybrid-logreg, size 4 (repeat 1): fewer than min_per_class" in report
    assert "**Crossover.**" in report
    # Resume: nothing runs again.
    again = TransferStudy(
        _data(),
        out,
        approaches=["hybrid-logreg", "fine_tune:1"],
        train_sizes=[4, 10, "all"],
        train_repeats=2,
        **TINY_STUDY,
    ).run()
    # (each run logs its own timings and outputs records; no cell, curve cell or
    # extraction is logged again)
    computed = ("cell", "curve", "extraction", "failure")
    before = [r for r in log if r.get("type") in computed]
    after = [r for r in _log(out) if r.get("type") in computed]
    assert again.n_run == 0 and after == before


@pytest.mark.slow
@pytest.mark.parametrize("calibrate", ["none", "sigmoid"])
def test_external_set_with_an_intensity_shift_reports_the_drop(calibrate, tmp_path):
    rng = np.random.default_rng(1)
    y_ext = np.repeat([0, 1], 30)
    shifted = (make_images(rng, y_ext).astype(int) // 2 + 100).astype(np.uint8)
    ext = _folder(tmp_path / "site_b", shifted, y_ext)
    out = tmp_path / "s"
    study = TransferStudy(
        _data(),
        out,
        approaches=["hybrid-logreg"],
        external=[ext],
        calibrate=calibrate,
        **TINY_STUDY,
    )
    study.run()
    [result] = study.external_results_
    assert result.n_images == 60
    # Independent recomputation with the saved model at its operating point.
    from skmedtl import load

    model = load(out / "model")
    images = [np.asarray(Image.open(p)) for p in sorted(ext.rglob("*.png"))]
    labels = [int(p.parent.name) for p in sorted(ext.rglob("*.png"))]
    proba = model.predict_proba(np.stack(images))[:, 1]  # recalibrated if any
    predicted = (proba >= model.threshold_).astype(int)
    sens = {m.metric: m for m in result.metrics()}["sensitivity"]
    assert sens.external.estimate == pytest.approx(
        recall_score(labels, predicted, pos_label=1)
    )
    ba = result.validation["balanced_accuracy"]
    if calibrate == "none":  # at the operating point
        assert ba.external.estimate == pytest.approx(
            balanced_accuracy_score(labels, predicted)
        )
    else:
        assert result.validation.calibration_after is not None
    # The drop at the validation-chosen operating point, with its CI below 0.
    assert sens.difference.estimate < 0 and sens.difference.high < 0
    assert result.shift.intensity_smd > 1  # brighter and flatter images
    report = (out / "report.md").read_text()
    assert "## External test sets" in report and str(ext) in report
    assert "No external test set" not in report
    card = json.loads((out / "model" / "model_card.json").read_text())
    [entry] = card["external"]
    assert entry["path"] == str(ext)
    assert entry["balanced_accuracy"]["difference"][0] == pytest.approx(
        ba.difference.estimate
    )
    assert entry["sensitivity"]["external"][0] == sens.external.estimate
    assert not any("No external test set" in x for x in card["limitations"])


@pytest.mark.parametrize("sizes", [[0], [10, 10], "25,x", []])
def test_bad_train_sizes_name_the_parameter(sizes, tmp_path):
    with pytest.raises(ValueError, match="train_sizes"):
        TransferStudy(_data(), tmp_path, train_sizes=sizes, **TINY_STUDY).plan()


def test_external_that_does_not_exist_names_the_parameter(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(ValueError, match=r"external.*nowhere.*does not exist"):
        TransferStudy(_data(), tmp_path / "o", external=missing, **TINY_STUDY).plan()


def test_external_with_other_classes_is_refused_naming_the_path(tmp_path):
    rng = np.random.default_rng(0)
    labels = np.array(["cyst", "tumour"] * 4)
    images = rng.integers(0, 255, (8, 16, 16), dtype=np.uint8)
    ext = _folder(tmp_path / "other", images, labels)
    with pytest.raises(ValueError, match=r"other.*has classes.*same classes"):
        TransferStudy(_data(), tmp_path / "o", external=[ext], **TINY_STUDY).plan()


def test_external_needs_a_saved_model(tmp_path):
    ext = _folder(tmp_path / "e", make_images(np.random.default_rng(0), [0, 1]), [0, 1])
    with pytest.raises(ValueError, match="save"):
        TransferStudy(
            _data(), tmp_path / "o", external=[ext], save="none", **TINY_STUDY
        ).plan()


def test_cli_bad_train_sizes_and_external_speak_in_flags(tiny_npz, tmp_path, run_cli):
    code, _, err = run_cli(
        ["study", "--dataset", tiny_npz, "--out", tmp_path / "o", *TINY,
         "--train-sizes", "0,all", "--dry-run"]
    )  # fmt: skip
    assert code != 0 and "--train-sizes" in err and "Traceback" not in err
    code, _, err = run_cli(
        ["study", "--dataset", tiny_npz, "--out", tmp_path / "o", *TINY,
         "--external", tmp_path / "missing", "--dry-run"]
    )  # fmt: skip
    assert code != 0 and "--external" in err and "missing" in err
    assert "Traceback" not in err


@pytest.mark.slow
def test_cli_learning_curves_and_external(tiny_npz, tmp_path, run_cli):
    rng = np.random.default_rng(2)
    y = np.repeat([0, 1], 6)
    ext = _folder(tmp_path / "site_b", make_images(rng, y), y)
    out = tmp_path / "o"
    code, _, err = run_cli(
        ["study", "--dataset", tiny_npz, "--out", out, *TINY,
         "--approaches", "hybrid-logreg", "--train-sizes", "12,all",
         "--train-repeats", "2", "--external", ext, "--external", ext]
    )  # fmt: skip
    assert code == 0, err
    report = (out / "report.md").read_text()
    assert report.count(f"**{ext}** (12 images)") == 2
    code, printed, _ = run_cli(
        ["study", "--dataset", tiny_npz, "--out", out, *TINY, "--dry-run",
         "--approaches", "hybrid-logreg", "--train-sizes", "12,all",
         "--train-repeats", "2", "--external", ext]
    )  # fmt: skip
    assert code == 0
    assert "learning curves: 3 cells (sizes 12,all of 32 training images" in printed
    assert f"external test set: {ext} (12 images)" in printed
    rows = list(csv.DictReader((out / "learning_curves.csv").open()))
    assert Counter(r["size"] for r in rows) == {"12": 2, "all": 1}


def test_report_crossover_is_fine_tuning_vs_best_hybrid_on_shared_repeats():
    from scipy.stats import norm

    from skmedtl.metrics import learning_curve_crossover
    from skmedtl.study._curves_report import _crossover, _summary

    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 300)
    sizes = [20, 50, 100, 200, 400]

    def scores(auc):
        return y * np.sqrt(2) * norm.ppf(auc) + rng.normal(0, 1, len(y))

    curves = {  # fine-tuning needs data; two hybrids, the better one is "b"
        ("fine_tune:1", "fine_tune"): lambda n: 0.95 - 1.2 / np.sqrt(n),
        ("hybrid-logreg", "hybrid"): lambda n: 0.85 - 0.5 / np.sqrt(n),
        ("hybrid-svm", "hybrid"): lambda n: 0.70,
    }
    rows = []
    for (approach, family), auc in curves.items():
        for n in sizes:
            for repeat in range(3):
                s = scores(auc(n))
                rows.append(
                    {
                        "config": f"b / {approach}",
                        "family": family,
                        "size": "all" if n == sizes[-1] else n,
                        "repeat": repeat,
                        "n_train": n,
                        "validation_score": auc(n),
                        "test_auc": roc_auc_score(y, s),
                        "train_time_s": 1.0,
                        "_y_true": y.tolist(),
                        "_y_score": s,
                    }
                )
    note, result = _crossover(rows, _summary(rows))

    def by(config):
        return [
            np.array([r["_y_score"] for r in rows if r["config"] == config
                      and r["n_train"] == n])
            for n in sizes
        ]  # fmt: skip

    direct = learning_curve_crossover(
        y, sizes, by("b / fine_tune:1"), by("b / hybrid-logreg"), pos_label=1
    )
    assert result.name_a == "b / fine_tune:1" and result.name_b == "b / hybrid-logreg"
    assert result.crossover_size == pytest.approx(direct.crossover_size)
    assert result.significant_from == direct.significant_from
    assert 30 < result.crossover_size < 100 and note == result.note
