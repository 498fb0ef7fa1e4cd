"""Nested cross-validation (``cv=K`` / ``--cv K``): the selection protocol per fold."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from PIL import Image
from scipy.stats import t as student_t

from skmedtl.study import StudyDataset, TransferStudy
from skmedtl.study._nested import AUTO_K, AUTO_MAX_IMAGES, parse_cv, resolve_cv
from tests._helpers import TINY_STUDY

from .conftest import TINY

# the tiny study without its cv (each test sets its own), fewer resamples, no save
FAST = {
    **{k: v for k, v in TINY_STUDY.items() if k != "cv"},
    "n_bootstraps": 20,
    "save": "none",
}


def _images(rng, labels, signal=40):
    """Noisy images with a weak bright square in class 1: imperfect scores."""
    labels = np.asarray(labels)
    images = rng.integers(0, 256, (len(labels), 16, 16)).astype(np.int16)
    images[labels == 1, 4:12, 4:12] += signal
    return np.clip(images, 0, 255).astype(np.uint8)


def _data(n_patients=24, per_patient=2, seed=0, labels=None):
    """A hold-out data set (no official split): two images per patient."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(n_patients) % 2, per_patient)
    groups = np.repeat([f"p{i}" for i in range(n_patients)], per_patient)
    images = _images(rng, y)
    labels = y if labels is None else labels
    return StudyDataset.from_arrays(images, labels, groups=groups)


# -- parameter checks ---------------------------------------------------------------
@pytest.mark.parametrize(
    "value, expected",
    [
        (None, None),
        (0, None),
        ("0", None),
        ("none", None),
        ("off", None),
        ("auto", "auto"),
        ("AUTO", "auto"),
        (2, 2),
        ("5", 5),
    ],
)
def test_parse_cv_accepts_numbers_auto_and_off(value, expected):
    assert parse_cv(value) == expected


@pytest.mark.parametrize("value", [1, "1", -3, "many", 2.5, True])
def test_parse_cv_refuses_bad_values_naming_the_flag(value):
    with pytest.raises(ValueError, match=r"cv \(--cv\)"):
        parse_cv(value)


def test_study_refuses_bad_cv(tmp_path):
    with pytest.raises(ValueError, match="cv"):
        TransferStudy(
            _data(), tmp_path, approaches=["hybrid-logreg"], cv=1, **FAST
        ).plan()


def test_cv_refused_on_an_official_split(tmp_path, tiny_npz, run_cli):
    study = TransferStudy(tiny_npz, tmp_path / "a", cv=3, **FAST)
    with pytest.raises(ValueError, match=r"own test split.*--cv 0"):
        study.plan()
    argv = ["study", "--dataset", tiny_npz, "--out", tmp_path / "o", *TINY]
    code, _, err = run_cli([*argv, "--cv", "3"])
    assert code == 2 and "--cv" in err and "Traceback" not in err
    # auto never gives an official split outer folds; 0 turns it off
    for cv in ("auto", 0, "none"):
        assert resolve_cv(cv, study.data_) is None


def test_cv_above_the_smallest_class_patients_is_refused(tmp_path):
    # class 1: 4 patients (8 images), class 0: 12 patients
    labels = np.repeat([1] * 4 + [0] * 12, 2)
    rng = np.random.default_rng(0)
    data = StudyDataset.from_arrays(
        _images(rng, labels), labels, groups=np.repeat(np.arange(16), 2)
    )
    assert resolve_cv(4, data) == 4
    with pytest.raises(
        ValueError, match=r"\(--cv\) 5.*smallest class has patients \(4\)"
    ):
        resolve_cv(5, data)
    assert resolve_cv("auto", data) == 4  # auto: fewer folds than 5


def test_auto_is_on_below_the_size_limit_only():
    assert resolve_cv("auto", _data()) == AUTO_K
    n = AUTO_MAX_IMAGES
    labels = np.arange(n) % 2
    big = StudyDataset.from_arrays(np.zeros((n, 2, 2), np.uint8), labels)
    assert resolve_cv("auto", big) is None
    assert resolve_cv(4, big) == 4  # an explicit K is always honoured


