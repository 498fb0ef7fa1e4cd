"""predictions.csv: one writer, the task's columns from study/_task.py."""

from __future__ import annotations

import csv

import numpy as np

from skmedtl.study._predictions import PREDICTION_COLUMNS, write_predictions
from skmedtl.study._task import MULTILABEL, prediction_columns, task_of_records


def _single(calibrated=False, key="k1"):
    record = {
        "backbone": "b",
        "approach": "hybrid-svm",
        "seed": 0,
        "key": key,
        "classes": ["benign", "malignant"],
        "test_index": [5, 7],
        "y_true": [0, 1],
        "y_pred": [1, 1],
        "test_proba": [[0.25, 0.75], [0.1, 0.9]],
        "test_proba_calibrated": [[0.5, 0.5], [0.2, 0.8]] if calibrated else None,
    }
    return record


def _read(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def test_single_label_rows_and_exact_probabilities(tmp_path):
    path = tmp_path / "p.csv"
    write_predictions(path, [_single()], np.zeros((10, 4, 4)))
    header, *rows = _read(path)
    assert header == PREDICTION_COLUMNS + ["p_benign", "p_malignant"]
    assert rows[0] == [
        "b / hybrid-svm", "b", "hybrid-svm", "0", "k1", "5", "", "benign",
        "malignant", "0.25", "0.75",
    ]  # fmt: skip
    assert float(rows[1][-1]) == 0.9 and rows[1][7] == "malignant"


def test_calibrated_columns_are_blank_for_cells_without_recalibration(tmp_path):
    path = tmp_path / "p.csv"
    records = [_single(calibrated=True), _single(key="k2")]
    write_predictions(path, records, ["a.png"] * 10)
    header, *rows = _read(path)
    assert header[-2:] == ["p_calibrated_benign", "p_calibrated_malignant"]
    assert rows[0][-2:] == ["0.5", "0.5"] and rows[2][-2:] == ["", ""]
    assert rows[0][6] == "a.png"  # paths are written


def test_multilabel_rows_join_present_labels_and_give_thresholds(tmp_path):
    record = {
        "backbone": "b",
        "approach": "hybrid-logreg",
        "seed": 1,
        "key": "k",
        "task": MULTILABEL,
        "classes": ["effusion", "mass"],
        "test_index": [0],
        "y_true": [[1, 1]],
        "y_pred": [[0, 1]],
        "y_score": [[0.3, 0.6]],
        "test_proba": [[0.3, 0.6]],
        "thresholds": [0.4, 0.5],
        "test_proba_calibrated": None,
    }
    assert task_of_records([record]) == MULTILABEL
    assert task_of_records([_single()]) == "single" and task_of_records([]) == "single"
    path = tmp_path / "p.csv"
    write_predictions(path, [record], None)
    header, row = _read(path)
    assert header[len(PREDICTION_COLUMNS) :] == [
        "p_effusion", "p_mass", "threshold_effusion", "threshold_mass",
    ]  # fmt: skip
    assert row[7:] == ["effusion;mass", "mass", "0.3", "0.6", "0.4", "0.5"]


def test_no_records_write_nothing(tmp_path):
    write_predictions(tmp_path / "p.csv", [], None)
    assert not (tmp_path / "p.csv").exists()
    assert prediction_columns([_single()]).header() == ["p_benign", "p_malignant"]
