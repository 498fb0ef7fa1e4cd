"""CNNFeatures(precision="int8"): static quantisation calibrated in fit."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest

from skmedtl.cache import config_fingerprint
from skmedtl.features._engines import default_onnx_dir
from skmedtl.features._quantize import (
    Int8Calibration,
    calibration_digest,
    embedding_fidelity,
)

from ..conftest import tiny_features

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

CAL = {"size": 16}


@pytest.fixture(scope="module")
def images():
    # Smooth random blobs: activations with a realistic spread.
    rng = np.random.default_rng(0)
    base = rng.normal(size=(24, 8, 8))
    up = np.kron(base, np.ones((4, 4)))
    return np.clip(128 + 40 * up + rng.normal(0, 5, up.shape), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def fitted(images, tmp_path_factory):
    # Module fixtures run before the autouse fixture that sets SKMEDTL_HOME.
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SKMEDTL_HOME", str(tmp_path_factory.getbasetemp() / "home"))
        f8 = tiny_features(precision="int8", int8_calibration=CAL).fit(images)
        f32 = tiny_features(backend="onnxruntime").fit(images)
    return f8, f32


def _cos(a, b):
    return np.sum(a * b, 1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


def test_int8_embeddings_are_close_to_float32_but_not_equal(fitted, images):
    f8, f32 = fitted
    z8, z32 = f8.transform(images), f32.transform(images)
    assert z8.dtype == np.float32 and z8.shape == z32.shape
    cos = _cos(z8.astype(np.float64), z32.astype(np.float64))
    assert cos.min() > 0.98
    assert not np.allclose(z8, z32, rtol=1e-5, atol=1e-6)  # it really is int8
    # Fitted fidelity: held-back share of the 16-image sample, cosine as above.
    fid = f8.int8_fidelity_
    assert fid["n_calibration"] == 12 and fid["n_holdout"] == 4
    assert 0.98 < fid["min_cosine"] <= fid["mean_cosine"] <= 1.0
    assert fid["excluded"] and fid["excluded"][0].endswith("Conv")  # first conv


def test_precision_and_calibration_digest_are_in_the_cache_namespace(fitted, images):
    f8, f32 = fitted
    assert f8.feature_config_["precision"] == "int8"
    digest = f8.feature_config_["int8"]["calibration_digest"]
    assert digest == calibration_digest(f8._int8_sample)
    assert config_fingerprint(f8.feature_config_) != config_fingerprint(
        f32.feature_config_
    )
    # Other calibration images: another digest, another namespace.
    other = tiny_features(precision="int8", int8_calibration=CAL).fit(images[::-1])
    assert other.feature_config_["int8"]["calibration_digest"] != digest
    assert config_fingerprint(other.feature_config_) != config_fingerprint(
        f8.feature_config_
    )


def test_quantised_model_is_stored_and_reused(fitted, images):
    f8, _ = fitted
    models = sorted(p.name for p in default_onnx_dir().glob("*-int8-*.onnx"))
    digest = f8.feature_config_["int8"]["calibration_digest"]
    mine = [m for m in models if digest in m]
    assert len(mine) == 1
    mtime = os.path.getmtime(default_onnx_dir() / mine[0])
    again = tiny_features(precision="int8", int8_calibration=CAL).fit(images)
    assert os.path.getmtime(default_onnx_dir() / mine[0]) == mtime
    assert again.int8_fidelity_["mean_cosine"] == f8.int8_fidelity_["mean_cosine"]
    np.testing.assert_array_equal(again.transform(images), f8.transform(images))


def test_pickled_int8_transformer_gives_the_same_embeddings(fitted, images):
    f8, _ = fitted
    loaded = pickle.loads(pickle.dumps(f8))
    np.testing.assert_array_equal(loaded.transform(images), f8.transform(images))


@pytest.mark.slow
def test_low_fidelity_warns(images):
    with pytest.warns(UserWarning, match="min_fidelity"):
        tiny_features(
            precision="int8",
            int8_calibration={"size": 8, "min_fidelity": 1.0, "exclude": "first"},
        ).fit(images)


@pytest.mark.parametrize(
    "params, error, match",
    [
        (dict(backend="torch"), ValueError, "backend='onnxruntime'"),
        (dict(int8_calibration={"sise": 8}), ValueError, "Did you mean 'size'"),
        (dict(int8_calibration=[8]), TypeError, "dict"),
        (dict(int8_calibration={"size": 2}), ValueError, r"size'\] must be"),
        (dict(int8_calibration={"method": "kl"}), ValueError, "percentile"),
        (dict(int8_calibration={"holdout": 1.5}), ValueError, "holdout"),
    ],
)
def test_bad_int8_parameters_are_reported(images, params, error, match):
    with pytest.raises(error, match=match):
        tiny_features(precision="int8", **params).fit(images[:4])


def test_too_few_images_to_calibrate(images):
    with pytest.raises(ValueError, match="at least 2 images"):
        tiny_features(precision="int8").fit(images[:1])


def test_calibration_settings_and_fidelity_helpers():
    s = Int8Calibration.from_param({"size": 10, "holdout": 0.2})
    assert s.split(10) == 8 and s.split(3) == 2
    a = np.array([[1.0, 0.0], [0.0, 0.0]])
    b = np.array([[2.0, 0.0], [0.0, 0.0]])
    assert embedding_fidelity(a, b) == {
        "mean_cosine": 1.0,
        "min_cosine": 1.0,
        "standardised_cosine": 1.0,
    }
    c = np.array([[0.0, 1.0], [0.0, 0.0]])
    assert embedding_fidelity(a, c)["min_cosine"] == 0.0


def test_standardised_fidelity_sees_past_the_shared_mean_embedding():
    # Embeddings with a large mean that every image shares (as after ReLU and
    # pooling) and an error of half the images' spread: the raw cosine hides it.
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(0)
    spread = rng.normal(size=(200, 64))
    a = 50.0 + spread
    b = a + 0.5 * rng.normal(size=a.shape)
    fid = embedding_fidelity(a, b)
    assert fid["mean_cosine"] > 0.999
    scaler = StandardScaler().fit(a)
    za, zb = scaler.transform(a), scaler.transform(b)
    expected = np.mean(
        np.sum(za * zb, 1) / np.linalg.norm(za, axis=1) / np.linalg.norm(zb, axis=1)
    )
    assert fid["standardised_cosine"] == pytest.approx(expected, rel=1e-12)
    assert fid["standardised_cosine"] < 0.92  # ~ 1 / sqrt(1 + 0.5 ** 2) = 0.894


def test_min_fidelity_names_the_model_only_when_it_can_change_it():
    # With exclude="auto" the sensitivity pass depends on min_fidelity, so two
    # thresholds may give two models: they must not share a cache namespace.
    auto = [Int8Calibration.from_param({"min_fidelity": f}) for f in (0.9, 0.99)]
    assert auto[0].to_dict() != auto[1].to_dict()
    first = [
        Int8Calibration.from_param({"min_fidelity": f, "exclude": "first"})
        for f in (0.9, 0.99)
    ]
    assert first[0].to_dict() == first[1].to_dict()
