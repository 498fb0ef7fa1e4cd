"""Bad input to skmedtl.distributed fails early, with messages that say the fix."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from skmedtl.distributed import extract

from .conftest import make_features, make_images

INSTALL = 'pip install "skmedtl\\[distributed\\]"'


@pytest.fixture
def no_dask(monkeypatch):
    """Make ``import dask`` / ``import distributed`` fail, as when not installed."""
    for name in list(sys.modules):
        if name.split(".")[0] in ("dask", "distributed"):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "dask", None)
    monkeypatch.setitem(sys.modules, "distributed", None)


def test_missing_dask_names_the_extra(no_dask):
    X = make_images(2)
    with pytest.raises(ImportError, match=INSTALL):
        extract(X, make_features(), client="tcp://127.0.0.1:8786")
    with pytest.raises(ImportError, match=INSTALL):
        make_features(client="tcp://127.0.0.1:8786").fit(X)
    # Without a client nothing needs Dask.
    assert make_features().fit(X).transform(X).shape == (2, 120)


@pytest.mark.slow  # a fresh interpreter: ~5 s
def test_import_skmedtl_does_not_need_dask():
    code = (
        "import sys; sys.modules['dask'] = sys.modules['distributed'] = None\n"
        "import skmedtl, skmedtl.distributed\n"
        "from skmedtl import CNNFeatures\n"
        "assert CNNFeatures().client is None\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


@pytest.mark.parametrize("client", [42, object(), ["tcp://127.0.0.1:8786"]])
def test_client_of_the_wrong_type(client):
    pytest.importorskip("distributed")
    X = make_images(2)
    with pytest.raises(TypeError, match="client must be a distributed.Client or"):
        extract(X, make_features(), client=client)
    with pytest.raises(TypeError, match="client must be a distributed.Client or"):
        make_features(client=client).fit(X)


def test_empty_address():
    pytest.importorskip("distributed")
    with pytest.raises(ValueError, match="client is an empty string"):
        make_features(client=" ").fit(make_images(2))


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"features": 3}, TypeError, "features must be a CNNFeatures"),
        ({"shard_size": 0}, ValueError, "shard_size must be an integer >= 1"),
        ({"shard_size": 2.5}, ValueError, "shard_size must be an integer"),
        ({"retries": -1}, ValueError, "retries must be an integer >= 0"),
        (
            {"features": make_features(random_state=None)},
            ValueError,
            "needs an integer random_state",
        ),
    ],
)
def test_bad_arguments(kwargs, error, match):
    pytest.importorskip("distributed")
    kwargs = {"features": make_features(), **kwargs}
    with pytest.raises(error, match=match):
        extract(make_images(2), client="tcp://127.0.0.1:8786", **kwargs)


def test_no_default_client():
    distributed = pytest.importorskip("distributed")
    try:
        distributed.default_client()
    except ValueError:
        pass
    else:
        pytest.skip("a Dask client is already running in this process")
    with pytest.raises(ValueError, match="No Dask client: pass client="):
        extract(make_images(2), make_features())


def test_bad_images_fail_before_the_cluster_is_used():
    pytest.importorskip("distributed")
    with pytest.raises(ValueError, match="X is empty"):
        extract(
            np.zeros((0, 8, 8), np.uint8),
            make_features(),
            client="tcp://127.0.0.1:8786",
        )


def test_unreachable_scheduler_names_the_address():
    dask = pytest.importorskip("dask")
    pytest.importorskip("distributed")
    features = make_features(client="tcp://127.0.0.1:9")
    features.fit(make_images(2))
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        with pytest.raises(OSError, match="client='tcp://127.0.0.1:9'"):
            features.transform(make_images(2))


def test_study_with_an_empty_scheduler_names_the_flag(tmp_path, capsys):
    from skmedtl.cli import main

    argv = ["study", "--dataset", "breastmnist", "--out", str(tmp_path / "o")]
    assert main([*argv, "--scheduler", " "]) == 2
    err = capsys.readouterr().err
    assert "--scheduler is empty" in err and "Traceback" not in err


def test_cell_executor_parameters_are_checked_before_work():
    pytest.importorskip("distributed")
    from skmedtl.distributed import DaskCellExecutor

    with pytest.raises(ValueError, match="storage"):
        DaskCellExecutor("tcp://127.0.0.1:1", storage="nfs").shares_files(".")
    with pytest.raises(ValueError, match="client is an empty string"):
        list(DaskCellExecutor("").run([]))
