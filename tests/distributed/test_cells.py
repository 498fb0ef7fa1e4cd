"""DaskCellExecutor: cells as tasks, results as they finish, failures survived."""

from __future__ import annotations

import logging
import time

import numpy as np
import pytest

pytest.importorskip("distributed")

from skmedtl.distributed import DaskCellExecutor  # noqa: E402
from skmedtl.distributed._cells import cluster_resources  # noqa: E402
from skmedtl.utils._validation import InvalidParameterError  # noqa: E402

from . import cells  # noqa: E402
from .cells import CellTask  # noqa: E402


def _tasks(n: int, fn=cells.power, resources=None):
    return [
        CellTask(f"k{i}", f"cell {i}", fn, (i, 2), dict(resources or {}))
        for i in range(n)
    ]


def _held(client, timeout: float = 5.0) -> list:
    """Keys of skmedtl's futures the client still holds (releases are async)."""
    deadline = time.monotonic() + timeout
    while True:
        held = [k for k in client.futures if "skmedtl-" in str(k)]
        if not held or time.monotonic() > deadline:
            return held
        time.sleep(0.05)


@pytest.fixture(scope="module")
def mixed():
    """In-process cluster: worker "cpu" without resources, worker "gpu" with GPU=1."""
    from distributed import Client, Scheduler, SpecCluster, Worker

    quiet = {"nthreads": 1, "dashboard": False}
    workers = {
        "cpu": {"cls": Worker, "options": quiet},
        "gpu": {"cls": Worker, "options": {**quiet, "resources": {"GPU": 1}}},
    }
    scheduler = {
        "cls": Scheduler,
        "options": {"dashboard": False, "dashboard_address": ":0"},
    }
    with SpecCluster(workers=workers, scheduler=scheduler) as cluster:
        with Client(cluster) as client:
            client.wait_for_workers(2)
            yield client


def test_results_equal_local_calls(client):
    tasks = _tasks(6)
    got = dict(
        (task.key, value)
        for task, value in DaskCellExecutor(client, verbose=0).run(tasks)
    )
    assert got == {t.key: t.fn(*t.args) for t in tasks}  # each task once


def test_scheduler_address_works_like_a_client(client):
    executor = DaskCellExecutor(client.scheduler.address, verbose=0)
    got = sorted(value for _, value in executor.run(_tasks(3)))
    assert got == [0, 1, 4]
    assert "tcp://" not in repr(DaskCellExecutor(client))


def test_an_error_is_yielded_with_the_worker_named(client):
    tasks = [
        CellTask("ok", "fine", cells.power, (3, 2)),
        CellTask("bad", "broken", cells.fail, ("no such image",)),
    ]
    executor = DaskCellExecutor(client, retries=0, verbose=0)
    got = {task.key: value for task, value in executor.run(tasks)}
    assert got["ok"] == 9
    error = got["bad"]
    assert isinstance(error, RuntimeError) and str(error) == "no such image"
    assert any("on Dask worker" in note for note in error.__notes__)


def test_a_task_that_raises_is_retried(client, tmp_path):
    marker = tmp_path / "fail"
    marker.touch()
    tasks = [CellTask("k", "flaky", cells.fail_once, (str(marker), 7))]
    [(task, value)] = DaskCellExecutor(client, retries=1, verbose=0).run(tasks)
    assert task is tasks[0] and value == 7
    assert not marker.exists()  # the first attempt did fail
    marker.touch()
    [(_, error)] = DaskCellExecutor(client, retries=0, verbose=0).run(tasks)
    assert isinstance(error, RuntimeError)


def test_a_worker_killed_mid_task_costs_only_a_rerun(client, tmp_path):
    """The task kills its own worker on the first attempt (see cells.die_once)."""
    marker = tmp_path / "die"
    marker.touch()
    tasks = _tasks(4)
    victim = tasks[2]
    tasks[2] = CellTask(
        victim.key, victim.label, cells.die_once, (str(marker), victim.fn, *victim.args)
    )
    got = {t.key: v for t, v in DaskCellExecutor(client, verbose=0).run(tasks)}
    assert (tmp_path / "die.killed").exists()  # a worker process did die
    assert got == {f"k{i}": i**2 for i in range(4)}
    client.wait_for_workers(2)  # the nanny restarted it


@pytest.mark.slow  # test_results_equal_local_calls keeps the quick cluster case
def test_shared_arguments_travel_once(client):
    """Pickled a fixed number of times per run, however many tasks share it."""
    pickled = []
    for n in (4, 8):
        cells.Counted.pickled = 0
        shared = cells.Counted(10)
        tasks = [
            CellTask(f"k{i}", f"c{i}", cells.value_of, (shared, i)) for i in range(n)
        ]
        got = sorted(v for _, v in DaskCellExecutor(client, verbose=0).run(tasks))
        assert got == [10 + i for i in range(n)]
        pickled.append(cells.Counted.pickled)
    assert pickled[0] == pickled[1] < 4