def test_outer_folds_keep_each_patient_in_one_fold(tmp_path):
    data = _data(n_patients=30, per_patient=3)
    study = TransferStudy(data, tmp_path, approaches=["hybrid-logreg"], cv=4, **FAST)
    study.plan()
    plan, groups = study.nested_, np.asarray(data.groups)
    assert plan.k == 4 and plan.grouped
    tests = np.concatenate([f.test for f in plan.folds])
    assert sorted(tests) == list(range(len(data.labels)))  # a partition
    for fold in plan.folds:
        assert set(fold.dev) | set(fold.test) == set(range(len(data.labels)))
        train, val = fold.dev[~fold.val_mask], fold.dev[fold.val_mask]
        parts = [set(groups[p]) for p in (train, val, fold.test)]
        assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])
        assert set(data.labels[fold.test]) == {0, 1}  # stratified
    assert len(plan.cells) == 4 * len(study.cells_)
    assert len({c.cell.key for c in plan.cells}) == len(plan.cells)


# -- running ------------------------------------------------------------------------
APPROACHES = ["hybrid-logreg", "feature_extractor"]


@pytest.fixture(scope="module")
def nested_study(tmp_path_factory):
    out = tmp_path_factory.mktemp("nested") / "study"
    study = TransferStudy(_data(), out, approaches=APPROACHES, cv=3, **FAST)
    study.run()
    return study


def _fold_records(out) -> list[dict]:
    lines = (out / "results.jsonl").read_text().splitlines()
    lines = [line for line in lines if line.endswith("}")]  # not a torn line
    return [r for r in map(json.loads, lines) if r.get("type") == "nested"]


@pytest.mark.slow
def test_summary_numbers_match_the_fold_records(nested_study):
    out = nested_study.out_dir
    facts = json.loads((out / "study.json").read_text())["nested_cv"]
    records = _fold_records(out)
    assert len(records) == 3 * len(APPROACHES)
    by_fold: dict = {}
    for r in records:
        config = f"{r['backbone']} / {r['approach']}"
        by_fold.setdefault(r["fold"], {})[config] = (
            r["validation"]["score"],
            r["metrics"]["auc"][0],
        )
    selected_test = []
    for fold in facts["folds"]:
        scores = by_fold[fold["fold"]]
        best = max(v for v, _ in scores.values())
        assert scores[fold["selected"]][0] == best  # selected on validation
        assert fold["selected_test"] == pytest.approx(scores[fold["selected"]][1])
        selected_test.append(scores[fold["selected"]][1])
        assert fold["sizes"]["n_test"] == len(
            next(r for r in records if r["fold"] == fold["fold"])["test_index"]
        )
    k = len(selected_test)
    assert facts["estimate"] == pytest.approx(np.mean(selected_test))
    assert facts["sd"] == pytest.approx(np.std(selected_test, ddof=1))
    half = student_t.ppf(0.975, k - 1) * np.std(selected_test, ddof=1) / np.sqrt(k)
    assert facts["low"] == pytest.approx(np.mean(selected_test) - half)
    for c in facts["configs"]:
        tests = [by_fold[f][c["config"]][1] for f in by_fold]
        assert c["test_mean"] == pytest.approx(np.mean(tests))
        assert c["test_sd"] == pytest.approx(np.std(tests, ddof=1))
        assert c["n_selected"] == sum(
            f["selected"] == c["config"] for f in facts["folds"]
        )
    assert sum(c["n_selected"] for c in facts["configs"]) == k
    # the report states the recorded numbers
    report = (out / "report.md").read_text()
    assert "## Nested cross-validation" in report
    assert f"AUC {facts['estimate']:.3f}, the mean over {k} outer folds" in report
    assert f"SD {facts['sd']:.3f} over folds" in report
    # the fold cells reused the study's embeddings: one extraction in the log
    lines = (out / "results.jsonl").read_text().splitlines()
    assert sum('"type":"extraction"' in line for line in lines) == 1
    # every fold's outer test images are outside its training and validation
    for r in records:
        fold = nested_study.nested_.folds[r["fold"]]
        assert sorted(r["test_index"]) == sorted(fold.test.tolist())
        assert not set(fold.dev) & set(r["test_index"])


