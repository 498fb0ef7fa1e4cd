"""Study cells as Dask tasks: one task per cell, results as they finish.

:class:`DaskCellExecutor` runs the cells of a :class:`skmedtl.study.TransferStudy`
(or any list of cell tasks: objects with ``key``, ``label``, ``fn``, ``args`` and
``resources``) on a Dask cluster and yields each task with its result, or with
the exception it raised, in the order they finish. The study's driver keeps
everything else: it writes the log, the results and the report, exactly as when
the cells run in its own process.

- **Shared arguments travel once.** An argument object that several tasks share
  (the data set, one backbone's embeddings) is sent to the cluster once, as a
  small task of its own that returns it, and reaches the workers from there. The
  scheduler keeps how to make it, so a worker that dies holding the only copy
  costs a re-send, never the study.
- **Resources.** Tasks that ask for a resource (``{"GPU": 1}`` for trained
  cells) get it where some worker offers it; when none does, they run without it
  and a note says so (``resources="require"`` keeps them waiting instead, for
  clusters whose GPU workers start later).
- **Failures.** A task that raises is retried ``retries`` times; a task whose
  worker dies is run again elsewhere by the scheduler (up to Dask's
  ``distributed.scheduler.allowed-failures``, 3 by default). Only then is its
  exception yielded, with a note naming the worker.
- **Nothing is stored.** The executor holds a client (or an address) for the
  run only; no task, key or result carries the scheduler's address.
"""

from __future__ import annotations

import contextlib
import logging
import numbers
import os
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from tqdm.auto import tqdm

from ..utils._validation import Interval, StrOptions, validate_params
from ._client import check_client, connected, import_distributed, open_client

__all__ = ["CellRun", "DaskCellExecutor", "cluster_resources", "run_on_worker"]

logger = logging.getLogger(__name__)

#: How the executor treats resources that tasks ask for (see DaskCellExecutor).
RESOURCE_POLICIES = ("auto", "require", "ignore")
#: What the workers can read of the driver's files (see DaskCellExecutor).
STORAGE = ("auto", "shared", "none")
#: Arguments of these types are small and go with each task as they are.
_INLINE_TYPES = (str, bytes, int, float, bool, type(None))


@dataclass(frozen=True)
class CellRun:
    """What a worker sends back around one task's result.

    Attributes
    ----------
    value : object
        What the task's function returned.
    worker : str
        The worker that ran it (its name, else its address); ``"local"``
        outside a Dask worker.
    seconds : float
        Wall time of the function on the worker.
    """

    value: Any
    worker: str
    seconds: float


def run_on_worker(fn, *args) -> CellRun:
    """Call ``fn(*args)`` on a worker; its result with where and how long it ran.

    An exception is re-raised with a note naming the worker (Dask retries it).
    """
    worker = _worker_name()
    start = time.perf_counter()
    try:
        value = fn(*args)
    except Exception as e:
        if hasattr(e, "add_note"):
            e.add_note(f"(on Dask worker {worker})")
        raise
    return CellRun(value, worker, time.perf_counter() - start)


def _worker_name() -> str:
    try:
        from distributed import get_worker

        worker = get_worker()
    except (ImportError, ValueError):
        return "local"
    name = worker.name
    return str(name) if name is not None and name != worker.address else worker.address


def _identity(value):
    """A shared argument, returned as given (its task keeps how to make it)."""
    return value


def cluster_resources(client) -> dict[str, float] | None:
    """The largest amount of each resource one worker offers; ``None``: no workers.

    Parameters
    ----------
    client : distributed.Client
        A connected client.

    Returns
    -------
    dict or None
        ``{"GPU": 1.0}`` when some worker was started with
        ``--resources GPU=1``; ``{}`` when the workers offer none; ``None``
        when the cluster has no workers yet (an adaptive cluster that starts
        them on demand).
    """
    workers = client.scheduler_info(n_workers=-1)["workers"]
    if not workers:
        return None
    offered: dict[str, float] = {}
    for info in workers.values():
        for name, amount in (info.get("resources") or {}).items():
            offered[name] = max(offered.get(name, 0.0), float(amount))
    return offered


