"""The saliency API: models accepted, targets, errors, pickles, plots."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.svm import SVC, LinearSVC

from skmedtl import make_hybrid
from skmedtl.explain import outcome_figure, overlay, saliency
from skmedtl.finetune import FineTuneClassifier
from skmedtl.io import ImageLoader
from tests._helpers import slow_except

from ..conftest import tiny_features

pytest.importorskip("pytorch_grad_cam")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def binary_data():
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (16, 36, 28), dtype=np.uint8)
    y = np.array(["benign", "malignant"] * 8)
    return X, y


@pytest.fixture(scope="module")
def logreg_hybrid(binary_data):
    X, y = binary_data
    return make_hybrid("resnet18", "logreg", weights=None, random_state=0,
                       input_size=32, verbose=0).fit(X, y)


def test_binary_explains_the_positive_class_by_default(planted_data, hybrid,
                                                       logreg_hybrid, binary_data):
    X, y = binary_data
    default = saliency(logreg_hybrid, X[:4], "gradcam", return_raw=True)[1]
    positive = saliency(
        logreg_hybrid, X[:4], "gradcam", target="malignant", return_raw=True
    )[1]
    negative = saliency(
        logreg_hybrid, X[:4], "gradcam", target="benign", return_raw=True
    )[1]
    np.testing.assert_array_equal(default, positive)
    # Grad-CAM is linear in the score: the negative class's map is the opposite.
    np.testing.assert_allclose(negative, -positive, rtol=1e-4, atol=1e-6)


def test_target_per_image_and_predicted_class(planted_data, finetuned):
    _, (X, y, _) = planted_data
    predicted = finetuned.predict(X[:6])
    np.testing.assert_array_equal(
        saliency(finetuned, X[:6]), saliency(finetuned, X[:6], target=predicted)
    )
    other = (predicted + 1) % 4
    assert not np.array_equal(
        saliency(finetuned, X[:6]), saliency(finetuned, X[:6], target=other)
    )


def test_works_under_inference_mode(logreg_hybrid, binary_data):
    X, _ = binary_data
    expected = saliency(logreg_hybrid, X[:2])
    with torch.inference_mode():
        np.testing.assert_array_equal(saliency(logreg_hybrid, X[:2]), expected)


def test_maps_are_normalised_with_the_raw_maps_available(logreg_hybrid, binary_data):
    X, _ = binary_data
    maps, raw = saliency(logreg_hybrid, X[:4], "hirescam", return_raw=True)
    assert maps.dtype == np.float32 and maps.shape == (4, 36, 28)
    for m, r in zip(maps, raw, strict=True):
        assert m.min() >= 0 and m.max() <= 1
        positive = np.maximum(r, 0)
        if positive.max() > 0:
            np.testing.assert_allclose(m, positive / positive.max(), atol=1e-6)


def test_grid_search_and_image_loader_pipeline(binary_data, tmp_path):
    X, y = binary_data
    paths = []
    for i, img in enumerate(X):
        np.save(tmp_path / f"img{i}.npy", img)
        paths.append(tmp_path / f"img{i}.npy")
    pipe = Pipeline([
        ("loader", ImageLoader()),
        ("features", tiny_features()),
        ("clf", LinearSVC()),
    ])
    search = GridSearchCV(pipe, {"clf__C": [0.1, 1.0]}, cv=2).fit(paths, y)
    from_paths = saliency(search, paths[:3], "gradcam")
    direct = saliency(search.best_estimator_, paths[:3], "gradcam")
    np.testing.assert_array_equal(from_paths, direct)
    assert from_paths.shape == (3, 36, 28)


def test_linear_svc_with_kernel_and_decision_only_head(binary_data):
    X, y = binary_data
    pipe = Pipeline([("features", tiny_features()),
                     ("clf", SVC(kernel="linear"))]).fit(X, y)
    assert saliency(pipe, X[:2]).shape == (2, 36, 28)
    with pytest.raises(TypeError, match="needs predict_proba"):
        saliency(pipe, X[:2], "occlusion")


def test_nonlinear_head_needs_occlusion(planted_data, hybrid):
    _, (X, _, _) = planted_data
    with pytest.raises(ValueError, match="method='occlusion'"):
        saliency(hybrid, X[:2], "gradcam")


def test_clear_errors(logreg_hybrid, binary_data):
    X, _ = binary_data
    with pytest.raises(ValueError, match="Did you mean 'gradcam'"):
        saliency(logreg_hybrid, X[:2], "gradcan")
    with pytest.raises(ValueError, match="not a class of the model"):
        saliency(logreg_hybrid, X[:2], target="cyst")
    with pytest.raises(ValueError, match="one label per image"):
        saliency(logreg_hybrid, X[:2], target=["benign"] * 3)
    with pytest.raises(ValueError, match="for method='occlusion'"):
        saliency(logreg_hybrid, X[:2], "gradcam", patch_size=4)
    with pytest.raises(ValueError, match="patch_size must be positive"):
        saliency(logreg_hybrid, X[:2], "occlusion", patch_size=0)
    with pytest.raises(ValueError, match="placement"):
        saliency(logreg_hybrid, X[:2], "gradcam", placement="uniform")
    with pytest.raises(ValueError, match="placement is for the CAM methods"):
        saliency(logreg_hybrid, X[:2], "occlusion", placement="traced")
    with pytest.raises(ValueError, match="fill must be"):
        saliency(logreg_hybrid, X[:2], "occlusion", fill="median")
    with pytest.raises(NotFittedError):
        saliency(make_hybrid("resnet18", "logreg", weights=None), X[:2])
    with pytest.raises(NotFittedError):
        saliency(FineTuneClassifier("lenet5", weights=None), X[:2])
    with pytest.raises(TypeError, match="FineTuneClassifier, a Pipeline"):
        saliency(SVC(), X[:2])


def test_missing_grad_cam_names_the_extra(logreg_hybrid, binary_data, monkeypatch):
    X, _ = binary_data
    monkeypatch.setitem(sys.modules, "pytorch_grad_cam", None)
    with pytest.raises(ImportError, match=r"skmedtl\[explain\]"):
        saliency(logreg_hybrid, X[:2])
    # occlusion does not need the package
    assert saliency(logreg_hybrid, X[:1], "occlusion").shape == (1, 36, 28)


@pytest.mark.slow
def test_unpickled_model_in_a_fresh_process(logreg_hybrid, binary_data, tmp_path):
    X, _ = binary_data
    model_path, data_path = tmp_path / "model.pkl", tmp_path / "X.npy"
    model_path.write_bytes(pickle.dumps(logreg_hybrid))
    np.save(data_path, X[:3])
    code = (
        "import pickle, sys, numpy as np\n"
        "from skmedtl.explain import saliency\n"
        f"model = pickle.load(open({str(model_path)!r}, 'rb'))\n"
        f"X = np.load({str(data_path)!r})\n"
        "maps = saliency(model, X)\n"
        f"np.save({str(tmp_path / 'maps.npy')!r}, maps)\n"
        "blob = pickle.dumps(model)\n"  # nothing unpicklable was left behind
        "print(len(blob))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True,
                            text=True, env={**__import__("os").environ,
                                            "PYTHONPATH": str(ROOT)}, timeout=300)
    assert result.returncode == 0, result.stderr
    np.testing.assert_allclose(np.load(tmp_path / "maps.npy"),
                               saliency(logreg_hybrid, X[:3]), atol=1e-5)


def test_vision_transformer_tokens_on_a_grid():
    pytest.importorskip("timm")
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (6, 40, 40), dtype=np.uint8)
    y = np.array([0, 1] * 3)
    model = make_hybrid("timm:test_vit", "logreg", weights=None, random_state=0,
                        verbose=0).fit(X, y)
    maps = saliency(model, X[:2], "gradcam")
    assert maps.shape == (2, 40, 40)
    assert np.isfinite(maps).all() and maps.max() == pytest.approx(1.0)
    for module in model.named_steps["features"].model_.modules():
        assert not module._forward_hooks  # the hook on the last block is gone


def test_overlay_and_outcome_figure(planted_data, finetuned, hybrid, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    _, (X, y, _) = planted_data
    maps = saliency(finetuned, X[:5])
    fig = overlay(X[:5], maps, tmp_path / "cams.png", titles=list("abcde"), ncols=3)
    assert (tmp_path / "cams.png").stat().st_size > 0
    assert len([ax for ax in fig.axes if ax.images]) == 5
    with pytest.raises(ValueError, match="maps has 4"):
        overlay(X[:5], maps[:4])
    plt.close("all")

    # Two classes from the planted task: is the patch in the top row?
    top = np.isin(y, [0, 1]).astype(int)
    rng = np.random.default_rng(0)
    proba = np.clip(top * 0.8 + rng.uniform(-0.4, 0.3, len(top)), 0, 1)
    binary = FineTuneClassifier("lenet5", weights=None, strategy="full",
                                max_epochs=1, validation_fraction=None,
                                early_stopping=False, random_state=0,
                                verbose=0).fit(X, top)
    fig = outcome_figure(binary, X, top, proba, tmp_path / "outcomes.png",
                         n_per_outcome=2)
    assert (tmp_path / "outcomes.png").stat().st_size > 0
    labels = [ax.get_ylabel() for ax in fig.axes if ax.get_ylabel()]
    assert labels == ["TP", "FP", "TN", "FN"]
    n_images = sum(bool(ax.images) for ax in fig.axes)
    expected = 0
    predicted = proba >= 0.5
    for mask in (top & predicted, ~top & predicted, ~top & ~predicted,
                 top & ~predicted):
        expected += min(2, int(np.sum(mask.astype(bool))))
    assert n_images == expected
    plt.close("all")

    # More classes: correct and wrong rows; a hybrid without gradient -> occlusion.
    fig = outcome_figure(hybrid, X[:8], y[:8], hybrid.predict_proba(X[:8]),
                         n_per_outcome=2, saliency_params={"patch_size": 12})
    assert [ax.get_ylabel() for ax in fig.axes if ax.get_ylabel()] == [
        "correct", "wrong"]
    assert "occlusion" in fig._suptitle.get_text()
    plt.close("all")


@pytest.mark.parametrize(
    "head, scale, n_classes",
    slow_except(
        [("logreg", "standard", 2), ("svc", None, 2)],
        [
            ("logreg", "standard", 2),
            ("logreg", "pca", 3),
            ("linearsvc", "standard", 3),
            ("svc", None, 2),
        ],
    ),
)
def test_composed_network_reproduces_the_pipeline(head, scale, n_classes):
    """Backbone + pooling + scaler + linear head as one torch module: its scores
    are the pipeline's own decision function."""
    from sklearn.decomposition import PCA
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    from skmedtl.explain._models import resolve_model

    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (18, 30, 26), dtype=np.uint8)
    y = np.arange(18) % n_classes
    clf = {"logreg": LogisticRegression(max_iter=2000), "linearsvc": LinearSVC(),
           "svc": SVC(kernel="linear")}[head]
    steps = [("features", tiny_features(layer="layer3", pooling="max"))]
    if scale == "standard":
        steps.append(("scale", StandardScaler()))
    elif scale == "pca":
        steps.append(("pca", PCA(8, whiten=True, random_state=0)))
    pipe = Pipeline([*steps, ("clf", clf)]).fit(X, y)
    explained = resolve_model(pipe)
    network, device = explained.network()
    with torch.no_grad():
        scores = network(explained.preprocessing(X, device)).numpy()
    decision = pipe.decision_function(X)
    if n_classes == 2:
        np.testing.assert_allclose(scores[:, 1] - scores[:, 0], decision,
                                   rtol=1e-3, atol=1e-3)
    else:
        centred = decision - decision.mean(axis=1, keepdims=True)
        np.testing.assert_allclose(scores, centred, rtol=1e-3, atol=1e-3)
    maps = saliency(pipe, X[:2])  # an intermediate layer, max pooling
    assert maps.shape == (2, 30, 26)
