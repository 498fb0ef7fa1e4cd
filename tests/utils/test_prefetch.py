"""``prefetched``: results in order, one step ahead, never further."""

from __future__ import annotations

import threading

import pytest

from skmedtl.utils._prefetch import prefetched


def test_results_come_in_order_and_each_item_is_computed_once():
    calls = []

    def square(x):
        calls.append(x)
        return x * x

    assert list(prefetched(square, range(7))) == [x * x for x in range(7)]
    assert sorted(calls) == list(range(7))
    assert list(prefetched(square, [])) == []


def test_the_next_item_is_computed_while_the_caller_works_but_no_further():
    started: list[int] = []
    ready = {i: threading.Event() for i in range(5)}

    def read(i):
        started.append(i)
        ready[i].set()
        return i

    for i in prefetched(read, range(5)):
        if i + 1 < 5:  # computed on the thread while the caller holds item i
            assert ready[i + 1].wait(5)
        assert max(started) <= i + 1  # memory bounded: never two ahead


def test_computing_overlaps_the_callers_work():
    # Item k + 1 waits for the caller to reach item k: without a background
    # thread this would deadlock (the timeout turns that into a failure).
    reached = {i: threading.Event() for i in range(4)}

    def read(i):
        if i > 0:
            assert reached[i - 1].wait(5), "not computed while the caller worked"
        return i

    for i in prefetched(read, range(4)):
        reached[i].set()


def test_an_error_is_raised_where_its_result_would_have_come():
    def read(i):
        if i == 2:
            raise ValueError("item 2 is broken")
        return i

    got = []
    with pytest.raises(ValueError, match="item 2 is broken"):
        for i in prefetched(read, range(5)):
            got.append(i)
    assert got == [0, 1]


def test_a_caller_that_stops_early_leaves_the_rest_uncomputed():
    calls = []

    def read(i):
        calls.append(i)
        return i

    for i in prefetched(read, range(100)):
        if i == 3:
            break
    assert max(calls) <= 4
