"""``predict_files`` runs the network once per batch, calibrated or not.

A recalibrated :class:`StudyModel` gives two sets of columns (``p_<class>``,
the model's own, and ``p_calibrated_<class>``); both come from one
``predict_proba`` of the wrapped model per batch, recalibrated with
:meth:`StudyModel.recalibrate`. Small linear models on PNG files: no network.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.multioutput import MultiOutputClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from skmedtl.metrics import ProbabilityCalibrator
from skmedtl.study import StudyModel
from skmedtl.study._predict import predict_files


class Counting:
    """A fitted estimator that counts its ``predict_proba`` calls and images."""

    def __init__(self, estimator):
        self.estimator = estimator
        self.calls: list[int] = []

    def predict_proba(self, X):
        self.calls.append(len(X))
        return self.estimator.predict_proba(X)

    def __getattr__(self, name):
        return getattr(self.estimator, name)


def _flatten(images):
    return np.stack([np.asarray(x, dtype=float).ravel() / 255 for x in images])


@pytest.fixture
def pngs(tmp_path):
    """11 greyscale 8x8 PNG files, their arrays and a 0/1 label per image."""
    from PIL import Image

    rng = np.random.default_rng(3)
    images = rng.integers(0, 256, (11, 8, 8), dtype=np.uint8)
    paths = []
    for i, image in enumerate(images):
        paths.append(str(tmp_path / f"{i}.png"))
        Image.fromarray(image).save(paths[-1])
    return paths, images


def _pipeline():
    return make_pipeline(FunctionTransformer(_flatten), LogisticRegression(C=0.1))


def test_a_calibrated_model_is_predicted_once_per_batch(pngs):
    paths, images = pngs
    y = (images.mean(axis=(1, 2)) > images.mean()).astype(int)
    y[:2] = [0, 1]
    estimator = _pipeline().fit(list(images), y)
    own = estimator.predict_proba(list(images))
    calibrator = ProbabilityCalibrator("sigmoid").fit(own, y)
    model = StudyModel(estimator, calibrator=calibrator, threshold=0.4).fit()
    expected = model.predict_proba(list(images))  # calibrated, computed apart
    counting = Counting(estimator)
    model.estimator = counting

    rows, notes = predict_files(model, paths, batch_size=4, verbose=0)

    assert counting.calls == [4, 4, 3]  # once per batch, not twice
    assert notes == []
    got_own = np.array([[r["p_0"], r["p_1"]] for r in rows])
    got_final = np.array([[r["p_calibrated_0"], r["p_calibrated_1"]] for r in rows])
    np.testing.assert_allclose(got_own, own, rtol=1e-6)
    np.testing.assert_allclose(got_final, expected, rtol=1e-6)
    assert not np.allclose(got_final, got_own)  # the calibration did something
    decisions = [int(r["decision_label"]) for r in rows]
    assert decisions == (expected[:, 1] >= 0.4).astype(int).tolist()


def test_a_calibrated_multilabel_model_is_predicted_once_per_batch(pngs):
    paths, images = pngs
    flat = _flatten(images)
    Y = np.column_stack([flat[:, :32].mean(1) > 0.5, flat[:, 32:].mean(1) > 0.5])
    Y = Y.astype(int)
    Y[:2] = [[0, 1], [1, 0]]
    estimator = make_pipeline(
        FunctionTransformer(_flatten), MultiOutputClassifier(LogisticRegression(C=0.1))
    ).fit(list(images), Y)
    own = np.column_stack([p[:, 1] for p in estimator.predict_proba(list(images))])
    calibrators = [
        ProbabilityCalibrator("sigmoid").fit(own[:, j], Y[:, j]) for j in range(2)
    ]
    model = StudyModel(
        estimator, class_names=["a", "b"], threshold=[0.3, 0.6], calibrator=calibrators
    ).fit()
    expected = model.predict_proba(list(images))
    counting = Counting(estimator)
    model.estimator = counting

    rows, _ = predict_files(model, paths, batch_size=5, verbose=0)

    assert counting.calls == [5, 5, 1]
    got_own = np.array([[r["p_a"], r["p_b"]] for r in rows])
    got_final = np.array([[r["p_calibrated_a"], r["p_calibrated_b"]] for r in rows])
    np.testing.assert_allclose(got_own, own, rtol=1e-6)
    np.testing.assert_allclose(got_final, expected, rtol=1e-6)
    present = own >= np.array([0.3, 0.6])  # decisions: the model's own probability
    assert [[r["decision_a"], r["decision_b"]] for r in rows] == present.astype(
        int
    ).tolist()


def test_recalibrate_is_predict_proba_from_the_models_own_probabilities(pngs):
    _, images = pngs
    y = np.arange(len(images)) % 2
    estimator = _pipeline().fit(list(images), y)
    plain = StudyModel(estimator).fit()
    own = plain.predict_proba(list(images), calibrated=False)
    np.testing.assert_array_equal(plain.recalibrate(own), own)  # no calibrator
    calibrator = ProbabilityCalibrator("temperature").fit(own, y)
    model = StudyModel(estimator, calibrator=calibrator).fit()
    np.testing.assert_allclose(
        model.recalibrate(own), calibrator.predict_proba(own), rtol=1e-12
    )
    np.testing.assert_allclose(
        model.recalibrate(own), model.predict_proba(list(images)), rtol=1e-12
    )
