"""The report's saliency figure uses the report's positive class and threshold."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from skmedtl.study._explanations import outcome_inputs


class _Model:
    """A BreastMNIST-like study model: malignant = 0 is positive (last column)."""

    def __init__(self, threshold):
        self.classes_ = np.array([1, 0])
        self.pos_label_ = 0
        self.threshold_ = threshold
        self.estimator = SimpleNamespace(classes_=np.array([0, 1]))
        self.own = np.array([[0.9, 0.1], [0.7, 0.3], [0.2, 0.8], [0.6, 0.4]])

    def predict_proba(self, X, calibrated=True):
        return self.own ** (0.5 if calibrated else 1.0)


def test_binary_outcomes_use_the_positive_class_and_the_operating_point():
    model = _Model(threshold=0.238)
    y = np.array([1, 0, 0, 1])  # benign, malignant, malignant, benign
    inputs = outcome_inputs(model, None, y)
    # calibrated probability of malignant (column of pos_label_ in classes_)
    np.testing.assert_allclose(inputs["proba"], np.sqrt([0.1, 0.3, 0.8, 0.4]))
    assert inputs["threshold"] == 0.238
    # the figure's positive (its network's classes_[1] = 1) stands for malignant
    np.testing.assert_array_equal(inputs["y_true"], [0, 1, 1, 0])
    assert inputs["saliency_params"] == {"target": 0}
    positive = inputs["y_true"] == 1
    predicted = inputs["proba"] >= inputs["threshold"]
    # all four predicted malignant at .238: 2 true, 2 false positives
    assert (positive & predicted).sum() == 2 and (~positive & predicted).sum() == 2


def test_without_an_operating_point_the_model_s_own_probability_at_one_half():
    inputs = outcome_inputs(_Model(threshold=None), None, np.array([1, 0, 0, 1]))
    np.testing.assert_allclose(inputs["proba"], [0.1, 0.3, 0.8, 0.4])
    assert inputs["threshold"] == 0.5


def test_more_classes_pass_the_probabilities_through():
    model = _Model(threshold=None)
    model.classes_ = np.array([0, 1, 2])
    model.own = np.full((2, 3), 1 / 3)
    inputs = outcome_inputs(model, None, [0, 2])
    assert set(inputs) == {"y_true", "proba"}
    np.testing.assert_allclose(inputs["proba"], np.full((2, 3), 1 / np.sqrt(3)))


def test_recorded_test_probabilities_replace_predicting_the_test_set_again():
    """The selected cell's record gives the same inputs as predicting again."""
    for threshold, calibrator in ((0.238, object()), (None, None), (0.3, None)):
        model = _Model(threshold=threshold)
        model.calibrator = calibrator
        y = np.array([1, 0, 0, 1])
        record = {
            "test_proba": model.own.tolist(),
            "test_proba_calibrated": None
            if calibrator is None
            else np.sqrt(model.own).tolist(),
        }
        if calibrator is None:  # without recalibration both are the model's own
            model.predict_proba = lambda X, calibrated=True, m=model: m.own
        predicted = outcome_inputs(model, None, y)
        model.predict_proba = None  # must not be called
        recorded = outcome_inputs(model, None, y, record)
        np.testing.assert_allclose(recorded["proba"], predicted["proba"])
        assert recorded["threshold"] == predicted["threshold"]
