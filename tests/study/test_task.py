"""The study's Task: decided once, the one place that knows the task."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.multioutput import MultiOutputClassifier

from skmedtl.study import MultiLabelStudyModel, StudyDataset, StudyModel
from skmedtl.study._task import MULTILABEL, Task

STUDY = Path(__file__).resolve().parents[2] / "skmedtl" / "study"


def test_task_of_labels_decides_every_kind():
    assert Task.of_labels([0, 1, 1, 0]).kind == "binary"
    assert Task.of_labels(["a", "b", "c"]).kind == "multiclass"
    ordinal = Task.of_labels([0, 1, 2], grades=[2, 1, 0])
    assert ordinal.kind == "ordinal" and ordinal.grades == (2, 1, 0)
    matrix = Task.of_labels(np.array([[0, 1], [1, 1]]))
    assert matrix.kind == MULTILABEL and matrix.per_label
    assert not Task.of_labels([0, 1]).per_label


def test_unknown_kind_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="task must be one of"):
        Task("regression")


def test_records_cards_and_summaries_name_the_task_the_same_way():
    assert Task.of_records([{"task": MULTILABEL}]).per_label
    assert not Task.of_records([{"classes": ["a", "b"]}]).per_label
    assert not Task.of_records([]).per_label
    assert Task.of_mapping({"task": MULTILABEL}).field == MULTILABEL
    assert Task.of_mapping({}).field is None


def test_dataset_decides_its_task_once_from_labels_and_grades():
    images = np.zeros((12, 8, 8), np.uint8)
    data = StudyDataset.from_arrays(images, [0, 1, 2] * 4, random_state=0)
    assert data.task.kind == "multiclass"
    graded = data.with_grades([2, 0, 1])
    assert graded.task == Task("ordinal", (2, 0, 1))
    Y = np.array([[0, 1], [1, 0], [1, 1], [0, 0]] * 3)
    assert StudyDataset.from_arrays(images, Y, random_state=0).task.per_label


def test_fitted_classes_and_models_give_their_task():
    X = np.arange(8.0).reshape(-1, 1)
    Y = np.array([[0, 1], [0, 1], [0, 0], [0, 0], [1, 1], [1, 1], [1, 0], [1, 0]])
    heads = MultiOutputClassifier(LogisticRegression()).fit(X, Y)
    assert Task.of_classes(heads.classes_).per_label
    single = LogisticRegression().fit(X, Y[:, 0])
    assert Task.of_classes(single.classes_).kind == "binary"
    assert Task.of_classes(None).kind == "multiclass"
    assert Task.of_model(MultiLabelStudyModel(heads).fit()).per_label
    assert not Task.of_model(StudyModel(single).fit()).per_label
    tags = MultiLabelStudyModel(heads).__sklearn_tags__()
    assert tags.classifier_tags.multi_label


def test_pooling_dispatches_on_the_task():
    from skmedtl.study._per_label import evaluate_per_label

    rng = np.random.default_rng(0)
    Y = rng.integers(0, 2, (60, 3))
    records = []
    for _ in range(2):
        P = np.clip(Y * 0.4 + rng.random(Y.shape) * 0.6, 0, 1)
        record = evaluate_per_label(Y, P, 0.5, "abc", 20)
        records.append(record)
    from skmedtl.study._summary import poolers

    mean_auc = np.mean([r["metrics"]["auc"][0] for r in records])
    pooled = poolers(Task(MULTILABEL)).metrics(records, 20)
    assert pooled["auc"][0] == pytest.approx(mean_auc, abs=1e-9)
    with pytest.raises(ValueError, match="1-D"):  # not a label matrix
        poolers(Task("binary")).metrics(records, 20)


def test_only_the_task_module_names_the_task():
    found = subprocess.run(
        ["grep", "-rln", r"multilabel\|multi_label", str(STUDY)],
        capture_output=True,
        text=True,
    ).stdout.split()
    assert [Path(f).name for f in found] == ["_task.py"]


def test_one_dataset_builder_checks_each_task_with_its_own_words():
    images = np.zeros((12, 8, 8), np.uint8)
    Y = np.array([[0, 1], [1, 0], [1, 1], [0, 0]] * 3)
    data = StudyDataset.from_arrays(images, Y, class_names=["a", "b"])
    assert data.labels.dtype == np.int64 and data.class_names == ["a", "b"]
    assert data.pos_label is None and data.summary()["task"] == MULTILABEL
    with pytest.raises(ValueError, match="read as multi-label"):
        StudyDataset.from_arrays(images, Y * 2)
    with pytest.raises(ValueError, match="one positive class per label"):
        StudyDataset.from_arrays(images, Y, pos_label=1)
    with pytest.raises(ValueError, match="12 images but 11 label rows"):
        StudyDataset.from_arrays(images, Y[:11])
    with pytest.raises(ValueError, match="3 names for 2 labels"):
        StudyDataset.from_arrays(images, Y, class_names=["a", "b", "c"])
    with pytest.raises(ValueError, match="Label '1' is always present"):
        StudyDataset.from_arrays(images, np.c_[Y[:, 0], np.ones(12, int)])
    with pytest.raises(ValueError, match="looks like 3-D volumes"):
        StudyDataset.from_arrays(np.zeros((12, 5, 8, 8)), Y)
    y = [0, 1, 2] * 4
    with pytest.raises(ValueError, match="12 images but 11 labels"):
        StudyDataset.from_arrays(images, y[:11])
    with pytest.raises(ValueError, match="2 names for 3 classes"):
        StudyDataset.from_arrays(images, y, class_names=["a", "b"])
    assert StudyDataset.from_arrays(images, y).class_names == ["0", "1", "2"]


def test_an_ordinal_study_refuses_multi_label_data():
    from skmedtl.study._plan import ordered_grades

    Y = np.array([[0, 1], [1, 0], [1, 1], [0, 0]] * 3)
    data = StudyDataset.from_arrays(np.zeros((12, 8, 8), np.uint8), Y)
    with pytest.raises(ValueError, match="one grade per image"):
        ordered_grades(data, "ordinal", None)
