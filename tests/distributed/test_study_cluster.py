"""The whole study on a Dask cluster: the same outputs as a local run.

The study is the tiny binary study of the golden tests (lenet5, two hybrid heads
and full fine-tuning, two seeds: six cells), on the module's ``LocalCluster`` of
two single-threaded worker processes. ``results.csv`` (time, memory and device
columns aside) and ``predictions.csv`` must equal those of the same study run in
this process, whichever worker ran which cell, also when a worker dies in the
middle of a fine-tuning cell (see :func:`tests.distributed.cells.die_once`).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("distributed")

from skmedtl.distributed import DaskCellExecutor  # noqa: E402

from . import cells  # noqa: E402
from .conftest import worker_stats  # noqa: E402

pytestmark = pytest.mark.slow


def _study(out: Path, **params):
    from skmedtl.study import TransferStudy
    from tests.study._golden import dataset, study_args

    return TransferStudy(dataset("binary"), out, **study_args("binary"), **params)


def _outputs(out: Path) -> dict[str, str]:
    from tests.study._golden import _without_cost

    return {
        "results.csv": _without_cost((out / "results.csv").read_text()),
        "predictions.csv": (out / "predictions.csv").read_text(),
    }


@pytest.fixture(scope="module")
def local(tmp_path_factory):
    """The study run in this process (the reference)."""
    out = tmp_path_factory.mktemp("local") / "study"
    _study(out).run()
    return _outputs(out)


class KillDuringFineTuning(DaskCellExecutor):
    """Kills the worker that runs the first fine-tuning cell, on its first try."""

    def __init__(self, client, marker: Path, **params):
        super().__init__(client, **params)
        self.marker = marker

    def run(self, tasks):
        tasks = list(tasks)
        trained = [i for i, t in enumerate(tasks) if "/ full /" in t.label]
        originals = {t.key: t for t in tasks}
        if trained:
            i = trained[0]
            tasks[i] = replace(
                tasks[i],
                fn=cells.die_once,
                args=(str(self.marker), tasks[i].fn, *tasks[i].args),
            )
        for task, outcome in super().run(tasks):
            yield originals[task.key], outcome


def test_cluster_study_equals_local_run(client, local, tmp_path):
    before = sum(s["images"] for s in worker_stats(client).values())
    # An address, not the client: the study must not keep it anywhere.
    address = client.scheduler.address
    study = _study(tmp_path / "out", executor=DaskCellExecutor(address, verbose=0))
    results = study.run()
    assert results.n_run == 6 and not results.failures
    assert _outputs(tmp_path / "out") == local
    # The frozen embeddings were extracted on the workers (sharded).
    after = sum(s["images"] for s in worker_stats(client).values())
    assert after - before >= 48

    # The scheduler address is a run-time setting: in no file the study wrote,
    # the saved models included, and not in the loaded model.
    host_port = address.split("://", 1)[1].encode()
    for path in (tmp_path / "out").rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert host_port not in data and b"tcp://" not in data, path
    from skmedtl import load

    model = load(tmp_path / "out" / "model")
    features = getattr(model, "features_", None) or getattr(model, "features", None)
    for obj in (model, features):
        if obj is not None and hasattr(obj, "get_params"):
            assert "tcp://" not in repr(obj.get_params(deep=True))


def test_a_worker_killed_mid_fine_tuning_changes_nothing(client, local, tmp_path):
    marker = tmp_path / "kill"
    marker.touch()
    executor = KillDuringFineTuning(client, marker, verbose=0)
    results = _study(tmp_path / "out", executor=executor).run()
    assert (tmp_path / "kill.killed").exists()  # the worker did die
    assert results.n_run == 6 and not results.failures
    assert _outputs(tmp_path / "out") == local
    client.wait_for_workers(2)


def test_results_do_not_depend_on_the_worker(local):
    """The reference itself is not trivial (the comparison can fail)."""
    assert local["predictions.csv"].count("\n") > 20
    rows = local["results.csv"].splitlines()
    assert len(rows) == 4 and np.all([r.count(",") > 5 for r in rows])


def test_cli_scheduler_dry_run_plans_then_estimates(client, tmp_path, capsys):
    """`skmedtl study --scheduler ADDR --dry-run`: needs, then a measured estimate."""
    from skmedtl.cli import main
    from tests.study.conftest import TINY, make_images

    rng = np.random.default_rng(0)
    arrays = {}
    for split, n in (("train", 24), ("val", 8), ("test", 8)):
        labels = np.repeat([0, 1], n // 2)
        arrays[f"{split}_images"] = make_images(rng, labels)
        arrays[f"{split}_labels"] = labels[:, None].astype(np.uint8)
    np.savez(tmp_path / "tiny.npz", **arrays)
    address = client.scheduler.address
    argv = ["study", "--dataset", str(tmp_path / "tiny.npz"), "--out"]
    argv += [str(tmp_path / "out"), *TINY, "--approaches", "hybrid-logreg,full"]
    argv += ["--scheduler", address]

    assert main([*argv, "--seeds", "2", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "cluster: 2 worker(s), 2 thread(s), 0 GPU(s)" in out
    assert "lenet5 / full / seed 1" in out and "GPU (none: any worker)" in out
    assert "0 of the 4 cell(s) left; 4 have no measured sample" in out
    assert not (tmp_path / "out" / "results.jsonl").exists()  # ran nothing

    assert main([*argv, "--seeds", "1"]) == 0  # the measured sample: seed 0
    capsys.readouterr()
    assert main([*argv, "--seeds", "2", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "for 2 of the 2 cell(s) left; frozen-backbone extraction" in out
    assert "(median of finished lenet5 / full)" in out
    assert out.count("[x]") == 2 and "(measured)" in out
    study_json = (tmp_path / "out" / "study.json").read_text()
    assert address not in study_json and "tcp://" not in study_json


class Recording(DaskCellExecutor):
    """Keeps the tasks it was given."""

    def run(self, tasks):
        self.seen = [*getattr(self, "seen", []), *tasks]
        return super().run(tasks)


def test_without_shared_storage_images_travel_decoded(client, tmp_path):
    """A folder data set, storage="none": same outputs as local, no paths sent."""
    from PIL import Image

    from skmedtl.study import TransferStudy
    from tests.study._golden import _images, study_args

    images, labels = _images(np.random.default_rng(0), 48, 2)
    splits = np.repeat(["train", "val", "test"], [24, 12, 12])
    for i, (image, label, split) in enumerate(zip(images, labels, splits, strict=True)):
        folder = tmp_path / "data" / split / f"class{label}"
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(folder / f"{i:02d}.png")
    args = {**study_args("binary"), "seeds": 1}
    TransferStudy(tmp_path / "data", tmp_path / "local", **args).run()
    keyed = sum(s["keyed"] for s in worker_stats(client).values())
    executor = Recording(client, storage="none", verbose=0)
    TransferStudy(tmp_path / "data", tmp_path / "out", executor=executor, **args).run()
    assert _outputs(tmp_path / "out") == _outputs(tmp_path / "local")
    for task in executor.seen:
        ctx = task.args[0]
        assert ctx.cache_path is None
        assert all(isinstance(image, np.ndarray) for image in ctx.data.images)
    # The extraction sent arrays: no worker hashed a file.
    assert sum(s["keyed"] for s in worker_stats(client).values()) == keyed
