"""Fixtures of the Dask tests: one small local cluster per module."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    """Two single-threaded worker processes, offline like the test process."""
    from distributed import Client, LocalCluster

    home = tmp_path_factory.mktemp("worker_home")
    env = {
        "SKMEDTL_HOME": str(home),
        "SKMEDTL_OFFLINE": "1",
        "HF_HUB_OFFLINE": "1",
        "TORCH_HOME": str(home / "torch"),
    }
    cluster = LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        env=env,
    )
    client = Client(cluster)
    client.wait_for_workers(2)
    yield client
    client.close()
    cluster.close()


def make_images(n: int, size: int = 24, seed: int = 0) -> np.ndarray:
    """``n`` distinct random uint8 greyscale images."""
    return np.random.default_rng(seed).integers(0, 256, (n, size, size), dtype=np.uint8)


def make_features(backbone: str = "lenet5", **params):
    """A tiny, seeded, silent CNNFeatures (32 px input, PyTorch engine)."""
    from skmedtl import CNNFeatures

    defaults = {
        "weights": None,
        "random_state": 0,
        "input_size": 32,
        "verbose": 0,
        "batch_size": 8,
        "backend": "torch",
    }
    return CNNFeatures(backbone, **{**defaults, **params})


def worker_stats(client) -> dict:
    """What each worker did (models built, images embedded, shards, files keyed)."""
    from skmedtl.distributed import _worker

    return client.run(_worker.stats)