class DaskCellExecutor:
    """Run study cells as tasks on a Dask cluster.

    Pass it to a study (``TransferStudy(..., executor=DaskCellExecutor(client))``)
    or call :meth:`run` with cell tasks. Results are identical to running the
    same tasks in one process: every cell carries its own seed, and where it ran
    changes nothing but its timing.

    Parameters
    ----------
    client : distributed.Client or str
        The cluster: a client, or a scheduler address such as
        ``"tcp://10.0.0.5:8786"`` (connected on the first :meth:`run`, kept
        until :meth:`close` or the end of a ``with`` block). Used at run time
        only: never part of a cell, a result or a saved model.
    retries : int, default=2
        How many times a task that raises is run again before its exception is
        yielded. A task whose worker dies is rerun by the scheduler in any case.
    resources : {"auto", "require", "ignore"}, default="auto"
        What to do with the resources tasks ask for (``{"GPU": 1}``).
        ``"auto"``: ask for a resource where some worker offers it; when the
        workers offer none, run without it and log a note (a cluster with no
        workers yet keeps the request: its workers may bring it).
        ``"require"``: always ask; tasks wait for a worker with the resource.
        ``"ignore"``: never ask.
    storage : {"auto", "shared", "none"}, default="auto"
        What the workers can read of this process's files, for a study:
        ``"shared"``, a shared file system (image files go as paths and the
        workers decode them; the embedding cache is one file, shared under its
        lock); ``"none"``, nothing (images are decoded here and travel as task
        data, with the embeddings; the workers open no cache); ``"auto"``
        finds out by asking every worker to read a file written in the
        study's folder.
    verbose : int, default=0
        0: no output of its own (a study shows its own progress bar, the one
        bar for the cells); 1: a progress bar for the cells (for tasks run
        without a study); 2: also a line per finished cell naming its worker,
        with that worker's count. Those lines are also logged
        (``logging.INFO``, ``skmedtl study -v``) at any verbosity.

    See Also
    --------
    skmedtl.distributed.extract : Sharded extraction on the same cluster.

    Examples
    --------
    >>> from distributed import Client, LocalCluster  # doctest: +SKIP
    >>> from skmedtl.distributed import DaskCellExecutor
    >>> from skmedtl.study import TransferStudy
    >>> with LocalCluster(n_workers=2, threads_per_worker=1) as cluster, \\
    ...         Client(cluster) as client:  # doctest: +SKIP
    ...     study = TransferStudy("breastmnist", "study/",
    ...                           executor=DaskCellExecutor(client))
    ...     results = study.run()
    """

    _parameter_constraints: dict = {
        "retries": [Interval(numbers.Integral, 0)],
        "resources": [StrOptions(RESOURCE_POLICIES)],
        "storage": [StrOptions(STORAGE)],
        "verbose": [Interval(numbers.Integral)],
    }

    def __init__(
        self, client, *, retries=2, resources="auto", storage="auto", verbose=0
    ):
        self.client = client
        self.retries = retries
        self.resources = resources
        self.storage = storage
        self.verbose = verbose

    def __repr__(self) -> str:
        # The address is a run-time setting: shown, never part of a record.
        return (
            f"DaskCellExecutor(client={_describe_client(self.client)}, "
            f"retries={self.retries}, resources={self.resources!r}, "
            f"storage={self.storage!r})"
        )

    def _check(self) -> None:
        check_client(self.client)
        validate_params(
            {k: getattr(self, k) for k in self._parameter_constraints},
            self._parameter_constraints,
        )

    def run(self, tasks: Sequence) -> Iterator[tuple[Any, Any]]:
        """Run ``tasks`` on the cluster; yield ``(task, result or exception)``.

        Each task is yielded once, as it finishes, in any order. Stopping the
        iteration early (``break``, an error in the caller) cancels the tasks
        still pending.

        Parameters
        ----------
        tasks : sequence of CellTask
            Objects with ``key`` (unique), ``label``, ``fn`` (a module-level
            function), ``args`` (a tuple) and ``resources`` (a mapping).

        Yields
        ------
        task : CellTask
        outcome : object or BaseException
            What ``task.fn(*task.args)`` returned, or the exception it raised
            (after the retries).
        """
        self._check()
        tasks = list(tasks)
        _check_tasks(tasks)
        if not tasks:
            return
        distributed = import_distributed()
        with self.connected() as client:
            yield from self._run(distributed, client, tasks)

    def shares_files(self, directory) -> bool:
        """Whether the workers read the files this process writes in
        ``directory`` (``storage``; ``"auto"`` asks the workers)."""
        self._check()
        if self.storage != "auto":
            return self.storage == "shared"
        from ._storage import shared_storage

        with self.connected() as client:
            return shared_storage(client, directory)

    @contextlib.contextmanager
    def connected(self):
        """The running client: the one given, or a connection to the address
        given, opened once and kept until :meth:`close`."""
        check_client(self.client)
        if not isinstance(self.client, str):
            with connected(self.client) as client:  # refuses a closed client
                yield client
            return
        own = getattr(self, "_own", None)
        if own is None or own.status != "running":
            own, owned = open_client(self.client)
            self._own = own if owned else None
        yield own

    def _run(self, distributed, client, tasks: list) -> Iterator[tuple[Any, Any]]:
        token = uuid.uuid4().hex[:8]
        wanted = self._resources_for(client, tasks)
        shared_futures = self._share(client, _shared_arguments(tasks), token)
        live = {}  # Dask key -> (task, future)
        bar = tqdm(
            total=len(tasks),
            desc="study cells (dask)",
            unit="cell",
            disable=self.verbose <= 0,
        )
        per_worker: Counter[str] = Counter()
        try:
            completed = distributed.as_completed(loop=client.loop)
            for task in tasks:
                args = tuple(
                    shared_futures.get(id(a), a) if not _inline(a) else a
                    for a in task.args
                )
                try:
                    future = client.submit(
                        run_on_worker,
                        task.fn,
                        *args,
                        key=f"skmedtl-cell-{task.key}-{token}",
                        resources=wanted(task),
                        retries=self.retries,
                        pure=False,
                    )
                except Exception as e:  # pickling: a lambda, a local function
                    raise TypeError(
                        f"Cell {task.label!r} cannot be sent to the Dask cluster: "
                        f"{type(e).__name__}: {e}. Its function and arguments must "
                        "be picklable (a module-level function, plain data)."
                    ) from e
                live[future.key] = (task, future)
                completed.add(future)
            with bar:
                for future in completed:
                    task, _ = live.pop(future.key)
                    outcome = self._outcome(future)
                    future.release()
                    if isinstance(outcome, CellRun):
                        per_worker[outcome.worker] += 1
                        line = (
                            f"[{outcome.worker}] {task.label}: done in "
                            f"{outcome.seconds:.1f} s "
                            f"({per_worker[outcome.worker]} on this worker)"
                        )
                        outcome = outcome.value
                    else:
                        line = f"{task.label}: failed: {outcome}"
                    logger.info("%s", line)
                    if self.verbose >= 2:
                        tqdm.write(line)
                    bar.update()
                    yield task, outcome
        finally:
            if live:
                client.cancel([f for _, f in live.values()])
            for _, f in live.values():
                f.release()
        if per_worker:
            logger.info(
                "Cells per worker: %s",
                ", ".join(f"{w}: {n}" for w, n in sorted(per_worker.items())),
            )

    def _share(self, client, shared: dict[int, Any], token: str) -> dict:
        """A future per shared argument, kept for the next run on this client.

        A study calls :meth:`run` once per backbone with the same context (the
        data set) each time: it is sent once per study, not once per call. What
        the previous call shared and this one does not (the last backbone's
        embeddings) is released.
        """
        kept = getattr(self, "_kept", {})
        futures, self._kept = {}, {}
        for n, (ident, value) in enumerate(shared.items()):
            old = kept.pop(ident, None)
            if old is not None and old[0] is value and old[1].client is client:
                future = old[1]
            else:
                future = client.submit(
                    _identity, value, key=f"skmedtl-shared-{token}-{n}", pure=False
                )
            futures[ident] = future
            self._kept[ident] = (value, future)
        for _, future in kept.values():
            future.release()
        return futures

    def close(self) -> None:
        """Release what the last run kept on the cluster (shared arguments), and
        close the connection opened for a scheduler address."""
        for _, future in getattr(self, "_kept", {}).values():
            future.release()
        self._kept = {}
        own, self._own = getattr(self, "_own", None), None
        if own is not None:
            own.close()

    def __enter__(self) -> DaskCellExecutor:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @staticmethod
    def _outcome(future):
        try:
            return future.result()
        except Exception as e:  # the task's error (or KilledWorker, cancelled)
            return e

    def _resources_for(self, client, tasks: list):
        """A function: task -> the resources to ask for (``None``: none)."""
        asked = {name for t in tasks for name in (t.resources or {})}
        if self.resources == "ignore" or not asked:
            return lambda task: None
        if self.resources == "require":
            return lambda task: dict(task.resources) or None
        offered = cluster_resources(client)
        if offered is None:
            logger.info(
                "The Dask cluster has no workers yet; cells keep their resource "
                "requests (%s) and wait for workers that offer them.",
                ", ".join(sorted(asked)),
            )
            return lambda task: dict(task.resources) or None
        missing = sorted(asked - set(offered))
        noted = getattr(self, "_noted", set())
        if missing and set(missing) - noted:
            self._noted = noted | set(missing)
            logger.warning(
                "No Dask worker offers %s: the cells that ask for it (those that "
                "train the backbone) run without it, on any worker. Start workers "
                "with e.g. '--resources GPU=1' to place them; resources='require' "
                "waits for such workers instead.",
                " or ".join(missing),
            )

        def wanted(task):
            kept = {k: v for k, v in (task.resources or {}).items() if k in offered}
            return kept or None

        return wanted


