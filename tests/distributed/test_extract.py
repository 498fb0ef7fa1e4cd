"""skmedtl.distributed on a real two-process LocalCluster.

Every test uses its own ``random_state``, hence its own feature configuration, so
the per-worker counters it reads are its own whatever ran before.
"""

from __future__ import annotations

import os
import pickle

import joblib
import numpy as np
import pytest

pytest.importorskip("distributed")

from distributed import default_client, get_task_stream  # noqa: E402
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.svm import SVC

from skmedtl.cache import EmbeddingCache, config_fingerprint, image_keys
from skmedtl.distributed import extract

from .conftest import make_features, make_images, worker_stats

TOL = {"rtol": 1e-5, "atol": 1e-6}


def inputs(kind: str, tmp_path):
    images = make_images(24)
    if kind == "array":
        return images
    if kind == "rgb-channels-first":
        return np.stack([images, images[:, ::-1], images[:, :, ::-1]], axis=1)
    if kind == "list-of-sizes":
        return [make_images(1, size=20 + i % 3, seed=i)[0] for i in range(24)]
    paths = []
    for i, image in enumerate(images):
        paths.append(str(tmp_path / f"img{i}.npy"))
        np.save(paths[-1], image)
    return paths


def stored_rows(path, features, X) -> tuple[int, np.ndarray, np.ndarray]:
    """Rows in the cache file, read by a fresh cache object: count, found, rows."""
    from skmedtl.io._sequence import ImageSequence

    cache = EmbeddingCache(path)
    namespace = cache.namespace(
        features.feature_config_, dtype=features.cache_dtype, label=features.backbone
    )
    images = ImageSequence(X)
    found, rows = namespace.lookup(image_keys([images[i] for i in range(len(X))]))
    return cache.info().n_rows, found, rows


def embedded(client, fingerprint=None) -> tuple[int, int, dict]:
    """Images and shards embedded on all workers; builds of ``fingerprint``."""
    stats = worker_stats(client)
    builds = {w: s["builds"].get(fingerprint, 0) for w, s in stats.items()}
    return (
        sum(s["images"] for s in stats.values()),
        sum(s["shards"] for s in stats.values()),
        builds,
    )


@pytest.mark.parametrize(
    "kind", ["array", "rgb-channels-first", "list-of-sizes", "paths"]
)
def test_equals_local_extraction_in_order(client, kind, tmp_path):
    X = inputs(kind, tmp_path)
    order = [5, 3, 3, *range(24), 0]  # shuffled, with duplicates
    X = np.asarray(X)[order] if kind != "list-of-sizes" else [X[i] for i in order]
    if kind == "paths":
        X = list(X)
    features = make_features(random_state=1)
    local = features.fit(X).transform(X)
    path = tmp_path / "emb.h5"
    out = extract(X, features, client=client, cache_path=path, shard_size=5)
    assert out.dtype == np.float32 and out.shape == local.shape
    np.testing.assert_allclose(out, local, **TOL)
    n_rows, found, rows = stored_rows(path, features, X)
    assert n_rows == 24 and found.all()  # each distinct image stored once
    np.testing.assert_allclose(rows, local, **TOL)
    # The same cache file serves the local, single-process transform bit for bit.
    cached = make_features(random_state=1, cache_path=path).fit(X).transform(X)
    np.testing.assert_array_equal(cached, out)


def test_without_cache_equals_local(client):
    X = make_images(30)
    features = make_features("resnet18", random_state=2).fit(X)
    out = extract(X, features, client=client, shard_size=7)
    np.testing.assert_allclose(out, features.transform(X), **TOL)


def test_workers_build_once_and_rerun_computes_nothing(client, tmp_path):
    X = make_images(40)
    features = make_features(random_state=3).fit(X)
    fingerprint = config_fingerprint(features.feature_config_)
    path = tmp_path / "emb.h5"
    images0, shards0, _ = embedded(client)

    first = extract(X, features, client=client, cache_path=path, shard_size=4)
    images1, shards1, builds = embedded(client, fingerprint)
    assert images1 - images0 == 40 and shards1 - shards0 == 10
    assert builds == {w: 1 for w in builds}  # both workers worked, each built once

    second = extract(X, features, client=client, cache_path=path, shard_size=4)
    images2, shards2, builds = embedded(client, fingerprint)
    assert (images2, shards2) == (images1, shards1)  # nothing sent to the cluster
    np.testing.assert_array_equal(second, first)

    more = np.concatenate([X, make_images(6, seed=9)])
    third = extract(more, features, client=client, cache_path=path, shard_size=4)
    images3, _, builds = embedded(client, fingerprint)
    assert images3 - images2 == 6  # only the misses
    assert builds == {w: 1 for w in builds}  # models reused across calls
    np.testing.assert_array_equal(third[:40], first)


