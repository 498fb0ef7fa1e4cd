"""skmedtl.save / skmedtl.load give back the same model, in a fresh process too."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.svm import SVC

import skmedtl
from skmedtl.io import ImageLoader
from tests.conftest import tiny_features

ROOT = Path(__file__).resolve().parents[2]
LENET = dict(weights=None, random_state=0, verbose=0)
FAST_FINETUNE = dict(
    weights=None,
    max_epochs=1,
    validation_fraction=None,
    early_stopping=False,
    random_state=0,
    verbose=0,
)


def _images(n=24, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    y = np.array(["benign", "malignant"] * (n // 2))
    X[y == "malignant", 8:20, 8:20] //= 4  # something to learn
    return X, y


def _cases(tmp: Path):
    """name -> (fitted model, X, method)."""
    X, y = _images()
    Xt, _ = _images(10, seed=1)
    cases = {}
    cases["cnn_features"] = (tiny_features("resnet18").fit(X), Xt, "transform")
    for head in ("logreg", "svm"):
        # The default head tunes its regularisation (a TunedClassifier).
        model = skmedtl.make_hybrid("lenet5", head, **LENET).fit(X, y)
        cases[f"hybrid_{head}"] = (model, Xt, "predict_proba")
        model = skmedtl.make_hybrid("lenet5", head, tune=False, **LENET).fit(X, y)
        cases[f"hybrid_{head}_untuned"] = (model, Xt, "predict_proba")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # deprecated in sklearn 1.9
        svc = skmedtl.make_hybrid(
            "lenet5", SVC(probability=True, random_state=0), **LENET
        ).fit(X, y)
    cases["hybrid_svc_probability"] = (svc, Xt, "predict_proba")
    forest = RandomForestClassifier(n_estimators=10, random_state=0)
    cases["hybrid_forest"] = (
        skmedtl.make_hybrid("lenet5", forest, **LENET).fit(X, y),
        Xt,
        "predict_proba",
    )
    try:
        import xgboost  # noqa: F401
    except ImportError:
        pass
    else:
        model = skmedtl.make_hybrid("lenet5", "xgboost", **LENET).fit(X, y)
        cases["hybrid_xgboost"] = (model, Xt, "predict_proba")
    search = GridSearchCV(
        skmedtl.make_hybrid("lenet5", "logreg", tune=False, **LENET),
        {"clf__C": [0.1, 1.0]},
        cv=2,
    ).fit(X, y)
    cases["grid_search_best"] = (search.best_estimator_, Xt, "predict_proba")
    full = skmedtl.FineTuneClassifier(
        "resnet18", strategy="full", input_size=32, **FAST_FINETUNE
    ).fit(X, y)
    cases["finetune_full"] = (full, Xt, "predict_proba")
    head = skmedtl.FineTuneClassifier(
        "lenet5", strategy="feature_extractor", **FAST_FINETUNE
    ).fit(X, y)
    cases["finetune_head_only"] = (head, Xt, "predict_proba")

    # Multi-label: one (self-tuning) head per label; a sigmoid network head.
    Y = np.stack([y == "malignant", np.arange(len(y)) % 3 == 0], axis=1).astype(int)
    cases["hybrid_multilabel"] = (
        skmedtl.make_hybrid("lenet5", "logreg", **LENET).fit(X, Y),
        Xt,
        "predict_proba",
    )
    cases["finetune_multilabel"] = (
        skmedtl.FineTuneClassifier("lenet5", strategy="full", **FAST_FINETUNE).fit(
            X, Y
        ),
        Xt,
        "predict_proba",
    )

    paths = []
    for i, image in enumerate(np.concatenate([X, Xt])):
        paths.append(str(tmp / f"img{i}.png"))
        Image.fromarray(image).save(paths[-1])
    files = Pipeline(
        [
            ("read", ImageLoader(intensity="minmax")),
            ("features", skmedtl.CNNFeatures("lenet5", **LENET)),
            ("clf", LogisticRegression()),
        ]
    ).fit(paths[: len(X)], y)
    cases["image_files"] = (files, np.array(paths[len(X) :]), "predict_proba")

    volumes = np.random.default_rng(2).integers(0, 256, (6, 6, 28, 28), dtype=np.uint8)
    vol = Pipeline(
        [
            (
                "volumes",
                skmedtl.VolumeFeatures(
                    skmedtl.CNNFeatures("lenet5", **LENET), axis=0, step=2
                ),
            ),
            ("clf", LogisticRegression()),
        ]
    ).fit(volumes, [0, 1] * 3)
    cases["volumes"] = (vol, volumes[:3], "predict_proba")
    return cases


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """Every case fitted, saved, and its reference output computed."""
    tmp = tmp_path_factory.mktemp("models")
    out = {}
    for name, (model, X, method) in _cases(tmp).items():
        path = skmedtl.save(model, tmp / name, metadata={"case": name})
        out[name] = (model, X, method, path, getattr(model, method)(X))
    return out


CASES = [
    "cnn_features",
    "hybrid_logreg",
    "hybrid_svm",
    "hybrid_logreg_untuned",
    "hybrid_svm_untuned",
    "hybrid_svc_probability",
    "hybrid_forest",
    "hybrid_xgboost",
    "grid_search_best",
    "finetune_full",
    "finetune_head_only",
    "hybrid_multilabel",
    "finetune_multilabel",
    "image_files",
    "volumes",
]


@pytest.mark.parametrize("name", CASES)
def test_same_outputs_after_loading(saved, name):
    if name not in saved:
        pytest.skip("xgboost is not installed")
    model, X, method, path, expected = saved[name]
    loaded, metadata = skmedtl.load(path, return_metadata=True)
    assert type(loaded) is type(model)
    assert metadata == {"case": name}
    assert repr(loaded) == repr(model)  # the same parameters
    got = getattr(loaded, method)(X)
    if name == "cnn_features":
        np.testing.assert_array_equal(got, expected)
    else:
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7)
    if hasattr(model, "classes_"):
        # Multi-label models have one classes_ array per label.
        pairs = (
            zip(loaded.classes_, model.classes_, strict=True)
            if isinstance(model.classes_, list)
            else [(loaded.classes_, model.classes_)]
        )
        for got_classes, want_classes in pairs:
            np.testing.assert_array_equal(got_classes, want_classes)
            assert got_classes.dtype == want_classes.dtype


@pytest.mark.slow
def test_fresh_process_without_pickle(saved, tmp_path):
    """All models load and predict identically in a process where pickle raises."""
    args, names = [], []
    for name, (_, X, method, path, _) in saved.items():
        np.save(tmp_path / f"{name}.npy", X, allow_pickle=False)
        args += [str(path), str(tmp_path / f"{name}.npy"), method]
        names.append(name)
    env = dict(os.environ, SKMEDTL_OFFLINE="1")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    out = tmp_path / "out.npz"
    result = subprocess.run(
        [
            sys.executable,
            str(Path(__file__).with_name("_fresh_load.py")),
            str(out),
            *args,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    with np.load(out, allow_pickle=False) as got:
        for k, name in enumerate(names):
            expected = saved[name][4]
            np.testing.assert_allclose(got[f"out{k}"], expected, rtol=1e-6, atol=1e-7)


def test_directory_holds_no_pickle(saved):
    """Weights in safetensors, the rest JSON / skops / XGBoost JSON; nothing else."""
    for name, (*_, path, _) in saved.items():
        files = sorted(
            p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file()
        )
        for file in files:
            assert file in (
                "manifest.json",
                "metadata.json",
                "model.json",
                "tensors.safetensors",
                "arrays.safetensors",
            ) or file.startswith(("skops/", "xgboost/")), (name, file)
    assert "tensors.safetensors" in os.listdir(saved["finetune_full"][3])


def test_manifest(saved):
    path = saved["hybrid_logreg"][3]
    manifest = skmedtl.persistence.read_manifest(path)
    assert manifest["format"] == "skmedtl-model"
    assert manifest["format_version"] == skmedtl.persistence.FORMAT_VERSION
    assert manifest["skmedtl_version"] == skmedtl.__version__
    assert manifest["estimator"] == "skmedtl.hybrid.HybridPipeline"  # make_hybrid
    assert {"numpy", "scikit-learn", "torch", "python"} <= set(manifest["packages"])
    assert set(manifest["files"]) == {
        p.relative_to(path).as_posix()
        for p in path.rglob("*")
        if p.is_file() and p.name != "manifest.json"
    }
    tree = json.loads((path / "model.json").read_text())
    assert tree["$estimator"] == "skmedtl.hybrid.HybridPipeline"


def test_head_only_network_shared_with_features(saved):
    """The head-only fine-tune's extractor and network share one backbone again."""
    loaded = skmedtl.load(saved["finetune_head_only"][3])
    assert loaded.features_.model_ is loaded.model_.backbone
    tree = json.loads((saved["finetune_head_only"][3] / "model.json").read_text())
    assert "$network_ref" in json.dumps(tree["state"]["features_"])


@pytest.mark.slow
def test_cnn_features_needs_no_weights_file(tmp_path):
    """Weights loaded from a file are in the directory; the file may disappear."""
    import torch

    X, _ = _images(6)
    source = tiny_features("resnet18", random_state=3).fit(X)
    weights = tmp_path / "weights.pth"
    torch.save(source.model_.state_dict(), weights)
    features = tiny_features("resnet18", weights=str(weights), random_state=None).fit(X)
    skmedtl.save(features, tmp_path / "model")
    weights.unlink()
    loaded = skmedtl.load(tmp_path / "model")
    np.testing.assert_array_equal(loaded.transform(X), source.transform(X))
    assert loaded.feature_config_ == features.feature_config_
