"""Cell tasks for the executor tests: module-level, so Dask workers can import them.

The worker-kill mechanism (used by the tests of a worker that dies mid-cell):
:func:`die_once` wraps a cell's function. On its first attempt, it claims a
marker file by renaming it (an atomic step: of two workers racing, only one
wins), writes a ``killed`` file, and ends its own worker process with
``os._exit(1)``, the way an out-of-memory kill or a lost node ends it: no
exception, no clean-up, the task's result never returns. The scheduler sees the
worker die and runs the task again elsewhere; there the marker is gone, and the
wrapped function runs normally.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol


@dataclass(frozen=True)
class CellTask:
    """The study's cell task, as its executor seam defines it (a test copy)."""

    key: str
    label: str
    fn: Callable[..., Any]
    args: tuple
    resources: Mapping[str, float] = field(default_factory=dict)


class CellExecutor(Protocol):
    def run(
        self, tasks: Sequence[CellTask]
    ) -> Iterator[tuple[CellTask, Any | BaseException]]: ...


def power(x: int, p: int) -> int:
    return x**p


def where(x: int) -> tuple[int, str]:
    """``x`` and the name of the worker that ran it."""
    from distributed import get_worker

    return x, str(get_worker().name)


def fail(message: str):
    raise RuntimeError(message)


def fail_once(marker: str, x: int) -> int:
    """Raise on the first call (while the marker exists), then return ``x``."""
    try:
        os.remove(marker)
    except FileNotFoundError:
        return x
    raise RuntimeError("first attempt fails")


def row_sums(data, i: int) -> float:
    """The sum of row ``i`` of a shared array."""
    return float(data[i].sum())


def die_once(marker: str, fn, *args):
    """Kill this worker process on the first attempt; then ``fn(*args)``."""
    claimed = f"{marker}.{os.getpid()}"
    try:
        os.rename(marker, claimed)
    except FileNotFoundError:
        return fn(*args)
    Path(f"{marker}.killed").write_text(str(os.getpid()))
    os._exit(1)


class Counted:
    """Counts how often it is pickled (in the process that pickles it)."""

    pickled = 0

    def __init__(self, value):
        self.value = value

    def __getstate__(self):
        type(self).pickled += 1
        return {"value": self.value}


def value_of(obj: Counted, x: int) -> int:
    return obj.value + x
