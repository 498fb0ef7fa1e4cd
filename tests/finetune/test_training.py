"""The training loop: best-epoch restore, early stopping, determinism, data."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import log_loss

from skmedtl.features import Preprocessing
from skmedtl.finetune import LightAugmentation
from skmedtl.finetune._data import ImageInput, minibatches, validation_split
from skmedtl.io._sequence import ImageSequence
from tests._helpers import slow_except

from .conftest import make_clf, stripes


def _noisy_labels(n: int, seed: int = 3) -> np.ndarray:
    # Labels unrelated to the images: the longer it trains, the more it
    # memorises the training split and the worse validation gets.
    return np.random.default_rng(seed).permutation(np.arange(n) % 2)


RESTORE_CASES = {
    "feature_extractor": dict(strategy="feature_extractor", lr=0.05, max_epochs=12),
    "fine_tune": dict(strategy="fine_tune", lr=1e-3, max_epochs=6),
}


@pytest.mark.parametrize("case", slow_except("feature_extractor", RESTORE_CASES))
def test_best_epoch_weights_are_restored_not_the_last(stripes_data, case):
    X, _ = stripes_data
    y = _noisy_labels(len(X))
    params = dict(RESTORE_CASES[case], early_stopping=False, validation_fraction=0.25)
    clf = make_clf(**params).fit(X, y)
    losses = [e["valid_loss"] for e in clf.history_]
    best = clf.best_epoch_
    assert best == 1 + int(np.argmin(losses))
    # Precondition: validation got worse after the best epoch.
    assert best < len(losses) and losses[-1] > losses[best - 1]

    # The restored model is the best epoch's: a run that stops right there
    # (same seed, so the same trajectory) predicts exactly the same.
    stopped = make_clf(**{**params, "max_epochs": best}).fit(X, y)
    assert [e["valid_loss"] for e in stopped.history_] == losses[:best]
    np.testing.assert_array_equal(clf.predict_proba(X), stopped.predict_proba(X))

    # ... and its validation loss is the best epoch's, not the last one's.
    y_enc = np.unique(y, return_inverse=True)[1]
    _, valid = validation_split(y_enc, 0.25, np.random.RandomState(0))
    loss = log_loss(y[valid], clf.predict_proba(X[valid]), labels=[0, 1])
    assert loss == pytest.approx(losses[best - 1], rel=1e-4, abs=1e-6)
    assert loss != pytest.approx(losses[-1], rel=1e-3)


def test_early_stopping_stops_after_patience_epochs(stripes_data):
    X, _ = stripes_data
    y = _noisy_labels(len(X))
    clf = make_clf(
        strategy="feature_extractor",
        lr=0.05,
        max_epochs=40,
        patience=2,
        validation_fraction=0.25,
    ).fit(X, y)
    assert clf.n_epochs_ < 40
    assert clf.n_epochs_ == clf.best_epoch_ + 2
    assert not any(e["best"] for e in clf.history_[-2:])


def test_without_validation_it_trains_max_epochs_and_keeps_the_last(stripes_data):
    X, y = stripes_data
    clf = make_clf(
        strategy="feature_extractor",
        validation_fraction=None,
        early_stopping=False,
        max_epochs=4,
    ).fit(X, y)
    assert clf.n_epochs_ == 4 and clf.best_epoch_ is None
    assert "valid_loss" not in clf.history_[0]


@pytest.mark.slow  # test_best_epoch_weights_are_restored_not_the_last trains quickly
@pytest.mark.parametrize("strategy", ["feature_extractor", "fine_tune"])
def test_same_random_state_same_model_and_global_rng_untouched(stripes_data, strategy):
    X, y = stripes_data
    torch_state = torch.get_rng_state()
    np_state = np.random.get_state()  # noqa: NPY002 (the global one, on purpose)
    a = make_clf(strategy=strategy, max_epochs=2, augment=strategy == "fine_tune")
    b = make_clf(strategy=strategy, max_epochs=2, augment=strategy == "fine_tune")
    pa = a.fit(X, y).predict_proba(X)
    pb = b.fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(pa, pb)
    for ea, eb in zip(a.history_, b.history_, strict=True):
        assert ea["train_loss"] == eb["train_loss"]
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert all(
        np.array_equal(s1, s2)
        for s1, s2 in zip(np.random.get_state(), np_state, strict=True)  # noqa: NPY002
    )
    c = make_clf(strategy=strategy, max_epochs=2, random_state=1)
    assert not np.array_equal(c.fit(X, y).predict_proba(X), pa)


@pytest.mark.slow
def test_feature_extractor_matches_training_the_head_through_the_network(
    stripes_data,
):
    # Embedding once and running the frozen backbone every epoch are the same
    # computation: gradual's first (head-only) stage follows the same path.
    X, y = stripes_data
    fe = make_clf(strategy="feature_extractor", max_epochs=2).fit(X, y)
    gr = make_clf(strategy="gradual", max_epochs=2, patience=5).fit(X, y)
    assert [e["trainable"] for e in gr.history_] == [["head"], ["head"]]
    for a, b in zip(fe.history_, gr.history_, strict=True):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-4)
    np.testing.assert_allclose(
        fe.predict_proba(X), gr.predict_proba(X), rtol=1e-4, atol=1e-5
    )


@pytest.mark.slow
def test_class_weight_changes_the_loss(stripes_data):
    X, y = stripes_data
    X, y = X[:20], np.r_[np.zeros(14, int), np.ones(6, int)]
    plain = make_clf(strategy="feature_extractor", max_epochs=1).fit(X, y)
    weighted = make_clf(
        strategy="feature_extractor", max_epochs=1, class_weight="balanced"
    ).fit(X, y)
    assert plain.history_[0]["train_loss"] != weighted.history_[0]["train_loss"]
    with pytest.raises(ValueError, match="class_weight"):
        make_clf(strategy="feature_extractor", class_weight={7: 1.0}).fit(X, y)


@pytest.mark.slow
def test_augmentation_changes_training_batches(stripes_data):
    X, y = stripes_data
    plain = make_clf(strategy="fine_tune", max_epochs=1).fit(X, y)
    augmented = make_clf(strategy="fine_tune", max_epochs=1, augment=True).fit(X, y)
    assert plain.history_[0]["train_loss"] != augmented.history_[0]["train_loss"]
    assert augmented.features_ is None  # augmented images cannot use embeddings
    calls = []

    def custom(x):
        calls.append(x.shape)
        return x

    make_clf(strategy="feature_extractor", max_epochs=1, augment=custom).fit(X, y)
    assert calls and all(shape[1:] == (3, 64, 64) for shape in calls)


def test_light_augmentation_without_change_is_identity():
    aug = LightAugmentation(
        mean=(0.4, 0.5, 0.6),
        std=(0.2, 0.25, 0.3),
        hflip=0.0,
        max_rotation=0.0,
        brightness=0.0,
        contrast=0.0,
    )
    x = (torch.rand(3, 3, 20, 30) - 0.5) * 2
    x = x.clamp((0 - 0.6) / 0.3, (1 - 0.6) / 0.3)  # values of images in [0, 1]
    torch.testing.assert_close(aug(x), x, atol=1e-5, rtol=1e-5)
    flip = LightAugmentation(
        (0.5,) * 3,
        (0.5,) * 3,
        hflip=1.0,
        max_rotation=0.0,
        brightness=0.0,
        contrast=0.0,
    )
    torch.testing.assert_close(flip(x.clamp(-1, 1)), x.clamp(-1, 1).flip(-1))
    out = LightAugmentation((0.5,) * 3, (0.5,) * 3)(torch.zeros(4, 3, 16, 16))
    assert out.shape == (4, 3, 16, 16) and out.min() >= -1 and out.max() <= 1


def test_validation_split_is_stratified_and_reproducible():
    y = np.r_[np.zeros(30, int), np.ones(10, int), np.full(4, 2)]
    train, valid = validation_split(y, 0.25, np.random.RandomState(0))
    assert len(valid) == 11 and len(train) == 33
    assert set(train).isdisjoint(valid) and len(set(train) | set(valid)) == 44
    assert set(y[valid]) == {0, 1, 2}
    again = validation_split(y, 0.25, np.random.RandomState(0))[1]
    np.testing.assert_array_equal(valid, again)
    with pytest.raises(ValueError, match="at least 2 images of every class"):
        validation_split(np.r_[np.zeros(10, int), 1], 0.2, np.random.RandomState(0))


def test_minibatches_cover_every_sample_and_never_leave_one_alone():
    rng = np.random.RandomState(0)
    for n, size in [(33, 16), (32, 16), (5, 2), (1, 4)]:
        batches = minibatches(n, size, rng)
        assert sorted(np.concatenate(batches).tolist()) == list(range(n))
        assert n == 1 or all(len(b) > 1 for b in batches)


def test_precomputed_and_on_the_fly_preprocessing_agree(gray_images):
    from skmedtl.backbones import get_backbone

    pre = Preprocessing.from_config(
        get_backbone("efficientnet_lite0").data_config("imagenet"), input_size=40
    )
    images = ImageSequence(list(gray_images))
    lazy = ImageInput(images, pre, torch.device("cpu"))
    eager = ImageInput(images, pre, torch.device("cpu"))
    assert eager.precompute() and not lazy.precompute(budget=0)
    idx = np.array([5, 0, 7])
    torch.testing.assert_close(lazy(idx), eager(idx), rtol=0, atol=0)
    assert lazy(idx).shape == (3, 3, 40, 40)


def test_multiclass_string_labels(stripes_data):
    X, _ = stripes_data
    X3, y3 = stripes(36, seed=5)
    y = np.array(["horizontal", "vertical", "noise"])[y3]
    noise = np.random.default_rng(0).integers(0, 256, (12, 48, 48), dtype=np.uint8)
    X3[::3], y[::3] = noise, "noise"
    clf = make_clf(strategy="feature_extractor", max_epochs=5, lr=0.01).fit(X3, y)
    assert clf.classes_.tolist() == ["horizontal", "noise", "vertical"]
    proba = clf.predict_proba(X3)
    assert proba.shape == (36, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
    scores = clf.decision_function(X3)
    assert scores.shape == (36, 3)
    assert set(clf.predict(X3)) <= set(clf.classes_)
    np.testing.assert_array_equal(clf.predict(X3), clf.classes_[scores.argmax(axis=1)])
    assert clf.score(X3, y) > 0.6


def test_bfloat16_mixed_precision_keeps_float32_weights(stripes_data):
    X, y = stripes_data
    clf = make_clf(strategy="fine_tune", max_epochs=1, precision="bfloat16")
    clf.fit(X[:16], y[:16])
    assert all(p.dtype == torch.float32 for p in clf.model_.parameters())
    assert np.isfinite(clf.history_[0]["train_loss"])
    assert clf.predict_proba(X[:4]).dtype == np.float32


def test_validation_split_by_patient_keeps_patients_whole():
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(20), 3)  # 20 patients, 3 images each
    y = np.repeat(rng.permutation(np.arange(20) % 2), 3)
    train, valid = validation_split(y, 0.25, np.random.RandomState(0), groups)
    assert set(groups[train]).isdisjoint(groups[valid])
    assert len(set(train) | set(valid)) == 60 and set(y[valid]) == {0, 1}
    again = validation_split(y, 0.25, np.random.RandomState(0), groups)[1]
    np.testing.assert_array_equal(valid, again)
    # One patient holds all of class 1: whichever side it lands on, training never
    # silently lacks the class.
    y1, g1 = np.r_[np.zeros(9, int), 1, 1, 1], np.r_[np.arange(9), 9, 9, 9]
    outcomes = set()
    for seed in range(12):
        try:
            train, _ = validation_split(y1, 0.25, np.random.RandomState(seed), g1)
        except ValueError as e:
            assert "left a class without training images" in str(e)
            outcomes.add("raised")
        else:
            assert 1 in y1[train]
            outcomes.add("ok")
    assert outcomes == {"raised", "ok"}
