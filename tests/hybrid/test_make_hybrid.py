"""Hybrid pipelines: frozen CNN features + SVM / logistic regression / RF / XGBoost."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.neighbors import KNeighborsClassifier
from sklearn.utils.estimator_checks import parametrize_with_checks

from skmedtl import make_hybrid
from skmedtl.datasets import load_breastmnist
from skmedtl.features._extractor import FeatureExtractor
from skmedtl.hybrid import HEADS, LabelEncodedClassifier, hybrid_head


@pytest.fixture(scope="module")
def breastmnist():
    return load_breastmnist("train"), load_breastmnist("test")


@pytest.fixture(scope="module")
def lite0_cache(tmp_path_factory):
    """One embedding cache for all heads: the CNN runs once per image."""
    return str(tmp_path_factory.mktemp("hybrid") / "embeddings.h5")


@pytest.mark.slow  # real BreastMNIST embeddings: seconds per head
@pytest.mark.parametrize("head", HEADS)
def test_each_head_fits_and_scores_on_breastmnist(head, breastmnist, lite0_cache):
    pytest.importorskip("xgboost") if head == "xgboost" else None
    (X_train, y_train), (X_test, y_test) = breastmnist
    pipe = make_hybrid(
        "efficientnet_lite0",
        head,
        class_weight="balanced",
        random_state=0,
        cache_path=lite0_cache,
        verbose=0,
    )
    pipe.fit(X_train, y_train)
    proba = pipe.predict_proba(X_test)
    assert proba.shape == (len(y_test), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
    from sklearn.metrics import roc_auc_score

    # Real ImageNet features: every head is far above chance on the test split.
    assert roc_auc_score(y_test, proba[:, 1]) > 0.7
    assert pipe.score(X_test, y_test) > 0.6


def _count_images(monkeypatch):
    counts = Counter()
    original = FeatureExtractor.forward

    def counting(self, x):
        if not (x.shape[0] == 1 and not x.any()):  # skip fit's width probe
            counts[self.spec.name] += x.shape[0]
        return original(self, x)

    monkeypatch.setattr(FeatureExtractor, "forward", counting)
    return counts


@pytest.mark.slow
def test_grid_search_over_backbones_and_heads_embeds_each_image_once(
    breastmnist, tmp_path, monkeypatch
):
    (X, y), _ = breastmnist
    X, y = X[:60], y[:60]
    counts = _count_images(monkeypatch)
    pipe = make_hybrid(
        "resnet18",
        "logreg",
        weights=None,
        random_state=0,
        input_size=32,
        verbose=0,
        cache_path=str(tmp_path / "grid.h5"),
        backend="torch",  # the counter wraps the torch module
    )
    grid = {
        "features__backbone": ["resnet18", "lenet5"],
        "clf": [hybrid_head("logreg"), hybrid_head("rf", random_state=0, n_jobs=2)],
    }
    search = GridSearchCV(pipe, grid, scoring="roc_auc", cv=3, n_jobs=1).fit(X, y)
    assert len(search.cv_results_["params"]) == 4
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    assert counts == {"resnet18": 60, "lenet5": 60}


def test_unknown_head_and_feature_parameter_are_reported():
    with pytest.raises(ValueError, match="Did you mean 'xgboost'"):
        make_hybrid(head="xgbost")
    with pytest.raises(TypeError, match="Did you mean 'batch_size'"):
        make_hybrid(batch_sise=8)
    with pytest.raises(TypeError, match="classifier"):
        make_hybrid(head=object())


def test_pipeline_structure_and_defaults():
    svm = make_hybrid("resnet18", "svm", weights=None, cache_path="x.h5", tune=False)
    assert list(svm.named_steps) == ["features", "scale", "clf"]
    assert isinstance(svm.named_steps["clf"], CalibratedClassifierCV)
    assert svm.named_steps["clf"].ensemble is False
    assert svm.named_steps["features"].get_params()["cache_path"] == "x.h5"
    assert make_hybrid(head="rf").named_steps["scale"] == "passthrough"
    custom = make_hybrid(head=KNeighborsClassifier(3), scale=False)
    assert custom.named_steps["scale"] == "passthrough"
    assert custom.named_steps["clf"].n_neighbors == 3


def test_xgboost_head_takes_string_labels_and_class_weights():
    pytest.importorskip("xgboost")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 5))
    y = np.where(X[:, 0] + 0.3 * rng.normal(size=80) > 0.8, "malignant", "benign")
    clf = hybrid_head("xgboost", class_weight="balanced", random_state=0).fit(X, y)
    assert set(clf.predict(X)) <= {"benign", "malignant"}
    assert list(clf.classes_) == ["benign", "malignant"]
    assert (clf.predict(X) == y).mean() > 0.9


@parametrize_with_checks([LabelEncodedClassifier(LogisticRegression())])
def test_label_encoded_classifier_is_a_scikit_learn_estimator(estimator, check):
    check(estimator)


@pytest.mark.parametrize("head", ["svm", "logreg", "xgboost"])
def test_one_class_is_refused_by_every_head(head, gray_images):
    if head == "xgboost":
        pytest.importorskip("xgboost")
    pipe = make_hybrid("lenet5", head, weights=None, input_size=32, verbose=0)
    with pytest.raises(ValueError, match="2 classes|one class|greater than one"):
        pipe.fit(gray_images, np.zeros(len(gray_images), dtype=int))


def test_label_encoded_classifier_refuses_one_class():
    with pytest.raises(ValueError, match="one class only: 'benign'"):
        LabelEncodedClassifier(LogisticRegression()).fit([[0.0], [1.0]], ["benign"] * 2)


def test_make_hybrid_arguments_are_checked():
    with pytest.raises(ValueError, match="scale must be a boolean or 'auto'"):
        make_hybrid(scale="yes")
    with pytest.raises(ValueError, match="n_jobs must be an integer .*or None"):
        make_hybrid(n_jobs=1.5)
    with pytest.raises(ValueError, match="random_state must be"):
        make_hybrid(random_state=True)
