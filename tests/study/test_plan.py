"""Planning: grade order of ordinal studies, operating-point rules, seeds, keys."""

from __future__ import annotations

import numpy as np
import pytest

from skmedtl.study import StudyDataset, TransferStudy, get_profile
from skmedtl.study._plan import (
    check_operating_point,
    operating_point,
    ordered_grades,
    profile_overrides,
    study_seeds,
    validation_split,
)
from skmedtl.study._report_stats import _grade_order


def _data(labels, n_per=6, **kwargs):
    labels = np.repeat(labels, n_per)
    images = np.zeros((len(labels), 8, 8), np.uint8)
    return StudyDataset.from_arrays(images, labels, random_state=0, **kwargs)


def test_text_grades_need_their_order():
    data = _data(["high", "low", "medium"])
    with pytest.raises(ValueError, match="--grades low,medium,high"):
        ordered_grades(data, "ordinal", None)
    ordered = ordered_grades(data, "ordinal", "low, medium,high")
    assert ordered.label_order() == ["low", "medium", "high"]
    assert ordered.grades == ("low", "medium", "high")
    assert data.label_order() == ["high", "low", "medium"]  # unordered: sorted


def test_numeric_grades_default_to_increasing_and_can_be_reordered():
    data = _data([0, 1, 2])
    assert ordered_grades(data, "ordinal", None).grades is None
    assert ordered_grades(data, "ordinal", [2, 1, 0]).label_order() == [2, 1, 0]
    named = _data([0, 1, 2], class_names=["mild", "moderate", "severe"])
    assert ordered_grades(named, "ordinal", "severe,moderate,mild").grades == (2, 1, 0)


@pytest.mark.parametrize(
    "grades, match",
    [
        ("low,medium", "every class once"),
        ("low,low,high", "every class once"),
        ("low,medum,high", "Did you mean 'medium'"),
    ],
)
def test_bad_grades_name_the_problem(grades, match):
    with pytest.raises(ValueError, match=match):
        ordered_grades(_data(["high", "low", "medium"]), "ordinal", grades)


def test_grades_belong_to_ordinal_studies():
    with pytest.raises(ValueError, match="task='ordinal'"):
        ordered_grades(_data([0, 1, 2]), "classification", "0,1,2")
    data = _data([0, 1, 2])
    assert ordered_grades(data, "classification", None) is data


def test_two_grades_keep_the_positive_class_highest():
    data = _data(["benign", "malignant"]).with_pos_label("malignant")
    assert ordered_grades(data, "ordinal", "benign,malignant").label_order() == [
        "benign",
        "malignant",
    ]
    with pytest.raises(ValueError, match="highest grade"):
        ordered_grades(data, "ordinal", "malignant,benign")


def test_a_target_needs_two_classes():
    check_operating_point("sensitivity", _data([0, 1]))
    check_operating_point("youden", _data([0, 1, 2]))
    with pytest.raises(ValueError, match="3-class.*--target-sensitivity"):
        check_operating_point("sensitivity", _data([0, 1, 2]))
    labels = np.tile([[0, 1], [1, 0]], (6, 1))
    ml = StudyDataset.from_arrays(np.zeros((12, 8, 8), np.uint8), labels)
    with pytest.raises(ValueError, match="multi-label"):
        check_operating_point("specificity", ml)


def test_operating_point_rules():
    assert operating_point(None, None) == ("youden", None)
    assert operating_point(0.9, None) == ("sensitivity", 0.9)
    assert operating_point(None, 0.8) == ("specificity", 0.8)
    with pytest.raises(ValueError, match="not both"):
        operating_point(0.9, 0.8)


def test_the_study_refuses_a_target_with_three_classes_before_any_work(tmp_path):
    study = TransferStudy(
        _data([0, 1, 2]), tmp_path, weights=None, target_sensitivity=0.9, verbose=0
    )
    with pytest.raises(ValueError, match="target_sensitivity"):
        study.plan()
    assert not (tmp_path / "results.jsonl").exists()


def test_grades_enter_the_cell_keys_only_when_given(tmp_path):
    def keys(**kw):
        study = TransferStudy(
            _data([0, 1, 2]),
            tmp_path,
            backbones=["lenet5"],
            approaches=["hybrid-logreg"],
            weights=None,
            task="ordinal",
            **kw,
        )
        return [c["key"] for c in study.plan()], study

    plain, _ = keys()
    reordered, study = keys(grades=[2, 1, 0])
    assert plain != reordered
    assert study.cells_[0].settings["grades"] == ["2", "1", "0"]
    assert "grades" not in keys()[1].cells_[0].settings


def test_the_report_states_the_grade_order():
    assert _grade_order({"grades": ["low", "medium", "high"]}) == "low < medium < high"
    text = _grade_order({"dataset": {"classes": ["0", "1", "2"]}})
    assert text == "0 < 1 < 2 (the labels' increasing order)"


def test_seeds_and_profile_overrides():
    assert study_seeds(3, 5) == [5, 6, 7]
    assert study_seeds([4, 2], 0) == [4, 2]
    for bad in (0, [1, 1], ["a"]):
        with pytest.raises(ValueError, match="seeds"):
            study_seeds(bad, 0)
    p = profile_overrides(
        get_profile("quick"),
        {"backbones": "a, b", "lrs": 0.1, "input_size": "native", "max_epochs": 2},
    )
    assert p.backbones == ("a", "b") and p.lrs == (0.1,)
    assert p.input_size is None and p.max_epochs == 2
    with pytest.raises(ValueError, match="backbones is empty"):
        profile_overrides(get_profile("quick"), {"backbones": " , "})


def test_the_validation_split_is_made_once_and_hashed():
    data = _data([0, 1], n_per=20)
    a, b = validation_split(data, 0), validation_split(data, 0)
    assert a.digest == b.digest and (a.mask == b.mask).all()
    assert 0 < a.mask.sum() < len(a.mask) and "stratified" in a.source
    assert validation_split(data, 1).digest != a.digest


def test_the_cli_takes_grades(tiny_npz, tmp_path, run_cli):
    base = ["study", "--dataset", tiny_npz, "--weights", "none", "-q"]
    code, _, err = run_cli([*base, "--out", tmp_path / "a", "--grades", "0,1"])
    assert code == 2 and "ordinal" in err and "Traceback" not in err
    argv = [*base, "--out", tmp_path / "b", "--task", "ordinal", "--grades", "1,0"]
    code, _, err = run_cli(argv)
    assert code == 2 and "highest grade" in err