def _describe_client(client) -> str:
    if isinstance(client, str):
        return repr(client)
    return type(client).__name__


def _check_tasks(tasks: list) -> None:
    seen = {}
    for i, task in enumerate(tasks):
        for attr in ("key", "label", "fn", "args", "resources"):
            if not hasattr(task, attr):
                raise TypeError(
                    f"tasks[{i}] is a {type(task).__name__}, not a cell task: it has "
                    f"no {attr!r} (give CellTask objects)."
                )
        if not callable(task.fn):
            raise TypeError(f"Cell {task.label!r}: fn is not callable.")
        if task.key in seen:
            raise ValueError(
                f"Cells {seen[task.key]!r} and {task.label!r} have the same key "
                f"{task.key!r}; every cell task needs its own key."
            )
        seen[task.key] = task.label


def _inline(value) -> bool:
    return isinstance(value, _INLINE_TYPES) or isinstance(value, os.PathLike)


def _shared_arguments(tasks: list) -> dict[int, Any]:
    """Argument objects (by identity) that more than one task uses."""
    uses: Counter[int] = Counter()
    values: dict[int, Any] = {}
    for task in tasks:
        for a in {id(a): a for a in task.args if not _inline(a)}.values():
            uses[id(a)] += 1
            values[id(a)] = a
    return {ident: values[ident] for ident, n in uses.items() if n > 1}
