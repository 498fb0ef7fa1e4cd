"""Validation labels choose the configuration and nothing else (issue #28).

Two tiny studies that differ only in a permutation of the validation labels
must fit the same models: every cell's test probabilities are equal; only the
validation scores (and so the selection) may change.
"""

from __future__ import annotations

import csv

import numpy as np
import pytest

from skmedtl.study import StudyDataset
from tests._helpers import tiny_study

from ._golden import _images


def _data(permute: bool) -> StudyDataset:
    rng = np.random.default_rng(0)
    images, labels = _images(rng, 48, 2)
    split = np.array(["train"] * 30 + ["val"] * 8 + ["test"] * 10)
    labels = labels.copy()
    if permute:  # validation labels only: still both classes, most of them moved
        val = np.flatnonzero(split == "val")
        labels[val] = labels[val][np.random.default_rng(1).permutation(len(val))]
        assert not np.array_equal(labels[val], _images(rng, 48, 2)[1][val])
    return StudyDataset.from_arrays(images, labels, split=split)


def _run(tmp_path, name: str, permute: bool) -> tuple[dict, dict]:
    out = tmp_path / name
    tiny_study(
        _data(permute),
        out,
        approaches=["hybrid-logreg", "hybrid-svm", "hybrid-rf", "full"],
        max_epochs=2,
        n_bootstraps=20,
        seeds=1,
        n_threads=1,
        save=None,
    ).run()
    with open(out / "predictions.csv", newline="") as f:
        test = {
            (r["config"], r["seed"], r["index"]): (float(r["p_0"]), float(r["p_1"]))
            for r in csv.DictReader(f)
        }
    with open(out / "cells.csv", newline="") as f:
        validation = {
            r["cell"]: float(r["validation_score"]) for r in csv.DictReader(f)
        }
    return test, validation


@pytest.mark.slow
def test_permuting_validation_labels_leaves_test_predictions_unchanged(tmp_path):
    test_a, val_a = _run(tmp_path, "a", permute=False)
    test_b, val_b = _run(tmp_path, "b", permute=True)
    assert test_a.keys() == test_b.keys()
    assert len({k[0] for k in test_a}) == 4  # every approach has test predictions
    for key, proba in test_a.items():
        np.testing.assert_array_equal(proba, test_b[key], err_msg=str(key))
    # the permutation did reach the study: the validation scores moved
    assert val_a.keys() == val_b.keys()
    assert any(abs(val_a[c] - val_b[c]) > 1e-9 for c in val_a)
