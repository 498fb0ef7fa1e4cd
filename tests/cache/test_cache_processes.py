"""The cache across processes: SIGKILL at any moment, concurrent writers."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from skmedtl.cache import EmbeddingCache, image_key

from ._cache_helpers import make_features, make_images

ROOT = Path(__file__).resolve().parents[2]  # runs tests.cache._cache_worker
N = 64

pytestmark = pytest.mark.skipif(
    not hasattr(signal, "SIGKILL"), reason="needs POSIX signals"
)


def start_worker(cache, out, *args):
    return subprocess.Popen(
        [sys.executable, "-m", "tests.cache._cache_worker", str(cache), str(out),
         "--n", str(N), *args],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )


def wait_for(condition, proc, what, timeout=120):
    deadline = time.monotonic() + timeout
    while not condition():
        if proc.poll() is not None:
            raise AssertionError(f"worker exited before {what}: "
                                 f"{proc.stderr.read().decode()[-3000:]}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


@pytest.fixture(scope="module")
def reference():
    X = make_images(N)
    return X, make_features().fit(X).transform(X)


def check_complete_rows(path, X, reference) -> np.ndarray:
    """The cache opens; every row it holds is the right embedding of its image."""
    cache = EmbeddingCache(path)
    ns = cache.namespace(make_features().fit(X[:1]).feature_config_,
                         label="lenet5")
    found, rows = ns.lookup([image_key(x) for x in X])
    assert cache.info().n_rows == found.sum()
    np.testing.assert_allclose(rows, reference[found], rtol=1e-5, atol=1e-6)
    return found


def test_sigkill_mid_run_then_resume(tmp_path, reference, stem_counter):
    """The issue's test: kill -9 mid-batch, then resume."""
    X, expected = reference
    path = tmp_path / "emb.h5"
    # 0.5 s a batch: even a heavily loaded machine polls before the run ends.
    proc = start_worker(path, tmp_path / "out", "--slow", "0.5")
    reader = EmbeddingCache(path, mode="r")
    wait_for(lambda: reader.info().n_rows >= 12, proc, "12 stored rows")
    time.sleep(0.2)  # into the next batch (0.5 s each)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL

    found = check_complete_rows(path, X, expected)
    n_kept = int(found.sum())
    assert 12 <= n_kept < N
    assert n_kept % 4 == 0  # whole batches of 4, nothing half-written
    stem_counter.reset()
    resumed = make_features(cache_path=path).fit(X).transform(X)
    assert stem_counter.images() == N - n_kept  # only what was missing
    assert set(stem_counter.digests["lenet5"].values()) == {1}
    np.testing.assert_allclose(resumed, expected, rtol=1e-5, atol=1e-6)
    info = EmbeddingCache(path).info()
    assert info.n_rows == N and info.journal_bytes == 0


@pytest.mark.slow
def test_repeated_kills_around_checkpoints_lose_nothing_complete(
    tmp_path, reference, stem_counter
):
    """Kills at random moments of a run that checkpoints after every 8 images."""
    X, expected = reference
    path = tmp_path / "emb.h5"
    rng = np.random.default_rng(0)
    kept = 0
    for _ in range(2):
        proc = start_worker(path, tmp_path / "out", "--slow", "0.03",
                            "--calls", "8")
        reader = EmbeddingCache(path, mode="r")
        wait_for(lambda r=reader, k=kept: r.info().n_rows > k, proc, "progress")
        time.sleep(rng.uniform(0, 0.3))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        found = check_complete_rows(path, X, expected)
        assert found.sum() >= kept  # rows stored before a kill are never lost
        kept = int(found.sum())
    stem_counter.reset()
    resumed = make_features(cache_path=path).fit(X).transform(X)
    assert stem_counter.images() == N - kept
    np.testing.assert_allclose(resumed, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.slow  # the SIGKILL test keeps a quick multi-process case
def test_two_processes_extract_into_one_cache_concurrently(tmp_path, reference):
    X, expected = reference
    path = tmp_path / "emb.h5"
    go = tmp_path / "go"
    procs = []
    for name, extra in (("a", []), ("b", ["--reverse"])):
        procs.append(start_worker(
            path, tmp_path / name, "--slow", "0.05", "--calls", "2",
            "--ready", str(tmp_path / f"{name}.ready"), "--go", str(go), *extra,
        ))
    for name, proc in zip("ab", procs, strict=True):
        wait_for(lambda n=name: (tmp_path / f"{n}.ready").exists(), proc, "ready")
    go.touch()
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err.decode()[-3000:]

    computed = []
    for name in "ab":
        np.testing.assert_allclose(np.load(tmp_path / f"{name}.npy"), expected,
                                   rtol=1e-5, atol=1e-6)
        computed.append(json.loads((tmp_path / f"{name}.json").read_text())["computed"])
    assert sum(computed) < 2 * N  # they shared work, not just both finished
    found = check_complete_rows(path, X, expected)
    assert found.all()
    info = EmbeddingCache(path).info()
    assert info.n_rows == N and info.namespaces[0].n_pending == 0
