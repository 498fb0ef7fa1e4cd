"""Learning-curve subsamples (skmedtl.model_selection.subsample_indices)."""

from __future__ import annotations

import numpy as np
import pytest

from skmedtl.model_selection import SkippedSize, subsample_indices

Y = np.repeat(["benign", "malignant", "normal"], [90, 40, 70])


def test_nested_within_a_repeat_and_stratified():
    plan = subsample_indices(Y, [20, 50, 100, "all"], 4, random_state=0)
    assert plan.sizes == (20, 50, 100, "all") and plan.n_train == 200
    assert len(plan) == 16 and not plan.skipped
    shares = np.array([90, 40, 70]) / 200
    for repeat in range(4):
        runs = [s for s in plan if s.repeat == repeat]
        assert [s.size for s in runs] == [20, 50, 100, "all"]
        for small, large in zip(runs[:-1], runs[1:], strict=True):
            assert np.isin(small.indices, large.indices).all()
        for s in runs:
            assert s.n_samples == len(s.indices) == (200 if s.is_full else s.size)
            assert len(np.unique(s.indices)) == s.n_samples
            counts = np.array([c for _, c in s.class_counts])
            labels, actual = np.unique(Y[s.indices], return_counts=True)
            assert labels.tolist() == [label for label, _ in s.class_counts]
            assert (counts == actual).all()
            assert np.abs(counts - shares * s.n_samples).max() < 1 + 1e-9
    # the repeats are different draws; the full partition is the same in each
    first = [s.indices for s in plan.for_size(20)]
    assert not all(np.array_equal(first[0], other) for other in first[1:])
    assert all(np.array_equal(s.indices, np.arange(200)) for s in plan.for_size("all"))


def test_seeded_draws_repeat():
    a = subsample_indices(Y, [30, 60], 2, random_state=3)
    b = subsample_indices(Y, [30, 60], 2, random_state=3)
    assert all(np.array_equal(s.indices, t.indices) for s, t in zip(a, b, strict=True))


def test_groups_are_never_split_and_the_prefix_is_shortest():
    rng = np.random.default_rng(1)
    groups = np.sort(rng.integers(0, 60, 200))
    y = np.where(np.isin(groups, np.arange(0, 60, 3)), 1, 0)  # labels per patient
    plan = subsample_indices(y, [15, 40, 120], 3, groups=groups, random_state=2)
    for s in plan:
        chosen = np.zeros(200, bool)
        chosen[s.indices] = True
        for g in np.unique(groups):
            assert chosen[groups == g].all() or not chosen[groups == g].any()
        assert s.n_samples >= s.size
        # the shortest prefix of patients: without its last patient (at most
        # the largest one chosen) it would hold fewer images than asked for
        largest = max(np.bincount(groups)[np.unique(groups[s.indices])])
        assert s.n_samples - largest < s.size
    for repeat in range(3):
        runs = [s for s in plan if s.repeat == repeat]
        for small, large in zip(runs[:-1], runs[1:], strict=True):
            assert np.isin(small.indices, large.indices).all()


def test_sizes_that_cannot_be_trained_on_are_skipped_with_a_reason():
    y = np.repeat([0, 1], [95, 5])
    plan = subsample_indices(y, [10, 60, 100, 500, "all"], 2, min_per_class=3)
    skipped = {(s.size, s.repeat) for s in plan.skipped}
    assert (100, None) in skipped and (500, None) in skipped
    assert (10, 0) in skipped and (10, 1) in skipped  # ~0.5 positives of 10
    assert all(isinstance(s, SkippedSize) and s.reason for s in plan.skipped)
    reason = next(s.reason for s in plan.skipped if s.size == 10)
    assert "min_per_class=3" in reason and "1: " in reason
    assert "'all'" in next(s.reason for s in plan.skipped if s.size == 100)
    assert [s.size for s in plan.for_size(60)] == [60, 60]
    assert len(plan.for_size("all")) == 2


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"sizes": ["half"]}, ValueError, "'all'"),
        ({"sizes": [0]}, ValueError, "at least 1"),
        ({"sizes": [2.5]}, TypeError, "integers"),
        ({"sizes": [10, 10]}, ValueError, "twice"),
        ({"sizes": []}, ValueError, "empty"),
        ({"sizes": [10], "n_repeats": 0}, ValueError, "n_repeats"),
        ({"sizes": [10], "groups": np.arange(3)}, ValueError, "groups"),
    ],
)
def test_bad_input(kwargs, error, match):
    with pytest.raises(error, match=match):
        subsample_indices(Y, **kwargs)


def test_all_may_be_given_in_any_case_and_alone():
    plan = subsample_indices(Y, "ALL", 1, random_state=0)
    assert plan.sizes == ("all",) and plan.subsamples[0].n_samples == 200
