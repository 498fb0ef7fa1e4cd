"""skmedtl.load refuses what it does not know; skmedtl.save refuses what is not data."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

import skmedtl
from skmedtl.persistence import UnsafeModelError, read_manifest
from tests._helpers import LENET, forge


def test_changed_file_is_refused(saved):
    tree = json.loads((saved / "model.json").read_text())
    tree["params"]["verbose"] = True
    (saved / "model.json").write_text(json.dumps(tree))
    with pytest.raises(UnsafeModelError, match="model.json changed after saving"):
        skmedtl.load(saved)


def test_edited_manifest_is_refused(saved):
    manifest = json.loads((saved / "manifest.json").read_text())
    manifest["files"]["model.json"] = "0" * 64
    (saved / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(UnsafeModelError, match="manifest was edited"):
        skmedtl.load(saved)


def test_extra_file_is_refused(saved):
    (saved / "payload.pkl").write_bytes(b"\x80\x04N.")
    with pytest.raises(UnsafeModelError, match="payload.pkl"):
        skmedtl.load(saved)


@pytest.mark.parametrize(
    "change, match",
    [
        ({"format_version": 99}, "format version 99.*Upgrade skmedtl"),
        ({"format": "something-else"}, "not a skmedtl model manifest"),
        ({"format_version": "1"}, "not an integer"),
    ],
)
def test_unknown_manifest_is_refused(saved, change, match):
    manifest = json.loads((saved / "manifest.json").read_text())
    manifest.update(change)
    (saved / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(UnsafeModelError, match=match):
        skmedtl.load(saved)


def test_not_a_model_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="no manifest.json.*skmedtl.save"):
        skmedtl.load(tmp_path)


def test_unknown_estimator_type_is_refused(saved):
    tree = json.loads((saved / "model.json").read_text())
    tree["$estimator"] = "os.system"
    forge(saved, "model.json", json.dumps(tree).encode())
    with pytest.raises(UnsafeModelError, match="unknown estimator type 'os.system'"):
        skmedtl.load(saved)


def test_unknown_dataclass_and_tag_are_refused(saved):
    tree = json.loads((saved / "model.json").read_text())
    tree["params"]["memory"] = {"$dataclass": "subprocess.Popen", "fields": {}}
    forge(saved, "model.json", json.dumps(tree).encode())
    with pytest.raises(UnsafeModelError, match="unknown type 'subprocess.Popen'"):
        skmedtl.load(saved)
    tree["params"]["memory"] = {"$pickle": "gASVAAAA"}
    forge(saved, "model.json", json.dumps(tree).encode())
    with pytest.raises(UnsafeModelError, match=r"unknown tag '\$pickle'"):
        skmedtl.load(saved)


def test_untrusted_skops_type_is_refused(saved):
    """A skops file holding a function (code) is refused before skops loads it."""
    import skops.io as sio

    name = next(p for p in (saved / "skops").iterdir()).relative_to(saved).as_posix()
    evil = sio.dumps(FunctionTransformer(func=np.save))
    forge(saved, name, evil)
    with pytest.raises(UnsafeModelError, match=r"not on skmedtl's allowlist.*numpy"):
        skmedtl.load(saved)


def test_unknown_network_kind_is_refused(tmp_path, data):
    features = skmedtl.CNNFeatures("lenet5", **LENET).fit(data[0])
    path = skmedtl.save(features, tmp_path / "f")
    tree = json.loads((path / "model.json").read_text())
    tree["state"]["model_"]["$network"]["kind"] = "torch.hub.load"
    forge(path, "model.json", json.dumps(tree).encode())
    with pytest.raises(ValueError, match="Unknown network kind 'torch.hub.load'"):
        skmedtl.load(path)


def test_save_refuses_code(data, tmp_path):
    # (numpy ufuncs such as np.log1p are on skops' own list of safe types)
    pipe = Pipeline(
        [("f", FunctionTransformer(np.save)), ("clf", LogisticRegression())]
    )
    with pytest.raises(TypeError, match=r"numpy\.save.*cannot be saved safely"):
        skmedtl.save(pipe, tmp_path / "a")
    assert not (tmp_path / "a").exists()

    clf = skmedtl.FineTuneClassifier("lenet5", augment=lambda x: x)
    with pytest.raises(TypeError, match=r"augment=<callable>.*set_params"):
        skmedtl.save(clf, tmp_path / "b")

    class Custom(LogisticRegression):
        pass

    with pytest.raises(TypeError, match=r"steps\[0\]\[1\]: cannot save a .*Custom"):
        skmedtl.save(Pipeline([("clf", Custom())]), tmp_path / "c")


def test_save_refuses_to_replace(hybrid, saved, tmp_path):
    with pytest.raises(FileExistsError, match="overwrite=True"):
        skmedtl.save(hybrid, saved)
    skmedtl.save(hybrid, saved, metadata={"v": 2}, overwrite=True)
    assert skmedtl.load(saved, return_metadata=True)[1] == {"v": 2}
    other = tmp_path / "not_a_model"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="not a saved skmedtl model"):
        skmedtl.save(hybrid, other, overwrite=True)
    assert (other / "notes.txt").read_text() == "keep me"


def test_metadata_must_be_json(hybrid, tmp_path):
    with pytest.raises(TypeError, match="JSON-serialisable.*tolist"):
        skmedtl.save(hybrid, tmp_path / "m", metadata={"threshold": np.arange(2)})
    with pytest.raises(TypeError, match="metadata must be a dict"):
        skmedtl.save(hybrid, tmp_path / "m", metadata=[1])
    meta = {"classes": ["normal", "pneumonia"], "positive": "pneumonia", "t": 0.37}
    skmedtl.save(hybrid, tmp_path / "m", metadata=meta)
    assert skmedtl.load(tmp_path / "m", return_metadata=True)[1] == meta
    assert read_manifest(tmp_path / "m")["files"]["metadata.json"]


def test_saved_device_is_not_kept(data, tmp_path, monkeypatch):
    """A model saved for a CUDA device loads with the default device ("auto"):
    it runs where it is loaded, and predicts on a CPU-only machine."""
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    clf = skmedtl.FineTuneClassifier(
        "lenet5",
        weights=None,
        strategy="full",
        max_epochs=1,
        validation_fraction=None,
        early_stopping=False,
        random_state=0,
        verbose=0,
    ).fit(*data)
    expected = clf.predict_proba(data[0])
    clf.device = "cuda:0"  # as if trained on a GPU
    skmedtl.save(clf, tmp_path / "m")
    tree = json.loads((tmp_path / "m" / "model.json").read_text())
    assert tree["params"]["device"] == "auto"  # never written
    loaded = skmedtl.load(tmp_path / "m")
    assert loaded.device == "auto"
    np.testing.assert_allclose(loaded.predict_proba(data[0]), expected, rtol=1e-6)
    assert skmedtl.load(tmp_path / "m", device="cpu").device == "cpu"
