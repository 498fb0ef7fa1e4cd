"""FineTuneClassifier and the scikit-learn contract."""

from __future__ import annotations

import logging
import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone, is_classifier
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, StratifiedKFold

from skmedtl.finetune import FineTuneClassifier, FineTuneNetwork

from .conftest import BACKBONE, make_clf, stripes


@pytest.fixture(scope="module")
def fitted_pair(stripes_data):
    """A head-only and a fine-tuned classifier, with string labels."""
    X, y = stripes_data
    labels = np.array(["horizontal", "vertical"])[y]
    return {
        strategy: make_clf(strategy=strategy, max_epochs=2).fit(X, labels)
        for strategy in ("feature_extractor", "fine_tune")
    }


def test_is_a_classifier_whose_init_only_stores_parameters():
    clf = FineTuneClassifier(strategy="fine_tune", trainable_blocks=2, lr=0.1)
    assert is_classifier(clf)
    params = clf.get_params()
    assert params["strategy"] == "fine_tune" and params["trainable_blocks"] == 2
    assert not any(k.endswith("_") for k in vars(clf))
    # Invalid values are stored as given; fit reports them.
    FineTuneClassifier(strategy="nonsense", max_epochs=-1)


@pytest.mark.parametrize("method", ["predict", "predict_proba", "decision_function"])
def test_not_fitted_error_before_fit(method, gray_images):
    with pytest.raises(NotFittedError):
        getattr(FineTuneClassifier(), method)(gray_images)


@pytest.mark.parametrize(
    "params",
    [
        dict(strategy="fine_tune", class_weight={0: 1.0, 1: 2.0}, input_size=(64, 64)),
        dict(strategy="feature_extractor", augment=False, lr_decay=None),
    ],
)
def test_fit_leaves_parameters_unchanged(stripes_data, params):
    X, y = stripes_data
    clf = make_clf(max_epochs=1, **params)
    before = clf.get_params(deep=False)
    clf.fit(X, y)
    after = clf.get_params(deep=False)
    assert after.keys() == before.keys()
    for key in before:
        assert after[key] is before[key] or after[key] == before[key], key


def test_clone_gives_an_unfitted_copy_with_the_same_parameters(fitted_pair):
    clf = fitted_pair["fine_tune"]
    copy = clone(clf)
    assert copy.get_params() == clf.get_params()
    assert not hasattr(copy, "model_")
    with pytest.raises(NotFittedError):
        copy.predict(np.zeros((1, 48, 48), np.uint8))


def test_string_labels_round_trip(fitted_pair, stripes_data):
    X, y = stripes_data
    for clf in fitted_pair.values():
        assert clf.classes_.tolist() == ["horizontal", "vertical"]
        pred = clf.predict(X)
        assert pred.dtype == clf.classes_.dtype and set(pred) <= set(clf.classes_)
        scores = clf.decision_function(X)
        assert scores.shape == (len(X),)
        np.testing.assert_array_equal(pred, clf.classes_[(scores > 0).astype(int)])
        proba = clf.predict_proba(X)
        np.testing.assert_array_equal(pred, clf.classes_[proba.argmax(axis=1)])
        labels = np.array(["horizontal", "vertical"])[y]
        assert clf.score(X, labels) == np.mean(pred == labels)


@pytest.mark.parametrize("strategy", ["feature_extractor", "fine_tune"])
def test_pickle_round_trip_predicts_the_same(fitted_pair, stripes_data, strategy):
    X, _ = stripes_data
    clf = fitted_pair[strategy]
    expected = clf.predict_proba(X)
    clone_ = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(clone_.predict_proba(X), expected)
    assert isinstance(clone_.model_, FineTuneNetwork)
    assert clone_.backbone_spec_.name == BACKBONE
    assert clone_.history_ == clf.history_


@pytest.mark.parametrize("strategy", ["feature_extractor", "fine_tune"])
def test_pickled_on_a_gpu_machine_predicts_on_a_cpu_only_one(
    fitted_pair, stripes_data, caplog, strategy
):
    # The weights are stored on the CPU whatever the training device, and a
    # model whose device is missing here predicts on the CPU.
    X, _ = stripes_data
    clf = fitted_pair[strategy]
    assert all(t.device.type == "cpu" for t in clf.model_.state_dict().values())
    gpu = pickle.loads(pickle.dumps(clf))
    gpu.device = "cuda:0"  # as if it had been trained on a GPU
    if gpu.features_ is not None:
        gpu.features_.device = "cuda:0"
    data = pickle.dumps(gpu)
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with caplog.at_level(logging.WARNING, logger="skmedtl.finetune"):
        proba = pickle.loads(data).predict_proba(X)
    np.testing.assert_array_equal(proba, clf.predict_proba(X))
    assert "predicting on the CPU" in caplog.text


