"""The one cache path (embed_through_cache) and what CNNFeatures reports."""

from __future__ import annotations

import numpy as np
import pytest

from skmedtl.cache import EmbeddingCache
from skmedtl.features import _cnn_features
from skmedtl.features._embed import embed_through_cache
from tests.conftest import tiny_features


class _Namespace:
    """A dict-backed stand-in for a cache namespace."""

    def __init__(self, rows=None, mode="a"):
        self.rows = dict(rows or {})
        self.cache = type("C", (), {"mode": mode, "flush": lambda self: None})()
        self.lookups = 0

    def lookup(self, keys):
        self.lookups += 1
        found = np.array([k in self.rows for k in keys], dtype=bool)
        rows = np.array([self.rows[k] for k in keys if k in self.rows])
        return found, rows.reshape(-1, 2)

    def store(self, keys, rows):
        for k, r in zip(keys, rows, strict=True):
            self.rows.setdefault(k, r)
        return np.asarray(rows, dtype=np.float32)


def _compute(values, log):
    def compute(todo, fill):
        log.append(list(todo))
        fill.store(todo, np.array([[values[j], 0.0] for j in todo]))
        return "torch"

    return compute


def test_misses_are_computed_once_per_key_and_duplicates_copied():
    keys = ["a", "b", "a", "c", "b"]
    values = [1.0, 2.0, 1.0, 3.0, 2.0]
    namespace = _Namespace({"c": [3.0, 0.0]})
    out = np.zeros((5, 2), dtype=np.float32)
    log = []
    stats = embed_through_cache(keys, namespace, _compute(values, log), out)
    assert log == [[0, 1]]  # "c" cached; "a" and "b" computed at first position
    np.testing.assert_array_equal(out[:, 0], values)
    assert stats.to_dict() == {
        "n_images": 5,
        "n_computed": 2,
        "n_cached": 3,
        "engine": "torch",
    }
    assert set(namespace.rows) == {"a", "b", "c"}


def test_everything_cached_computes_nothing():
    namespace = _Namespace({"a": [1.0, 0.0]})
    out = np.zeros((2, 2), dtype=np.float32)
    log = []
    stats = embed_through_cache(["a", "a"], namespace, _compute([9, 9], log), out)
    assert log == [] and stats.engine is None and stats.n_cached == 2
    np.testing.assert_array_equal(out[:, 0], [1.0, 1.0])


def test_still_missing_takes_rows_stored_meanwhile():
    namespace = _Namespace()
    out = np.zeros((3, 2), dtype=np.float32)

    def compute(todo, fill):
        namespace.rows["z"] = np.array([7.0, 0.0])  # another process stored it
        assert fill.still_missing(todo) == [0, 1]
        fill.store([0, 1], np.array([[1.0, 0.0], [2.0, 0.0]]))
        return "torch"

    stats = embed_through_cache(["x", "y", "z"], namespace, compute, out)
    np.testing.assert_array_equal(out[:, 0], [1.0, 2.0, 7.0])
    assert (stats.n_computed, stats.n_cached) == (2, 1)


def test_read_only_namespace_is_never_written():
    namespace = _Namespace(mode="r")
    out = np.zeros((1, 2), dtype=np.float32)
    embed_through_cache(["a"], namespace, _compute([4.0], []), out)
    assert namespace.rows == {} and out[0, 0] == 4.0


def test_without_a_cache_every_row_is_computed():
    out = np.zeros((3, 2), dtype=np.float32)
    log = []
    stats = embed_through_cache(None, None, _compute([1.0, 1.0, 2.0], log), out)
    assert log == [[0, 1, 2]] and stats.n_computed == 3


def test_transform_stats_and_public_namespace(tmp_path, gray_images):
    path = tmp_path / "emb.h5"
    features = tiny_features(cache_path=path, backend="torch").fit(gray_images)
    X = np.concatenate([gray_images[:5], gray_images[:2]])  # 2 duplicates
    first = features.transform(X)
    assert features.transform_stats_ == {
        "n_images": 7,
        "n_computed": 5,
        "n_cached": 2,
        "engine": "torch",
    }
    namespace = features.cache_namespace()
    assert len(namespace) == 5
    assert namespace.name == features.cache_namespace(EmbeddingCache(path)).name
    again = features.transform(X)
    assert features.transform_stats_["n_computed"] == 0
    assert features.transform_stats_["engine"] is None
    np.testing.assert_array_equal(first, again)
    uncached = tiny_features(backend="torch").fit(gray_images)
    uncached.transform(X)
    assert uncached.transform_stats_["n_computed"] == 7
    with pytest.raises(ValueError, match="needs a cache"):
        uncached.cache_namespace()


def test_failed_onnx_export_is_recorded_as_torch(monkeypatch, gray_images):
    pytest.importorskip("onnxruntime")

    def fail(self, device):
        raise RuntimeError("exporter cannot handle this model")

    monkeypatch.setattr(_cnn_features.CNNFeatures, "_onnx_engine", fail)
    features = tiny_features(backend="auto", device="cpu").fit(gray_images)
    features.transform(gray_images[:3])
    assert features.transform_stats_["engine"] == "torch"
    assert features.build_engine() == "torch"