@pytest.mark.slow
def test_outer_test_labels_never_reach_the_fold_selection(nested_study, tmp_path):
    """Permuting fold 1's outer test labels leaves its selection and predictions."""
    fold = nested_study.nested_.folds[0]
    labels = np.array(nested_study.data_.labels)
    rng = np.random.default_rng(1)
    labels[fold.test] = rng.permutation(labels[fold.test])
    while np.array_equal(labels[fold.test], nested_study.data_.labels[fold.test]):
        labels[fold.test] = rng.permutation(labels[fold.test])
    permuted = TransferStudy(
        _data(labels=labels), tmp_path / "p", approaches=APPROACHES, cv=3, **FAST
    )
    permuted.plan()
    permuted.nested_ = nested_study.nested_  # the same folds (stratification aside)
    permuted.run()
    before = [r for r in _fold_records(nested_study.out_dir) if r["fold"] == 0]
    after = {r["key"]: r for r in _fold_records(tmp_path / "p") if r["fold"] == 0}
    changed = False
    for r in before:
        a = after[r["key"]]
        assert a["validation"]["score"] == r["validation"]["score"]
        np.testing.assert_allclose(a["val_proba"], r["val_proba"])
        np.testing.assert_allclose(a["test_proba"], r["test_proba"])
        changed |= a["metrics"]["auc"][0] != r["metrics"]["auc"][0]
    assert changed  # the outer test labels did change the outer test scores
    facts = [
        json.loads((p / "study.json").read_text())["nested_cv"]["folds"][0]
        for p in (nested_study.out_dir, tmp_path / "p")
    ]
    assert facts[0]["selected"] == facts[1]["selected"]


@pytest.mark.slow
def test_a_killed_nested_run_resumes_its_unfinished_folds(nested_study, tmp_path):
    out = tmp_path / "copy"
    shutil.copytree(nested_study.out_dir, out)
    log = out / "results.jsonl"
    lines = log.read_text().splitlines()
    nested = [i for i, line in enumerate(lines) if '"type":"nested"' in line]
    dropped = {json.loads(lines[i])["key"] for i in nested[-2:]}
    # as if killed before the last two fold cells were written (and a torn line)
    log.write_text("\n".join(lines[: nested[-2]]) + '\n{"type":"nes')
    study = TransferStudy(_data(), out, approaches=APPROACHES, cv=3, **FAST)
    with pytest.warns(RuntimeWarning, match="incomplete line"):
        study.run()
    records = _fold_records(out)
    rerun = {r["key"] for r in records if r["run_id"] != records[0]["run_id"]}
    assert rerun == dropped
    before = json.loads((nested_study.out_dir / "study.json").read_text())
    after = json.loads((out / "study.json").read_text())
    assert [f["selected"] for f in after["nested_cv"]["folds"]] == [
        f["selected"] for f in before["nested_cv"]["folds"]
    ]
    assert after["nested_cv"]["n_complete"] == 3


@pytest.mark.slow
def test_cv_flag_end_to_end(tmp_path, run_cli):
    rng = np.random.default_rng(0)
    labels = np.arange(24) % 2
    for i, (image, y) in enumerate(zip(_images(rng, labels), labels, strict=True)):
        folder = tmp_path / "data" / ["benign", "malignant"][y]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(folder / f"im{i}.png")
    argv = ["study", "--dataset", tmp_path / "data", "--out", tmp_path / "o", *TINY]
    argv += ["--approaches", "hybrid-logreg", "--save", "none", "--cv", "2"]
    code, out, err = run_cli([*argv, "--dry-run"])
    assert code == 0 and "nested cross-validation: 2 outer folds, 2 fold cells" in out
    code, out, err = run_cli(argv)
    assert code == 0, err
    facts = json.loads((tmp_path / "o" / "study.json").read_text())["nested_cv"]
    assert facts["k"] == 2 and facts["n_complete"] == 2 and not facts["grouped"]
    assert [f["sizes"]["n_test"] for f in facts["folds"]] == [12, 12]
    assert "## Nested cross-validation" in (tmp_path / "o" / "report.md").read_text()


def test_t_interval_is_the_t_interval_of_the_mean_clipped_to_the_metric_range():
    from scipy import stats

    from skmedtl.study._nested_summary import t_interval

    values = [0.70, 0.74, 0.81, 0.77]
    low, high = t_interval(values)
    expected = stats.t.interval(
        0.95, len(values) - 1, loc=np.mean(values), scale=stats.sem(values)
    )
    assert (low, high) == pytest.approx(expected)
    assert t_interval([0.96, 1.0, 0.97])[1] == 1.0  # an AUC never exceeds 1
    assert t_interval([0.8]) == (None, None)
