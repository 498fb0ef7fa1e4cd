"""A study's plan on a Dask cluster: each cell's needs, and the wall time to expect.

``skmedtl study --dry-run --scheduler ADDR`` prints, for every cell, what it asks
of a worker (a GPU for the cells that train the backbone) and how long it should
take, then an estimate of the wall time of the cells left to run on the cluster
as it is now (its workers, their threads and GPUs).

The estimate comes from a measured sample: the cells of the same study already
finished (a first run, or a small one such as ``--seeds 1`` in the same
``--out``). A cell left to run is given the median time of the finished cells of
its backbone and approach, else of its approach, else of its kind (trained or
frozen); cells with none of these are counted as unknown and left out of the
total, which says so. The sample is assumed to have run on the same kind of
worker as the cluster's (a time measured on a CPU overstates a GPU worker's).
The cells are then scheduled as the study runs them: backbone after backbone,
longest cell first, on the earliest free worker; trained cells on GPU workers
when there are any.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

__all__ = [
    "ClusterCapacity",
    "PlannedCell",
    "WallTimeEstimate",
    "cluster_capacity",
    "describe_cluster_plan",
    "estimate_wall_time",
    "planned_cells",
]


@dataclass(frozen=True)
class PlannedCell:
    """One cell of a plan.

    Attributes
    ----------
    label : str
        ``"backbone / approach / seed k"``.
    group : str
        Cells of one group run together; groups run one after the other (a
        study's backbones).
    resources : mapping of str to float
        What the cell asks of a worker (``{"GPU": 1}``).
    done : bool
        Finished before: not run again.
    seconds : float or None
        Its measured time (finished cells) or the estimate; ``None``: unknown.
    basis : str
        Where ``seconds`` comes from.
    """

    label: str
    group: str
    resources: Mapping[str, float] = field(default_factory=dict)
    done: bool = False
    seconds: float | None = None
    basis: str = ""


@dataclass(frozen=True)
class ClusterCapacity:
    """What a cluster offers now: worker threads, and GPUs (worker resources)."""

    n_workers: int
    n_threads: int
    n_gpus: int

    @property
    def describe(self) -> str:
        return (
            f"{self.n_workers} worker(s), {self.n_threads} thread(s), "
            f"{self.n_gpus} GPU(s)"
        )


@dataclass(frozen=True)
class WallTimeEstimate:
    """The estimated wall time of the cells left to run.

    Attributes
    ----------
    seconds : float
        Of the cells with a time (the others are left out).
    n_todo : int
        Cells left to run.
    n_unknown : int
        Of those, cells with no time (not in ``seconds``).
    """

    seconds: float
    n_todo: int
    n_unknown: int


def cluster_capacity(client) -> ClusterCapacity:
    """Workers, threads and GPUs of the cluster behind ``client``, now."""
    workers = client.scheduler_info(n_workers=-1)["workers"]
    return ClusterCapacity(
        n_workers=len(workers),
        n_threads=sum(int(w.get("nthreads", 1)) for w in workers.values()),
        n_gpus=sum(
            int((w.get("resources") or {}).get("GPU", 0)) for w in workers.values()
        ),
    )


def planned_cells(rows: Sequence[Mapping]) -> list[PlannedCell]:
    """Plan rows of :meth:`skmedtl.study.TransferStudy.plan`, with times.

    Finished cells keep their measured ``wall_time_s``; the others get the
    median of the finished cells of their backbone and approach, else of their
    approach, else of their kind (trained: asks for a GPU; frozen: does not).
    """
    done = [r for r in rows if r["done"] and r.get("wall_time_s") is not None]

    def median(match) -> float | None:
        times = [float(r["wall_time_s"]) for r in done if match(r)]
        return statistics.median(times) if times else None

    def trained(row) -> bool:
        return bool(row.get("resources"))

    cells = []
    for r in rows:
        if r["done"]:
            seconds, basis = r.get("wall_time_s"), "measured"
        else:
            seconds, basis = None, "no finished cell like it"
            for basis_name, match in (
                (
                    f"median of finished {r['backbone']} / {r['approach']}",
                    lambda d, r=r: (
                        (d["backbone"], d["approach"]) == (r["backbone"], r["approach"])
                    ),
                ),
                (
                    f"median of finished {r['approach']}",
                    lambda d, r=r: d["approach"] == r["approach"],
                ),
                (
                    f"median of finished {'trained' if trained(r) else 'frozen'} cells",
                    lambda d, r=r: trained(d) == trained(r),
                ),
            ):
                value = median(match)
                if value is not None:
                    seconds, basis = value, basis_name
                    break
        cells.append(
            PlannedCell(
                label=r["cell"],
                group=r["backbone"],
                resources=dict(r.get("resources") or {}),
                done=bool(r["done"]),
                seconds=None if seconds is None else float(seconds),
                basis=basis,
            )
        )
    return cells


def estimate_wall_time(
    cells: Sequence[PlannedCell], capacity: ClusterCapacity
) -> WallTimeEstimate:
    """Wall time of the cells not done, scheduled on ``capacity``.

    Groups run one after the other. Within a group, the longest cell first goes
    to the earliest free slot: trained cells (asking for a GPU) to the GPUs when
    the cluster has any, every other cell to the worker threads.
    """
    todo = [c for c in cells if not c.done]
    total = 0.0
    groups: dict[str, list[PlannedCell]] = {}
    for c in todo:
        groups.setdefault(c.group, []).append(c)
    for group in groups.values():
        pools: dict[str, list[float]] = {}
        for c in sorted(group, key=lambda c: -(c.seconds or 0.0)):
            if c.seconds is None:
                continue
            gpu = "GPU" in c.resources and capacity.n_gpus > 0
            size = capacity.n_gpus if gpu else max(1, capacity.n_threads)
            pool = pools.setdefault("gpu" if gpu else "threads", [0.0] * size)
            i = min(range(len(pool)), key=pool.__getitem__)
            pool[i] += c.seconds
        total += max((max(p) for p in pools.values()), default=0.0)
    unknown = sum(c.seconds is None for c in todo)
    return WallTimeEstimate(seconds=total, n_todo=len(todo), n_unknown=unknown)


def describe_cluster_plan(rows: Sequence[Mapping], executor) -> str:
    """The dry run's text: each cell's needs and time, and the wall time to expect.

    Parameters
    ----------
    rows : sequence of dict
        :meth:`skmedtl.study.TransferStudy.plan`.
    executor : DaskCellExecutor
        The cluster to plan for (connected to read its workers).
    """
    with executor.connected() as client:
        capacity = cluster_capacity(client)
    cells = planned_cells(rows)
    estimate = estimate_wall_time(cells, capacity)
    lines = [f"cluster: {capacity.describe}"]
    width = max((len(c.label) for c in cells), default=0)
    for c in cells:
        needs = "GPU" if "GPU" in c.resources else "any worker"
        if needs == "GPU" and capacity.n_gpus == 0:
            needs = "GPU (none: any worker)"
        time = "?" if c.seconds is None else _duration(c.seconds)
        lines.append(
            f"  [{'x' if c.done else ' '}] {c.label:<{width}}  {needs:<22} "
            f"{time:>8}  ({c.basis})"
        )
    known = estimate.n_todo - estimate.n_unknown
    text = (
        f"estimate: {_duration(estimate.seconds)} wall time for {known} of the "
        f"{estimate.n_todo} cell(s) left"
    )
    if estimate.n_unknown:
        text += (
            f"; {estimate.n_unknown} have no measured sample (run a few first, "
            "e.g. --seeds 1 with the same --out, then --dry-run again)"
        )
    lines.append(text + "; frozen-backbone extraction not included.")
    return "\n".join(lines)


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