@pytest.mark.slow
def test_grid_search_over_strategy_and_trainable_blocks(stripes_data):
    X, y = stripes_data
    X, y = X[:24], y[:24]

    def n_trainable(estimator, X, y):  # what each candidate really trained
        return estimator.n_trainable_params_

    search = GridSearchCV(
        make_clf(max_epochs=1, validation_fraction=0.25, verbose=0),
        {"strategy": ["feature_extractor", "fine_tune"], "trainable_blocks": [1, 2]},
        cv=StratifiedKFold(2),
        scoring={"accuracy": "accuracy", "trainable": n_trainable},
        refit="accuracy",
    ).fit(X, y)
    results = search.cv_results_
    trained = {
        (p["strategy"], p["trainable_blocks"]): score
        for p, score in zip(
            results["params"], results["mean_test_trainable"], strict=True
        )
    }
    head = 1280 * 2 + 2
    assert (
        trained[("feature_extractor", 1)] == trained[("feature_extractor", 2)] == head
    )
    assert head < trained[("fine_tune", 1)] < trained[("fine_tune", 2)]
    assert np.all(np.isfinite(results["mean_test_accuracy"]))
    best = search.best_estimator_
    assert best.strategy == search.best_params_["strategy"]
    assert best.predict(X).shape == (24,)


@pytest.mark.slow
def test_warm_start_continues_with_a_new_strategy(stripes_data):
    X, y = stripes_data
    clf = make_clf(strategy="feature_extractor", max_epochs=2).fit(X, y)
    head = clf.model_.head.weight.detach().clone()
    block = clf.model_.backbone.blocks[6][0].conv_pw.weight.detach().clone()
    clf.set_params(warm_start=True, strategy="fine_tune", trainable_blocks=1)
    clf.fit(X, y)
    assert [e["epoch"] for e in clf.history_] == [1, 2, 3, 4]
    assert [e["trainable"] for e in clf.history_][2:] == [["head", "blocks.6"]] * 2
    assert clf.features_ is None  # the backbone changed: embeddings are stale
    assert clf.best_epoch_ in (3, 4) and clf.n_epochs_ == 2
    assert not torch.equal(clf.model_.backbone.blocks[6][0].conv_pw.weight, block)
    # It continued from the first fit's head, not from a new one.
    fresh = make_clf(strategy="fine_tune", trainable_blocks=1, max_epochs=2)
    assert not torch.equal(fresh.fit(X, y).model_.head.weight, clf.model_.head.weight)
    assert not torch.equal(clf.model_.head.weight, head)
    # Back to a frozen backbone: embeddings now come from the fine-tuned network.
    clf.set_params(strategy="feature_extractor")
    clf.fit(X, y)
    assert clf.history_[-1]["trainable"] == ["head"] and len(clf.history_) == 6
    with pytest.raises(ValueError, match="classes of the first fit"):
        clf.fit(X, np.where(y == 1, 2, 0))
    with pytest.raises(ValueError, match="warm_start"):
        clf.set_params(backbone="lenet5").fit(X, y)


@pytest.mark.slow
def test_cache_path_embeds_each_image_once(stripes_data, tmp_path, monkeypatch):
    from skmedtl.features._extractor import FeatureExtractor

    X, y = stripes_data
    path = tmp_path / "embeddings.h5"
    params = dict(strategy="feature_extractor", max_epochs=2)
    first = make_clf(cache_path=path, **params).fit(X, y)
    assert path.exists()

    embedded = []
    forward = FeatureExtractor.forward

    def counting(self, x):
        embedded.append(len(x))
        return forward(self, x)

    monkeypatch.setattr(FeatureExtractor, "forward", counting)
    second = make_clf(cache_path=path, **params).fit(X, y)
    second.predict(X)
    assert sum(embedded) < len(X)  # found in the cache, not computed again
    np.testing.assert_array_equal(second.predict_proba(X), first.predict_proba(X))
    uncached = make_clf(**params).fit(X, y)
    np.testing.assert_allclose(
        uncached.predict_proba(X), first.predict_proba(X), rtol=1e-5, atol=1e-6
    )


def test_verbose_zero_is_silent_and_one_shows_progress(stripes_data, capsys):
    X, y = stripes_data
    make_clf(strategy="feature_extractor", max_epochs=2, verbose=0).fit(X, y)
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""
    make_clf(strategy="feature_extractor", max_epochs=2, verbose=1).fit(X, y)
    out = capsys.readouterr()
    assert out.out == "" and "epoch" in out.err


