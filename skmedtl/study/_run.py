"""Running the study's cells: tasks, executors, and the driver that logs them.

A cell is sent out as a :class:`CellTask`: a module-level function and its
picklable arguments, so that any :class:`CellExecutor` can run it, in this
process (:class:`LocalExecutor`, the default) or elsewhere (a cluster). The
driver, :func:`run_cells`, writes each result to the log in the order results
arrive; a cell's result depends only on its settings, its seed and the data,
never on which process ran it or in which order.

Failure injection (tests): give :class:`LocalExecutor` a ``call`` that wraps
``task.fn(*task.args)`` and pass the executor to
:class:`~skmedtl.study.TransferStudy` (``executor=``); through the command line,
patch :meth:`LocalExecutor.call_task`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Protocol, runtime_checkable

__all__ = [
    "CellExecutor",
    "CellTask",
    "LocalExecutor",
    "check_executor",
    "failure_record",
    "now",
    "raise_error",
    "run_cells",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CellTask:
    """One cell, ready to run anywhere.

    Attributes
    ----------
    key : str
        The cell's key (the hash of its settings).
    label : str
        Human-readable cell id (``"backbone / approach / seed k"``).
    fn : callable
        A module-level, picklable function; the task runs ``fn(*args)``.
    args : tuple
        Picklable arguments.
    resources : mapping of str to float
        What the task needs of a worker, e.g. ``{"GPU": 1}`` for a cell that
        trains the backbone.
    """

    key: str
    label: str
    fn: Callable[..., Any]
    args: tuple
    resources: Mapping[str, float] = field(default_factory=dict)


@runtime_checkable
class CellExecutor(Protocol):
    """Runs cell tasks; the study's seam for running cells elsewhere."""

    def run(
        self, tasks: Sequence[CellTask]
    ) -> Iterator[tuple[CellTask, Any | BaseException]]:
        """Yield each task with its result, or the exception it raised, as each
        finishes (any order)."""


class LocalExecutor:
    """Runs the tasks one after the other, in this process (the default).

    Parameters
    ----------
    call : callable, optional
        ``call(task)`` runs one task; default ``task.fn(*task.args)``. Tests
        wrap it to inject failures (an exception raised by ``call`` is yielded
        as the task's outcome; ``KeyboardInterrupt`` and other non-``Exception``
        errors propagate and stop the study).
    """

    def __init__(self, call: Callable[[CellTask], Any] | None = None):
        self.call = call

    def call_task(self, task: CellTask) -> Any:
        """Run one task: ``call(task)``, else ``task.fn(*task.args)``.

        The seam for failure injection through the command line, where no
        executor can be passed: tests patch this method of the class.
        """
        if self.call is not None:
            return self.call(task)
        return task.fn(*task.args)

    def run(
        self, tasks: Sequence[CellTask]
    ) -> Iterator[tuple[CellTask, Any | BaseException]]:
        for task in tasks:
            try:
                result = self.call_task(task)
            except Exception as e:  # noqa: BLE001 - yielded to the driver
                yield task, e
            else:
                yield task, result


def check_executor(executor) -> CellExecutor:
    """``executor``, or a :class:`LocalExecutor` for ``None``."""
    if executor is None:
        return LocalExecutor()
    if not callable(getattr(executor, "run", None)):
        raise TypeError(
            "executor must have a run(tasks) method yielding (task, result or "
            f"exception) pairs (see skmedtl.study.CellExecutor); got {executor!r}."
        )
    return executor


def failure_record(task: CellTask, error: BaseException, run_id: str) -> dict:
    """The log's record of a cell that failed."""
    return {
        "type": "failure",
        "key": task.key,
        "run_id": run_id,
        "cell": task.label,
        "error": f"{type(error).__name__}: {error}",
        "time": now(),
    }


def now() -> str:
    """UTC time stamp of the log's records."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def run_cells(
    batches: Iterable[Sequence[CellTask]],
    executor: CellExecutor,
    *,
    on_error: str,
    on_result: Callable[[CellTask, Any], None],
    on_failure: Callable[[CellTask, BaseException], None],
) -> None:
    """Run every batch of tasks through ``executor``, in the order results come.

    ``batches`` is consumed lazily: a batch's tasks (and the embeddings they
    carry) are made only when the previous batch has finished, so one
    backbone's embeddings are in memory at a time. ``on_result`` records a
    finished cell; a failed one is raised again (``on_error="raise"``) or
    passed to ``on_failure`` (``"skip"``).
    """
    for tasks in batches:
        for task, outcome in executor.run(tasks):
            if isinstance(outcome, BaseException):
                if on_error == "raise":
                    raise outcome
                logger.error("Cell %s failed: %s", task.label, outcome)
                on_failure(task, outcome)
            else:
                on_result(task, outcome)


def raise_error(error: BaseException) -> Any:
    """A task's function when its inputs failed (e.g. the embeddings)."""
    raise error
