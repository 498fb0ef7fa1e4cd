"""Sensitivity, specificity, scorers, bootstrap reports and thresholds."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    brier_score_loss,
    f1_score,
    roc_auc_score,
)
from sklearn.model_selection import GridSearchCV

from skmedtl.metrics import (
    choose_threshold,
    classification_report,
    get_scorer,
    make_scoring,
    make_threshold_classifier,
    sensitivity_score,
    specificity_score,
)

# Binary: TP=3, FN=1, TN=4, FP=2.
Y_TRUE_2 = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0])
Y_PRED_2 = np.array([1, 1, 1, 0, 0, 0, 0, 0, 1, 1])
# 3 classes; confusion matrix (rows true, columns predicted):
# [[2, 1, 0], [0, 1, 1], [1, 0, 3]]
Y_TRUE_3 = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2])
Y_PRED_3 = np.array([0, 1, 0, 1, 2, 2, 2, 0, 2])


def test_binary_sensitivity_and_specificity_match_the_confusion_matrix():
    assert sensitivity_score(Y_TRUE_2, Y_PRED_2) == pytest.approx(3 / 4)
    assert specificity_score(Y_TRUE_2, Y_PRED_2) == pytest.approx(4 / 6)
    # the negative class as positive swaps the two
    assert sensitivity_score(Y_TRUE_2, Y_PRED_2, pos_label=0) == pytest.approx(4 / 6)
    assert specificity_score(Y_TRUE_2, Y_PRED_2, pos_label=0) == pytest.approx(3 / 4)


def test_string_labels_and_degenerate_predictions():
    y_true = np.where(Y_TRUE_2 == 1, "malignant", "benign")
    y_pred = np.where(Y_PRED_2 == 1, "malignant", "benign")
    assert sensitivity_score(y_true, y_pred, pos_label="malignant") == pytest.approx(
        0.75
    )
    with pytest.raises(ValueError, match="pos_label=1 is not one of"):
        sensitivity_score(y_true, y_pred)
    all_negative = np.zeros_like(Y_TRUE_2)
    assert sensitivity_score(Y_TRUE_2, all_negative) == 0.0
    assert specificity_score(Y_TRUE_2, all_negative) == 1.0


def test_multiclass_per_class_macro_and_weighted():
    sens = sensitivity_score(Y_TRUE_3, Y_PRED_3, average=None)
    spec = specificity_score(Y_TRUE_3, Y_PRED_3, average=None)
    np.testing.assert_allclose(sens, [2 / 3, 1 / 2, 3 / 4])
    np.testing.assert_allclose(spec, [5 / 6, 6 / 7, 4 / 5])
    assert sensitivity_score(Y_TRUE_3, Y_PRED_3, average="macro") == pytest.approx(
        (2 / 3 + 1 / 2 + 3 / 4) / 3
    )
    assert specificity_score(Y_TRUE_3, Y_PRED_3, average="macro") == pytest.approx(
        (5 / 6 + 6 / 7 + 4 / 5) / 3
    )
    assert sensitivity_score(Y_TRUE_3, Y_PRED_3, average="weighted") == pytest.approx(
        (2 + 1 + 3) / 9
    )
    with pytest.raises(ValueError, match="multiclass"):
        sensitivity_score(Y_TRUE_3, Y_PRED_3)
    with pytest.raises(ValueError, match="average must be"):
        specificity_score(Y_TRUE_3, Y_PRED_3, average="micro-ish")
    with pytest.raises(ValueError, match="equal length"):
        specificity_score(Y_TRUE_3, Y_PRED_3[:-1], average="macro")


def test_scorer_names_work_in_grid_search():
    X, y = make_classification(n_samples=120, random_state=0, weights=[0.7])
    search = GridSearchCV(
        LogisticRegression(),
        {"C": [0.01, 1.0]},
        cv=3,
        scoring=make_scoring("sensitivity", "specificity", "roc_auc"),
        refit="roc_auc",
    ).fit(X, y)
    sens = search.cv_results_["mean_test_sensitivity"]
    assert np.all((sens >= 0) & (sens <= 1))
    single = GridSearchCV(
        LogisticRegression(),
        {"C": [0.01, 1.0]},
        cv=3,
        scoring=get_scorer("specificity"),
    ).fit(X, y)
    assert 0 <= single.best_score_ <= 1
    with pytest.raises(ValueError, match="Unknown scorer 'sensitivty'"):
        get_scorer("sensitivty")
    model = search.best_estimator_
    assert get_scorer("specificity")(model, X, y) == pytest.approx(
        specificity_score(y, model.predict(X))
    )
    assert get_scorer("roc_auc")(model, X, y) > 0.5


def _binary_example(n, seed=0):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.4).astype(int)
    proba = np.clip(0.25 + 0.5 * y + rng.normal(0, 0.25, n), 0, 1)
    return y, proba


def test_report_point_estimates_match_scikit_learn_binary():
    y, proba = _binary_example(300)
    report = classification_report(y, proba, n_bootstraps=50)
    pred = (proba >= 0.5).astype(int)
    assert report["accuracy"] == pytest.approx(accuracy_score(y, pred))
    assert report["balanced_accuracy"] == pytest.approx(
        balanced_accuracy_score(y, pred)
    )
    assert report["auc"] == pytest.approx(roc_auc_score(y, proba))
    assert report["f1"] == pytest.approx(f1_score(y, pred))
    assert report["brier"] == pytest.approx(brier_score_loss(y, proba))
    assert report["sensitivity"] == pytest.approx(sensitivity_score(y, pred))
    assert report["specificity"] == pytest.approx(specificity_score(y, pred))
    # two-column predict_proba output gives the same report
    two = classification_report(y, np.column_stack([1 - proba, proba]), n_bootstraps=50)
    assert two.metrics == report.metrics


def test_report_multiclass_matches_scikit_learn():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 200)
    logits = rng.normal(size=(200, 3)) + 1.5 * np.eye(3)[y]
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    report = classification_report(y, proba, n_bootstraps=50)
    pred = proba.argmax(axis=1)
    assert report["auc"] == pytest.approx(
        roc_auc_score(y, proba, multi_class="ovr", average="macro")
    )
    assert report["f1"] == pytest.approx(f1_score(y, pred, average="macro"))
    assert report["specificity"] == pytest.approx(
        specificity_score(y, pred, average="macro")
    )
    assert report["brier"] == pytest.approx(((proba - np.eye(3)[y]) ** 2).sum(1).mean())
    assert report.averaging == "macro"


def test_confidence_intervals_contain_the_estimate_narrow_and_reproduce():
    y, proba = _binary_example(100)
    small = classification_report(y, proba, n_bootstraps=400, random_state=0)
    for name, (est, low, high) in small.metrics.items():
        assert low <= est <= high, name
    y_big, proba_big = _binary_example(2000)
    big = classification_report(y_big, proba_big, n_bootstraps=400, random_state=0)
    width = {k: v[2] - v[1] for k, v in small.metrics.items()}
    width_big = {k: v[2] - v[1] for k, v in big.metrics.items()}
    for name in ("accuracy", "auc", "sensitivity", "specificity"):
        assert width_big[name] < width[name] / 2, name  # ~ 1/sqrt(n)
    again = classification_report(y, proba, n_bootstraps=400, random_state=0)
    assert again.metrics == small.metrics
    other = classification_report(y, proba, n_bootstraps=400, random_state=1)
    assert other.metrics != small.metrics


def test_report_text_dict_and_frame():
    y, proba = _binary_example(80)
    report = classification_report(y, proba, n_bootstraps=20)
    text = str(report)
    assert "auc" in text and "95% CI" in text and "n=80" in text
    assert set(report.to_dict()["auc"]) == {"estimate", "ci_low", "ci_high"}
    frame = report.to_frame()
    assert frame.shape == (7, 3)
    assert frame.loc["auc", "estimate"] == report["auc"]


def test_report_with_decision_scores_omits_brier_and_needs_a_threshold():
    y, proba = _binary_example(80)
    decision = (proba - 0.5) * 4
    report = classification_report(y, decision, threshold=0.0, n_bootstraps=20)
    assert np.isnan(report["brier"])
    assert report["auc"] == pytest.approx(roc_auc_score(y, decision))
    assert "Brier score is omitted" in str(report)
    with pytest.raises(ValueError, match="threshold or y_pred"):
        classification_report(y, decision, threshold=None)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"y_true": [0, 1], "y_score": [0.2]}, "samples"),
        ({"y_true": [0, 0], "y_score": [0.2, 0.3]}, "two classes"),
        ({"y_true": [0, 1], "y_score": [0.2, np.nan]}, "NaN"),
        ({"y_true": [0, 1], "y_score": [0.2, 0.3], "confidence": 95}, "confidence"),
    ],
)
def test_report_bad_inputs(kwargs, match):
    with pytest.raises(ValueError, match=match):
        classification_report(**kwargs)


def test_youden_threshold_is_the_brute_force_optimum():
    y, proba = _binary_example(300, seed=3)
    threshold = choose_threshold(y, proba)

    def youden(t):
        pred = (proba >= t).astype(int)
        return sensitivity_score(y, pred) + specificity_score(y, pred) - 1

    best = max(youden(t) for t in np.unique(proba))
    assert youden(threshold) == pytest.approx(best)


def test_target_sensitivity_threshold_reaches_the_target_with_best_specificity():
    y, proba = _binary_example(300, seed=4)
    threshold = choose_threshold(
        y, proba, method="sensitivity", target_sensitivity=0.95
    )
    pred = (proba >= threshold).astype(int)
    assert sensitivity_score(y, pred) >= 0.95
    candidates = [
        t
        for t in np.unique(proba)
        if sensitivity_score(y, (proba >= t).astype(int)) >= 0.95
    ]
    best_spec = max(specificity_score(y, (proba >= t).astype(int)) for t in candidates)
    assert specificity_score(y, pred) == pytest.approx(best_spec)
    with pytest.raises(ValueError, match="method"):
        choose_threshold(y, proba, method="f1")


@pytest.mark.slow
def test_threshold_classifier_tunes_on_training_folds_only():
    X, y = make_classification(n_samples=400, weights=[0.8], random_state=0)
    X_train, y_train, X_test = X[:300], y[:300], X[300:]
    clf = make_threshold_classifier(
        LogisticRegression(),
        method="sensitivity",
        target_sensitivity=0.9,
        random_state=0,
    ).fit(X_train, y_train)
    assert 0 < clf.best_threshold_ < 0.5  # screening lowers the default 0.5
    assert clf.predict(X_test).shape == (100,)
    youden = make_threshold_classifier(LogisticRegression()).fit(X_train, y_train)
    assert youden.scoring == "balanced_accuracy"
