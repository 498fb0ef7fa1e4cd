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
from skmedtl.study._predict import CALL_BATCHES, predict_files


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


def _call_sizes(n: int, batch_size: int) -> list[int]:
    """Images per call of the model: CALL_BATCHES batches at a time."""
    span = batch_size * CALL_BATCHES
    return [min(span, n - start) for start in range(0, n, span)]


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

    rows, notes = predict_files(model, paths, batch_size=1, verbose=0)

    assert counting.calls == _call_sizes(11, 1)  # once per call, not twice
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

    rows, _ = predict_files(model, paths, batch_size=1, verbose=0)

    assert counting.calls == _call_sizes(11, 1)
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


def _grey_model(images):
    y = (images.mean(axis=(1, 2)) > images.mean()).astype(int)
    y[:2] = [0, 1]
    return StudyModel(_pipeline().fit(list(images), y)).fit()


def _spoil(paths, broken: int, colour: int) -> None:
    """Make ``paths[broken]`` an unreadable file and ``paths[colour]`` RGB."""
    from PIL import Image

    with open(paths[broken], "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n truncated")
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(paths[colour])


def test_each_file_is_read_once_in_streamed_batches(pngs, monkeypatch):
    from PIL import Image

    import skmedtl.io

    paths, images = pngs
    model = _grey_model(images)
    _spoil(paths, broken=2, colour=6)
    events: list[tuple[str, int]] = []
    read_image = skmedtl.io.read_image

    def logged_read(path, **kwargs):
        events.append(("read", paths.index(path)))
        return read_image(path, **kwargs)

    class Logged(Counting):
        def predict_proba(self, X):
            events.append(("predict", len(X)))
            return super().predict_proba(X)

    monkeypatch.setattr(skmedtl.io, "read_image", logged_read)
    counting = Logged(model.estimator)
    model.estimator = counting
    grey = {"channels": [1], "dtypes": ["uint8"], "intensity": "auto"}

    rows, notes = predict_files(
        model, paths, expected_input=grey, batch_size=1, verbose=0
    )

    reads = [i for kind, i in events if kind == "read"]
    assert sorted(reads) == list(range(11))  # every file read once, no more
    span = CALL_BATCHES  # images per call of the model
    bad = {2, 6}
    expected = [
        len(set(range(start, min(start + span, 11))) - bad)
        for start in range(0, 11, span)
    ]
    assert len(expected) > 2 and counting.calls == expected  # less the bad files
    # Streaming: when call k is predicted, at most call k + 1 has been read.
    for k, at in enumerate(i for i, e in enumerate(events) if e[0] == "predict"):
        assert max(i for kind, i in events[:at] if kind == "read") < span * (k + 2)
    assert notes == []
    # Unreadable and unfitting files are rows with their reason, in place.
    assert "not a readable image" in rows[2]["error"] and "p_0" not in rows[2]
    assert "3 channels" in rows[6]["error"] and "greyscale" in rows[6]["error"]
    assert [r["path"] for r in rows] == paths
    # The others: exactly the model's probabilities of the arrays, read apart.
    calls = [
        [i for i in range(start, min(start + span, 11)) if i not in bad]
        for start in range(0, 11, span)
    ]
    for batch in calls:
        arrays = [np.asarray(Image.open(paths[i])) for i in batch]
        expected = model.estimator.estimator.predict_proba(arrays)
        for i, p in zip(batch, expected, strict=True):
            assert rows[i]["error"] == ""
            assert [rows[i]["p_0"], rows[i]["p_1"]] == p.tolist()
            assert rows[i]["predicted_label"] == str(int(np.argmax(p)))


def test_a_missing_reader_stops_predict_instead_of_becoming_a_row(pngs, monkeypatch):
    import skmedtl.io

    paths, images = pngs
    model = _grey_model(images)
    read_image = skmedtl.io.read_image

    def needs_a_plugin(path, **kwargs):
        if path == paths[7]:
            raise ImportError("reading this file needs pydicom")
        return read_image(path, **kwargs)

    monkeypatch.setattr(skmedtl.io, "read_image", needs_a_plugin)
    with pytest.raises(ImportError, match="pydicom"):
        predict_files(model, paths, batch_size=3, verbose=0)


def test_other_bit_depths_are_counted_across_batches(pngs):
    from PIL import Image

    paths, images = pngs
    model = _grey_model(images)
    for i in (1, 5, 9):  # 16-bit PNGs, one in each of three batches
        Image.fromarray(images[i].astype(np.uint16) * 257).save(paths[i])
    grey = {"channels": [1], "dtypes": ["uint8"], "intensity": "auto"}
    rows, notes = predict_files(
        model, paths, expected_input=grey, batch_size=4, verbose=0
    )
    assert all(r["error"] == "" for r in rows)
    assert len(notes) == 1 and notes[0].startswith("3 image(s) are uint16")
