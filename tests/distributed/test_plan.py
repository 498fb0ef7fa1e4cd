"""The dry run's wall-time estimate: measured cells, medians, scheduling."""

from __future__ import annotations

import pytest

from skmedtl.distributed._plan import (
    ClusterCapacity,
    PlannedCell,
    estimate_wall_time,
    planned_cells,
)


def _row(backbone, approach, seed, done=False, seconds=None, gpu=False):
    return {
        "cell": f"{backbone} / {approach} / seed {seed}",
        "backbone": backbone,
        "approach": approach,
        "seed": seed,
        "done": done,
        "resources": {"GPU": 1} if gpu else {},
        "wall_time_s": seconds,
    }


def test_times_come_from_the_closest_measured_cells():
    rows = [
        _row("a", "full", 0, True, 10.0, gpu=True),
        _row("a", "full", 1, True, 20.0, gpu=True),
        _row("a", "full", 2, gpu=True),  # same backbone and approach: median 15
        _row("b", "full", 0, gpu=True),  # same approach: 15
        _row("b", "gradual", 0, gpu=True),  # same kind (trained): 15
        _row("b", "hybrid-svm", 0),  # no frozen cell measured: unknown
    ]
    cells = planned_cells(rows)
    assert [c.seconds for c in cells] == [10.0, 20.0, 15.0, 15.0, 15.0, None]
    assert cells[2].basis == "median of finished a / full"
    assert cells[3].basis == "median of finished full"
    assert cells[4].basis == "median of finished trained cells"
    assert [c.done for c in cells] == [True, True, False, False, False, False]


def _cell(group, seconds, gpu=False, done=False):
    resources = {"GPU": 1} if gpu else {}
    return PlannedCell(f"{group} {seconds}", group, resources, done, seconds)


def test_groups_run_one_after_the_other_longest_first():
    cells = [_cell("a", 3), _cell("a", 2), _cell("a", 2), _cell("b", 5)]
    cells += [_cell("a", 100, done=True), _cell("b", None)]
    estimate = estimate_wall_time(cells, ClusterCapacity(2, 2, 0))
    # a: slots [3, 2] then 2 on the second: 4; b: 5 (the unknown is left out)
    assert estimate.seconds == pytest.approx(9.0)
    assert (estimate.n_todo, estimate.n_unknown) == (5, 1)
    one = estimate_wall_time(cells, ClusterCapacity(1, 1, 0))
    assert one.seconds == pytest.approx(7 + 5)


def test_trained_cells_queue_for_the_gpus():
    cells = [_cell("a", 4, gpu=True), _cell("a", 4, gpu=True), _cell("a", 1)]
    assert estimate_wall_time(cells, ClusterCapacity(2, 4, 1)).seconds == 8.0
    assert estimate_wall_time(cells, ClusterCapacity(2, 4, 2)).seconds == 4.0
    # No GPU on the cluster: every cell shares the threads.
    assert estimate_wall_time(cells, ClusterCapacity(2, 2, 0)).seconds == 5.0