def test_a_shared_argument_is_sent_once_across_runs(client):
    """A study runs one batch per backbone, with the same context each time."""
    cells.Counted.pickled = 0
    shared = cells.Counted(1)
    executor = DaskCellExecutor(client, verbose=0)
    tasks = [CellTask(f"k{i}", f"c{i}", cells.value_of, (shared, i)) for i in range(2)]
    list(executor.run(tasks))
    once = cells.Counted.pickled
    got = sorted(v for _, v in executor.run(tasks))
    assert got == [1, 2] and cells.Counted.pickled == once
    other = cells.Counted(5)  # another object: sent, and the first released
    tasks = [CellTask(f"k{i}", f"c{i}", cells.value_of, (other, i)) for i in range(2)]
    assert sorted(v for _, v in executor.run(tasks)) == [5, 6]
    assert len(executor._kept) == 1
    executor.close()
    assert not _held(client)


def test_a_shared_array_reaches_every_task(client):
    data = np.arange(12.0).reshape(4, 3)
    tasks = [CellTask(f"r{i}", f"row {i}", cells.row_sums, (data, i)) for i in range(4)]
    got = {t.args[1]: v for t, v in DaskCellExecutor(client, verbose=0).run(tasks)}
    assert got == {i: float(data[i].sum()) for i in range(4)}


def test_stopping_early_cancels_the_rest(client):
    executor = DaskCellExecutor(client, verbose=0)
    run = executor.run(_tasks(5))
    next(run)
    run.close()
    # Nothing of the run stays referenced on the client (shared data included).
    assert not _held(client)


def test_gpu_cells_go_to_the_gpu_worker(mixed):
    assert cluster_resources(mixed) == {"GPU": 1.0}
    tasks = _tasks(4, fn=cells.where, resources={"GPU": 1})
    tasks = [
        CellTask(t.key, t.label, cells.where, (i,), t.resources)
        for i, t in enumerate(tasks)
    ]
    tasks += [CellTask("cpu", "untrained", cells.where, (9,))]
    got = [v for _, v in DaskCellExecutor(mixed, verbose=0).run(tasks)]
    assert {w for x, w in got if x != 9} == {"gpu"}
    ignored = DaskCellExecutor(mixed, resources="ignore", verbose=0).run(tasks)
    assert len(list(ignored)) == 5


def test_without_gpu_workers_trained_cells_run_with_a_note(client, caplog):
    assert cluster_resources(client) == {}
    tasks = _tasks(3, resources={"GPU": 1})
    with caplog.at_level(logging.WARNING, logger="skmedtl.distributed._cells"):
        got = sorted(v for _, v in DaskCellExecutor(client, verbose=0).run(tasks))
    assert got == [0, 1, 4]
    assert "No Dask worker offers GPU: the cells that ask for it" in caplog.text
    caplog.clear()
    executor = DaskCellExecutor(client, verbose=0)
    for _ in range(2):  # said once per executor, not once per batch
        with caplog.at_level(logging.WARNING, logger="skmedtl.distributed._cells"):
            list(executor.run(tasks))
    assert caplog.text.count("No Dask worker offers GPU") == 1


def test_per_worker_lines_at_verbose_2(client, capsys):
    list(DaskCellExecutor(client, verbose=2).run(_tasks(2)))
    err = capsys.readouterr()
    text = err.out + err.err
    assert "cell 0: done in" in text and "(1 on this worker)" in text
    assert "study cells (dask)" in err.err  # the one bar


@pytest.mark.parametrize(
    "params, match",
    [
        ({"retries": -1}, "retries"),
        ({"resources": "gpu"}, "resources"),
        ({"verbose": "loud"}, "verbose"),
    ],
)
def test_bad_parameters_are_named(client, params, match):
    with pytest.raises(InvalidParameterError, match=match):
        list(DaskCellExecutor(client, **params).run(_tasks(1)))


def test_bad_tasks(client):
    executor = DaskCellExecutor(client, verbose=0)
    with pytest.raises(TypeError, match=r"tasks\[0\] is a tuple, not a cell task"):
        list(executor.run([(cells.power, 1, 2)]))
    twice = [CellTask("k", "a", cells.power, (1, 2)), CellTask("k", "b", abs, (1,))]
    with pytest.raises(ValueError, match="'a' and 'b' have the same key 'k'"):
        list(executor.run(twice))
    with pytest.raises(TypeError, match="client must be a distributed.Client"):
        list(DaskCellExecutor(42).run(_tasks(1)))


def test_unpicklable_cell_names_the_cell(client):
    import threading

    task = CellTask("k", "locked cell", cells.power, (threading.Lock(), 2))
    with pytest.raises(TypeError, match="Cell 'locked cell' cannot be sent"):
        list(DaskCellExecutor(client, verbose=0).run([task]))


def test_no_tasks_no_cluster_work(client):
    assert list(DaskCellExecutor(client, verbose=0).run([])) == []


def test_the_workers_of_a_local_cluster_share_its_files(client, tmp_path):
    assert DaskCellExecutor(client).shares_files(tmp_path)
    assert list(tmp_path.iterdir()) == []  # the probe is gone
    assert not DaskCellExecutor(client, storage="none").shares_files(tmp_path)
    assert DaskCellExecutor(client, storage="shared").shares_files(tmp_path)
