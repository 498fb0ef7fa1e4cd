"""CNNFeatures(cache_path=...): each image through each backbone once, ever."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline

from skmedtl import CNNFeatures
from skmedtl.cache import CacheCorruptedWarning, EmbeddingCache, config_fingerprint

from ._cache_helpers import make_features, make_images


def inputs(kind: str, tmp_path):
    images = make_images(20, size=24)
    if kind == "array":
        return images
    if kind == "rgb-channels-first":
        return np.stack([images, images[:, ::-1], images[:, :, ::-1]], axis=1)
    if kind == "list-of-sizes":
        return [make_images(1, size=20 + i % 3, seed=i)[0] for i in range(20)]
    paths = []
    for i, image in enumerate(images):
        paths.append(tmp_path / f"img{i}.npy")
        np.save(paths[-1], image)
    return paths


@pytest.mark.parametrize(
    "kind", ["array", "rgb-channels-first", "list-of-sizes", "paths"]
)
def test_cached_equals_uncached_bitwise(kind, tmp_path, stem_counter):
    X = inputs(kind, tmp_path)
    reference = make_features().fit(X).transform(X)
    stem_counter.reset()
    cached = make_features(cache_path=tmp_path / "emb.h5").fit(X)
    cold = cached.transform(X)
    assert stem_counter.images() == 20
    warm = cached.transform(X)
    assert stem_counter.images() == 20  # nothing recomputed
    again = make_features(cache_path=tmp_path / "emb.h5").fit(X).transform(X)
    assert stem_counter.images() == 20
    assert cold.dtype == warm.dtype == np.float32
    np.testing.assert_array_equal(cold, reference)
    np.testing.assert_array_equal(warm, reference)
    np.testing.assert_array_equal(again, reference)


def test_resnet_cached_equals_uncached_bitwise(tmp_path):
    X = make_images(12)
    reference = make_features("resnet18").fit(X).transform(X)
    cached = make_features("resnet18", cache_path=tmp_path / "emb.h5").fit(X)
    np.testing.assert_array_equal(cached.transform(X), reference)
    np.testing.assert_array_equal(cached.transform(X[::-1]), reference[::-1])


def test_only_missing_images_are_computed(tmp_path, stem_counter):
    X = make_images(40)
    reference = make_features().fit(X).transform(X)
    stem_counter.reset()
    features = make_features(cache_path=tmp_path / "emb.h5").fit(X)
    features.transform(X[10:25])
    assert stem_counter.images() == 15
    out = features.transform(X[::-1])
    assert stem_counter.images() == 40
    assert set(stem_counter.digests["lenet5"].values()) == {1}
    np.testing.assert_allclose(out, reference[::-1], rtol=1e-5, atol=1e-6)


def test_duplicate_images_are_computed_once(tmp_path, stem_counter):
    X = make_images(3)
    X = X[[0, 1, 0, 2, 1, 0]]
    out = make_features(cache_path=tmp_path / "emb.h5").fit(X).transform(X)
    assert stem_counter.images() == 3
    np.testing.assert_array_equal(out[0], out[2])
    np.testing.assert_array_equal(out[0], out[5])
    np.testing.assert_array_equal(out[1], out[4])
    assert not np.array_equal(out[0], out[1])


def test_feature_config_names_everything_that_changes_an_embedding():
    X = make_images(2)
    config = make_features().fit(X).feature_config_
    assert config["backbone"] == "lenet5"
    assert config["preprocessing"]["input_size"] == (32, 32)
    assert len(config["weights_digest"]) == 32
    assert {"layer", "layer_module", "pooling", "precision",
            "feature_code_version"} <= set(config)


CHANGES = [
    {"backbone": "timm:test_resnet"},
    {"random_state": 1},  # other random weights
    {"layer": "c3"},
    {"pooling": "max"},
    {"input_size": 36},
    {"resize": "pad"},
    {"intensity": "minmax"},
    {"cache_dtype": "float16"},
]


@pytest.mark.parametrize("change", CHANGES, ids=lambda c: next(iter(c)))
def test_any_configuration_change_is_a_miss(change, tmp_path, stem_counter):
    X = make_images(10, size=20)
    path = tmp_path / "emb.h5"
    make_features(cache_path=path).fit(X).transform(X)
    stem_counter.reset()
    changed = make_features(cache_path=path, **change).fit(X)
    out = changed.transform(X)
    assert stem_counter.images() == 10
    reference = make_features(**change).fit(X).transform(X)
    if change.get("cache_dtype") == "float16":
        reference = reference.astype(np.float16).astype(np.float32)
    np.testing.assert_array_equal(out, reference)
    assert len(EmbeddingCache(path).info().namespaces) == 2


@pytest.mark.parametrize(
    "change", [{"batch_size": 3}, {"verbose": 0, "device": "cpu"}],
    ids=["batch_size", "device"],
)
def test_settings_that_keep_embeddings_keep_the_namespace(change, tmp_path,
                                                          stem_counter):
    X = make_images(10)
    path = tmp_path / "emb.h5"
    first = make_features(cache_path=path).fit(X).transform(X)
    stem_counter.reset()
    again = make_features(cache_path=path, **change).fit(X).transform(X)
    assert stem_counter.images() == 0
    np.testing.assert_array_equal(first, again)


def test_new_tensors_under_the_same_weights_file_are_a_miss(tmp_path, stem_counter):
    X = make_images(10)
    weights = tmp_path / "lenet5.pth"
    path = tmp_path / "emb.h5"

    def save(seed):
        torch.save(make_features(random_state=seed).fit(X[:1]).model_.state_dict(),
                   weights)

    save(0)
    old = make_features(weights=str(weights), cache_path=path).fit(X).transform(X)
    save(1)  # same file name, different tensors
    stem_counter.reset()
    new = make_features(weights=str(weights), cache_path=path).fit(X).transform(X)
    assert stem_counter.images() == 10
    assert not np.allclose(old, new)
    np.testing.assert_array_equal(
        new, make_features(weights=str(weights)).fit(X).transform(X)
    )


def test_preprocessing_change_is_a_miss_not_a_stale_hit(tmp_path, stem_counter):
    X = make_images(10)
    path = tmp_path / "emb.h5"
    small = make_features(cache_path=path, input_size=32).fit(X)
    big = make_features(cache_path=path, input_size=40).fit(X)
    assert (config_fingerprint(small.feature_config_)
            != config_fingerprint(big.feature_config_))
    a = small.transform(X)
    stem_counter.reset()
    b = big.transform(X)
    assert stem_counter.images() == 10
    np.testing.assert_array_equal(b, make_features(input_size=40).fit(X).transform(X))
    assert not np.allclose(a, b)


def test_float16_storage_gives_the_same_numbers_cold_and_warm(tmp_path):
    X = make_images(10)
    reference = make_features().fit(X).transform(X)
    features = make_features(cache_path=tmp_path / "emb.h5", cache_dtype="float16")
    cold = features.fit(X).transform(X)
    warm = features.transform(X)
    np.testing.assert_array_equal(cold, warm)
    np.testing.assert_allclose(cold, reference, rtol=2e-3, atol=1e-3)
    assert not np.array_equal(cold, reference)


def test_clone_and_pickle_keep_the_cache_and_hit(tmp_path, monkeypatch):
    X = make_images(10)
    features = make_features(cache_path=tmp_path / "emb.h5").fit(X)
    expected = features.transform(X)
    restored = pickle.loads(pickle.dumps(features))
    cloned = clone(features).fit(X)
    assert cloned.get_params()["cache_path"] == tmp_path / "emb.h5"

    def no_network(*args, **kwargs):
        raise AssertionError("the network ran although every image is cached")

    monkeypatch.setattr(CNNFeatures, "_embed", no_network)
    np.testing.assert_array_equal(restored.transform(X), expected)
    np.testing.assert_array_equal(cloned.transform(X), expected)


def test_damaged_cache_is_rebuilt_with_a_warning(tmp_path, stem_counter):
    X = make_images(30)
    path = tmp_path / "emb.h5"
    expected = make_features(cache_path=path).fit(X).transform(X)
    os.truncate(path, os.path.getsize(path) // 3)
    stem_counter.reset()
    features = make_features(cache_path=path).fit(X)
    with pytest.warns(CacheCorruptedWarning, match=r"emb\.h5"):
        out = features.transform(X)
    assert stem_counter.images() == 30
    np.testing.assert_array_equal(out, expected)
    assert any(".corrupt-" in p for p in os.listdir(tmp_path))


def test_cache_parameters_are_checked(tmp_path):
    X = make_images(2)
    with pytest.raises(TypeError, match="cache_path"):
        make_features(cache_path=3).fit(X)
    with pytest.raises(ValueError, match="cache_dtype"):
        make_features(cache_path=tmp_path / "e.h5", cache_dtype="int8").fit(X)


def test_grid_search_pushes_each_image_once_per_backbone(tmp_path, stem_counter):
    """The issue's scenario: backbones x classifier settings x 5 folds."""
    X = make_images(40)
    y = np.arange(40) % 2
    backbones = ["lenet5", "timm:test_resnet"]
    grid = {"features__backbone": backbones, "clf__C": [0.1, 1.0]}

    def search(cache_path, param_grid):
        pipe = Pipeline([("features", make_features(cache_path=cache_path)),
                         ("clf", LogisticRegression(max_iter=200))])
        return GridSearchCV(pipe, param_grid, cv=5, n_jobs=1).fit(X, y)

    # control: without a cache every candidate and fold embeds its images again
    # (4 training folds + 1 test fold per C, plus the refit)
    search(None, {"features__backbone": ["lenet5"], "clf__C": [0.1, 1.0]})
    assert set(stem_counter.digests["lenet5"].values()) == {2 * 5 + 1}
    stem_counter.reset()

    first = search(tmp_path / "emb.h5", grid)
    for backbone in backbones:
        counts = stem_counter.digests[backbone]
        assert len(counts) == 40, backbone  # every image ...
        assert set(counts.values()) == {1}, backbone  # ... exactly once
    stem_counter.reset()

    second = search(tmp_path / "emb.h5", grid)
    assert stem_counter.images() == 0
    np.testing.assert_array_equal(second.cv_results_["mean_test_score"],
                                  first.cv_results_["mean_test_score"])
    info = EmbeddingCache(tmp_path / "emb.h5").info()
    assert sorted(ns.n_rows for ns in info.namespaces) == [40, 40]
