"""StudyDataset, scores and pooled metrics, against independent computations."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, balanced_accuracy_score, roc_auc_score

from skmedtl.metrics import classification_report
from skmedtl.study import StudyDataset, get_profile
from skmedtl.study._evaluate import METRICS, pooled_metrics
from skmedtl.study._stats import score


def _data(labels=(0, 1), n_per=10, **kwargs):
    labels = np.repeat(labels, n_per)
    images = np.arange(len(labels) * 16, dtype=np.uint8).reshape(-1, 4, 4)
    return StudyDataset.from_arrays(images, labels, random_state=0, **kwargs)


def test_from_arrays_holds_out_a_test_set_and_counts_every_image():
    data = _data()
    assert data.n_images("train", "val", "test") == 20
    assert data.n_images("test") == 4 and not data.has_validation
    test = data.indices("test")
    np.testing.assert_array_equal(data.take(test), data.images[test])
    summary = data.summary()
    assert summary["n_images"] == 20 and summary["classes"] == ["0", "1"]


def test_the_positive_class_goes_last_and_can_be_named():
    data = _data(["benign", "malignant"])
    assert data.pos_label == "malignant"
    flipped = data.with_pos_label("benign")
    assert flipped.label_order() == ["malignant", "benign"]
    assert data.label_order() == ["benign", "malignant"]
    with pytest.raises(ValueError, match="Did you mean 'benign'"):
        data.with_pos_label("benin")
    with pytest.raises(ValueError, match="two-class"):
        _data([0, 1, 2]).with_pos_label(1)


def test_the_fingerprint_sees_images_labels_and_splits():
    a, b = _data(), _data()
    assert a.fingerprint() == b.fingerprint()
    images = a.images.copy()
    images[0, 0, 0] += 1
    changed = StudyDataset.from_arrays(images, a.labels, random_state=0)
    assert changed.fingerprint() != a.fingerprint()
    other_split = StudyDataset.from_arrays(a.images, a.labels, random_state=1)
    assert other_split.fingerprint() != a.fingerprint()


def test_class_names_are_kept_for_display():
    data = _data([0, 1, 2], class_names=["mild", "moderate", "severe"])
    assert data.class_name(2) == "severe"
    assert data.summary()["classes"] == ["mild", "moderate", "severe"]


@pytest.fixture
def scores():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], 20)
    proba = rng.dirichlet([1, 1, 1], 60)
    proba[np.arange(60), y] += 0.5
    return y, proba / proba.sum(axis=1, keepdims=True)


def test_score_agrees_with_scikit_learn(scores):
    y, proba = scores
    pred = proba.argmax(axis=1)
    assert score("accuracy", y, proba) == pytest.approx(accuracy_score(y, pred))
    assert score("balanced_accuracy", y, proba) == pytest.approx(
        balanced_accuracy_score(y, pred)
    )
    macro = roc_auc_score(y, proba, multi_class="ovr", average="macro")
    assert score("auc", y, proba) == pytest.approx(macro)
    binary = np.column_stack([1 - proba[:, 2], proba[:, 2]])
    assert score("auc", (y == 2).astype(int), binary) == pytest.approx(
        roc_auc_score(y == 2, proba[:, 2])
    )
    with pytest.raises(ValueError, match="Unknown metric"):
        score("f1", y, proba)


def _record(y, proba, seed):
    return {
        "y_true": y.tolist(),
        "y_pred": proba.argmax(axis=1).tolist(),
        "y_score": proba.tolist(),
        "classes": ["a", "b", "c"],
        "metrics": {},
        "seed": seed,
    }


def test_pooled_metrics_of_two_seeds_average_the_estimates(scores):
    y, proba = scores
    other = np.roll(proba, 1, axis=1) * 0.3 + proba * 0.7
    pooled = pooled_metrics([_record(y, proba, 0), _record(y, other, 1)], 50)
    a, b = (
        classification_report(
            y, p, y_pred=p.argmax(1), labels=[0, 1, 2], n_bootstraps=10
        ).metrics
        for p in (proba, other)
    )
    for name in METRICS:
        mean = (a[name][0] + b[name][0]) / 2
        est, low, high = pooled[name]
        assert est == pytest.approx(mean)
        assert low <= est + 1e-12 and est <= high + 1e-12


def test_profiles_replace_returns_a_copy():
    quick = get_profile("quick")
    longer = quick.replace(max_epochs=quick.max_epochs + 5, name="longer")
    assert longer.max_epochs == quick.max_epochs + 5 and quick.name == "quick"
    assert longer.backbones == quick.backbones
