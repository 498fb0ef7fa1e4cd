"""Multi-label metrics against scikit-learn and hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, roc_auc_score

from skmedtl.metrics import (
    choose_threshold,
    choose_thresholds,
    mean_auc,
    multilabel_report,
    per_label_auc,
    sensitivity_score,
    specificity_score,
)


@pytest.fixture
def scored():
    rng = np.random.default_rng(3)
    Y = rng.integers(0, 2, (150, 5))
    S = np.clip(Y * rng.uniform(0.1, 0.5, 5) + rng.uniform(0, 0.6, Y.shape), 0, 1)
    S[:, 4] = rng.random(150)  # one uninformative label
    return Y, S


def test_auc_matches_sklearn(scored):
    Y, S = scored
    expected = [roc_auc_score(Y[:, j], S[:, j]) for j in range(5)]
    np.testing.assert_allclose(per_label_auc(Y, S), expected)
    assert mean_auc(Y, S) == pytest.approx(roc_auc_score(Y, S, average="macro"))
    report = multilabel_report(Y, S, n_bootstraps=0)
    assert report["auc"] == pytest.approx(roc_auc_score(Y, S, average="macro"))
    assert report["micro_auc"] == pytest.approx(roc_auc_score(Y, S, average="micro"))


def test_ties_match_sklearn():
    Y = np.array([[1, 0], [0, 1], [1, 1], [0, 0], [1, 0], [0, 1]])
    S = np.array(
        [[0.5, 0.5], [0.5, 0.2], [0.7, 0.5], [0.5, 0.5], [0.2, 0.1], [0.5, 0.5]]
    )
    expected = [roc_auc_score(Y[:, j], S[:, j]) for j in range(2)]
    np.testing.assert_allclose(per_label_auc(Y, S), expected)


def test_accuracy_is_medmnist_acc_and_rates_match(scored):
    """MedMNIST's multi-label ACC: mean over labels of the accuracy at 0.5."""
    Y, S = scored
    report = multilabel_report(Y, S, labels=list("abcde"), n_bootstraps=0)
    pred = (S > 0.5).astype(int)  # no score is exactly 0.5 here
    assert not (S == 0.5).any()
    acc = np.mean([accuracy_score(Y[:, j], pred[:, j]) for j in range(5)])
    assert report["accuracy"] == pytest.approx(acc)
    for j, name in enumerate("abcde"):
        values = report.per_label[name]
        assert values["sensitivity"][0] == pytest.approx(
            sensitivity_score(Y[:, j], pred[:, j])
        )
        assert values["specificity"][0] == pytest.approx(
            specificity_score(Y[:, j], pred[:, j])
        )
        assert values["n_positive"] == Y[:, j].sum()
    sens = [report.per_label[k]["sensitivity"][0] for k in "abcde"]
    assert report["sensitivity"] == pytest.approx(np.mean(sens))


def test_per_label_thresholds_are_used(scored):
    Y, S = scored
    thresholds = [0.2, 0.4, 0.6, 0.8, 0.5]
    report = multilabel_report(Y, S, thresholds=thresholds, n_bootstraps=0)
    for j in range(5):
        pred = (S[:, j] >= thresholds[j]).astype(int)
        assert report.per_label[str(j)]["sensitivity"][0] == pytest.approx(
            sensitivity_score(Y[:, j], pred)
        )
        assert report.per_label[str(j)]["threshold"] == thresholds[j]


def test_bootstrap_intervals(scored):
    Y, S = scored
    a = multilabel_report(Y, S, n_bootstraps=200, random_state=0)
    b = multilabel_report(Y, S, n_bootstraps=200, random_state=0)
    assert a.metrics == b.metrics
    for name, (est, low, high) in a.metrics.items():
        assert low <= est <= high, name
    est, low, high = a.per_label["4"]["auc"]  # the uninformative label
    assert low < 0.5 < high
    est, low, high = a.per_label["0"]["auc"]
    assert low > 0.5
    frame = a.to_frame()
    assert list(frame.index) == ["0", "1", "2", "3", "4"]
    assert "auc_low" in frame.columns
    assert "label" in str(a)


def test_choose_thresholds_per_label(scored):
    Y, S = scored
    got = choose_thresholds(Y, S)
    expected = [choose_threshold(Y[:, j], S[:, j]) for j in range(5)]
    np.testing.assert_allclose(got, expected)
    Y1 = Y.copy()
    Y1[:, 2] = 1  # nothing to choose from: the default
    assert choose_thresholds(Y1, S, default=0.3)[2] == 0.3


def test_single_class_label_is_nan_with_note():
    Y = np.array([[1, 0], [0, 0], [1, 0], [0, 0]])
    S = np.array([[0.9, 0.1], [0.2, 0.3], [0.7, 0.2], [0.1, 0.4]])
    assert np.isnan(per_label_auc(Y, S)[1])
    with pytest.warns(UserWarning, match="only one class"):
        assert mean_auc(Y, S) == 1.0
    report = multilabel_report(Y, S, n_bootstraps=10, random_state=0)
    assert any("'1'" in note for note in report.notes)


@pytest.mark.parametrize(
    "Y, S, match",
    [
        ([[1, 0], [0, 1]], [[0.1, 0.2]], "same shape"),
        ([1, 0], [0.1, 0.2], "same shape"),
        ([[2, 0], [0, 1]], [[0.1, 0.2], [0.3, 0.4]], "only 0 and 1"),
    ],
)
def test_bad_input(Y, S, match):
    with pytest.raises(ValueError, match=match):
        multilabel_report(Y, S)


def test_label_names_must_match():
    with pytest.raises(ValueError, match="labels has 1 names for 2"):
        multilabel_report([[1, 0], [0, 1]], [[0.2, 0.1], [0.3, 0.9]], labels=["a"])