def test_paths_are_decoded_and_hashed_on_the_workers(client, tmp_path):
    X = inputs("paths", tmp_path)
    features = make_features(random_state=4)
    path = tmp_path / "emb.h5"
    first = extract(X, features, client=client, cache_path=path, shard_size=6)
    before = worker_stats(client)
    second = extract(X, features, client=client, cache_path=path, shard_size=6)
    after = worker_stats(client)
    keyed = sum(s["keyed"] for s in after.values())
    assert keyed - sum(s["keyed"] for s in before.values()) == 24
    assert sum(s["images"] for s in after.values()) == sum(
        s["images"] for s in before.values()
    )
    np.testing.assert_array_equal(second, first)


def test_scheduler_address_and_float16_cache(client, tmp_path):
    X = make_images(20)
    features = make_features(random_state=5, cache_dtype="float16")
    local = features.fit(X).transform(X)
    address = client.scheduler.address
    out = extract(X, features, client=address, cache_path=tmp_path / "emb.h5")
    # float16 storage: returned rows are rounded like every later cache hit.
    np.testing.assert_array_equal(out, local.astype(np.float16).astype(np.float32))
    # Another spelling of the address: a client of its own, closed afterwards.
    other = address.replace("127.0.0.1", "localhost")
    assert other != address
    again = extract(X, features, client=other, cache_path=tmp_path / "emb2.h5")
    np.testing.assert_array_equal(again, out)
    assert default_client() is client and client.status == "running"


def test_a_client_that_is_not_the_default(client, monkeypatch):
    import distributed.client

    X = make_images(12)
    features = make_features(random_state=11)
    with distributed.Client(client.scheduler.address, set_as_default=False) as other:
        # No default client at all (Dask's private registry emptied for the test):
        # nothing in extract may fall back on one.
        monkeypatch.setattr(distributed.client, "_global_clients", {})
        with pytest.raises(ValueError):
            default_client()
        out = extract(X, features, client=other, shard_size=4)
        monkeypatch.undo()
    np.testing.assert_allclose(out, features.fit(X).transform(X), **TOL)


def test_cnnfeatures_client_in_a_grid_search(client, tmp_path):
    X = make_images(32)
    y = np.arange(32) % 2
    path = tmp_path / "emb.h5"
    features = make_features(random_state=6, client=client, cache_path=path)
    assert clone(features).client is client  # shared, not deep-copied
    pipe = Pipeline([("features", features), ("clf", LogisticRegression())])
    grid = {"clf__C": [0.1, 1.0]}
    images0, _, _ = embedded(client)
    search = GridSearchCV(pipe, grid, cv=2).fit(X, y)
    images1, _, _ = embedded(client)
    assert images1 - images0 == 32  # each image embedded once across all fits
    local = GridSearchCV(
        Pipeline(
            [("features", make_features(random_state=6)), ("clf", LogisticRegression())]
        ),
        grid,
        cv=2,
    ).fit(X, y)
    assert search.best_params_ == local.best_params_
    np.testing.assert_allclose(
        search.cv_results_["mean_test_score"], local.cv_results_["mean_test_score"]
    )
    # A pickled CNNFeatures keeps the scheduler address and still runs there.
    fitted = search.best_estimator_.named_steps["features"]
    restored = pickle.loads(pickle.dumps(fitted))
    assert restored.client == client.scheduler.address
    np.testing.assert_array_equal(restored.transform(X), fitted.transform(X))
    assert embedded(client)[0] == images1