@pytest.mark.parametrize(
    "params, error, match",
    [
        (dict(strategy="finetune"), ValueError, "Did you mean 'fine_tune'"),
        (dict(optimizer="adamww"), ValueError, "Did you mean 'adamw'"),
        (dict(monitor="auc"), ValueError, "Unknown monitor"),
        (dict(monitor="roc_aux"), ValueError, "Did you mean 'roc_auc'"),
        (dict(precision="fp16"), ValueError, "Unknown precision"),
        (dict(precision="float16"), ValueError, "needs a CUDA device"),
        (dict(strategy="fine_tune", trainable_blocks=9), ValueError, "only 8 block"),
        (dict(max_epochs=0), ValueError, "max_epochs must be an integer >= 1"),
        (dict(lr=0), ValueError, "lr must be a number"),
        (dict(lr_decay=1.5), ValueError, "lr_decay"),
        (dict(validation_fraction=1.0), ValueError, "validation_fraction"),
        (
            dict(strategy="fine_tune", validation_fraction=None),
            ValueError,
            "early_stopping=True needs a validation split",
        ),
        (
            dict(strategy="gradual", validation_fraction=None, early_stopping=False),
            ValueError,
            "strategy='gradual'",
        ),
        (dict(augment="strong"), ValueError, "augment must be"),
        (
            dict(strategy="feature_extractor", augment=True, cache_path="x.h5"),
            ValueError,
            "cannot be used with augment",
        ),
        (dict(cache_path=3), TypeError, "cache_path"),
        (dict(device="gpu"), ValueError, "Unknown device"),
        (dict(backbone="efficientnet_lite9"), ValueError, "Did you mean"),
    ],
)
def test_invalid_parameters_name_the_fix(stripes_data, params, error, match):
    X, y = stripes_data
    params = {"max_epochs": 1, **params}
    backbone = params.pop("backbone", BACKBONE)
    clf = make_clf(**params).set_params(backbone=backbone)
    with pytest.raises(error, match=match):
        clf.fit(X[:8], y[:8])


@pytest.mark.parametrize(
    "y, match",
    [
        (np.zeros(8, int), "single class"),
        (np.arange(7) % 2, "8 images but y has 7"),
        (np.linspace(0, 1, 8), "Unknown label type"),
    ],
)
def test_invalid_targets(stripes_data, y, match):
    X, _ = stripes_data
    with pytest.raises(ValueError, match=match):
        make_clf(strategy="feature_extractor").fit(X[:8], y)


def test_accepts_lists_of_images_and_file_paths(stripes_data, tmp_path):
    from PIL import Image

    X, y = stripes_data
    X, y = X[:12], y[:12]
    paths = []
    for i, img in enumerate(X):
        paths.append(tmp_path / f"{i}.png")
        Image.fromarray(img).save(paths[-1])
    params = dict(strategy="fine_tune", max_epochs=1, validation_fraction=0.34)
    from_array = make_clf(**params).fit(X, y).predict_proba(X)
    from_paths = make_clf(**params).fit([str(p) for p in paths], y)
    np.testing.assert_allclose(
        from_paths.predict_proba(paths), from_array, rtol=1e-5, atol=1e-6
    )
    from_list = make_clf(**params).fit(list(X), y).predict_proba(list(X))
    np.testing.assert_allclose(from_list, from_array, rtol=1e-5, atol=1e-6)


def test_multiclass_on_a_builtin_backbone_without_weights():
    X, y = stripes(18, seed=2)
    y = np.arange(18) % 3
    clf = FineTuneClassifier(
        "lenet5",
        weights=None,
        strategy="gradual",
        max_epochs=3,
        patience=1,
        monitor="balanced_accuracy",
        validation_fraction=0.34,
        random_state=0,
        verbose=0,
        device="cpu",
    ).fit(X, y)
    assert clf.predict_proba(X).shape == (18, 3)
    assert clf.decision_function(X).shape == (18, 3)
    assert clf.history_[0]["lr"] == {"head": clf.lr}


def test_groups_make_the_validation_split_patient_level(stripes_data, monkeypatch):
    from skmedtl.finetune import _classifier

    X, y = stripes_data
    groups = np.repeat(np.arange(len(y) // 2), 2)  # patient i: images 2i, 2i+1
    y = np.repeat(np.arange(len(y) // 2) % 2, 2)  # one class per patient
    splits = []
    original = _classifier.validation_split

    def recording(*args):
        splits.append(original(*args))
        return splits[-1]

    monkeypatch.setattr(_classifier, "validation_split", recording)
    make_clf(strategy="feature_extractor", max_epochs=1).fit(X, y, groups=groups)
    train, valid = splits[-1]
    assert set(groups[train]).isdisjoint(groups[valid])
    with pytest.raises(ValueError, match="one patient id per image"):
        make_clf(max_epochs=1).fit(X, y, groups=groups[:-1])