def test_grid_search_with_dask_joblib_backend(client, tmp_path):
    X = make_images(60, seed=3)
    X[::2, 6:18, 6:18] //= 4  # a visible class difference
    y = np.arange(60) % 2
    Z = extract(
        X, make_features(random_state=7), client=client, cache_path=tmp_path / "emb.h5"
    )
    grid = {"C": [0.01, 0.1, 1.0, 10.0], "gamma": ["scale", 0.01]}
    local = GridSearchCV(SVC(), grid, cv=3, n_jobs=1).fit(Z, y)
    with get_task_stream(client) as stream, joblib.parallel_backend("dask"):
        remote = GridSearchCV(SVC(), grid, cv=3, n_jobs=-1).fit(Z, y)
    assert remote.best_params_ == local.best_params_
    np.testing.assert_allclose(
        remote.cv_results_["mean_test_score"], local.cv_results_["mean_test_score"]
    )
    assert len(stream.data) >= 8  # the 24 fits ran as tasks on the cluster


def test_failed_shard_stores_complete_shards_only(client, tmp_path):
    X = make_images(24).astype(np.float32) / 255
    X[13] *= 5  # a float image outside [0, 1]: preprocessing refuses it
    features = make_features(random_state=8)
    path = tmp_path / "emb.h5"
    with pytest.raises(ValueError, match="outside \\[0, 1\\]") as info:
        extract(X, features, client=client, cache_path=path, shard_size=4, retries=1)
    assert any("images 12, 13, 14, 15 of X" in n for n in info.value.__notes__)
    good = np.delete(np.arange(24), 13)
    local = make_features(random_state=8).fit(X[good]).transform(X[good])
    n_rows, found, rows = stored_rows(path, features.fit(X[good]), X[good])
    assert n_rows == found.sum() <= 20  # never the failed shard's rows
    np.testing.assert_allclose(rows, local[found], **TOL)
    X[13] /= 5
    out = extract(X, features, client=client, cache_path=path, shard_size=4)
    np.testing.assert_allclose(out[good], local, **TOL)


def test_a_shard_that_raises_is_retried(client, tmp_path):
    """The first shard to run raises once; ``retries`` reruns it."""
    from skmedtl import CNNFeatures

    marker = str(tmp_path / "failed")

    class FailOnce(CNNFeatures):  # defined here: shipped to workers by value
        def transform(self, X):
            if self.client is None and not os.path.exists(marker):
                open(marker, "w").close()
                raise RuntimeError("transient failure")
            return super().transform(X)

    X = make_images(16, seed=6)
    params = make_features(random_state=10).get_params()
    local = make_features(random_state=10).fit(X).transform(X)
    with pytest.raises(RuntimeError, match="transient failure"):
        extract(X, FailOnce(**params), client=client, shard_size=4, retries=0)
    os.remove(marker)
    path = tmp_path / "emb.h5"
    out = extract(
        X, FailOnce(**params), client=client, cache_path=path, shard_size=4, retries=1
    )
    assert os.path.exists(marker)
    np.testing.assert_allclose(out, local, **TOL)
    assert stored_rows(path, make_features(random_state=10).fit(X), X)[0] == 16


def test_worker_killed_mid_run(client, tmp_path):
    """The first shard to start kills its worker; the run still completes."""
    from distributed.diagnostics.plugin import WorkerPlugin

    marker = str(tmp_path / "killed")

    class KillOnce(WorkerPlugin):  # defined here: shipped to workers by value
        name = "skmedtl-test-kill-once"

        def __init__(self, marker):
            self.marker = marker

        def transition(self, key, start, finish, **kwargs):
            if (
                finish == "executing"
                and str(key).startswith("skmedtl-embed")
                and not os.path.exists(self.marker)
            ):
                open(self.marker, "w").close()
                os._exit(1)

    X = make_images(40, seed=5)
    features = make_features(random_state=9).fit(X)
    local = features.transform(X)
    path = tmp_path / "emb.h5"
    client.register_plugin(KillOnce(marker))
    try:
        out = extract(X, features, client=client, cache_path=path, shard_size=4)
    finally:
        client.unregister_worker_plugin(KillOnce.name)
        client.wait_for_workers(2, timeout=60)  # the nanny restarts the worker
    assert os.path.exists(marker)  # a worker really died mid-run
    np.testing.assert_allclose(out, local, **TOL)
    n_rows, found, rows = stored_rows(path, features, X)
    assert n_rows == 40 and found.all()
    np.testing.assert_allclose(rows, local, **TOL)
