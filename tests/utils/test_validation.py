"""The one parameter check: constraints, messages, seeds."""

from __future__ import annotations

import numbers

import numpy as np
import pytest

from skmedtl.utils._validation import (
    Check,
    Interval,
    InvalidParameterError,
    Options,
    StrOptions,
    check_params,
    check_seed,
    validate_params,
)


@pytest.mark.parametrize(
    "interval, good, bad",
    [
        (Interval(numbers.Integral, 1), [1, 7, np.int64(3)], [0, -1, 1.0, True, "1"]),
        (Interval(numbers.Integral, -3, 2), [-3, 0, 2], [3, -4, np.bool_(True)]),
        (
            Interval(numbers.Real, 0, 1, closed="neither"),
            [0.5, 1e-9, np.float32(0.9)],
            [0, 1, 1.5, float("nan"), False],
        ),
        (Interval(numbers.Real, 0, 1, closed="right"), [1, 0.1], [0, 1.01]),
        (Interval(numbers.Real, 0), [0, 3.5, 10**9], [-0.1, float("inf")]),
    ],
)
def test_intervals_accept_numbers_in_range_and_never_booleans(interval, good, bad):
    assert all(interval.is_satisfied_by(v) for v in good)
    assert not any(interval.is_satisfied_by(v) for v in bad)


@pytest.mark.parametrize(
    "interval, text",
    [
        (Interval(numbers.Integral, 1), "an integer >= 1"),
        (Interval(numbers.Integral), "an integer"),
        (Interval(numbers.Real, 0, None, closed="neither"), "a number > 0"),
        (Interval(numbers.Real, 0, 1, closed="right"), "a number in (0, 1]"),
        (Interval(numbers.Integral, None, -1), "an integer <= -1"),
    ],
)
def test_intervals_describe_themselves(interval, text):
    assert str(interval) == text


def test_string_options_suggest_the_closest_name():
    with pytest.raises(InvalidParameterError) as e:
        validate_params({"pooling": "gme"}, {"pooling": [StrOptions(("avg", "gem"))]})
    message = str(e.value)
    assert message.startswith("Unknown pooling 'gme'.")
    assert "Did you mean 'gem'?" in message and "('avg', 'gem')" in message
    # an InvalidParameterError is both kinds of error users catch
    assert isinstance(e.value, ValueError) and isinstance(e.value, TypeError)


def test_mixed_constraints_list_everything_allowed():
    allowed = {"batch_size": [Interval(numbers.Integral, 1), StrOptions(("auto",))]}
    with pytest.raises(
        ValueError,
        match=r"batch_size must be an integer >= 1 or "
        r"'auto'; got 'aut'\. Did you mean 'auto'\?",
    ):
        validate_params({"batch_size": "aut"}, allowed)
    with pytest.raises(ValueError, match="got True"):
        validate_params({"batch_size": True}, allowed)
    validate_params({"batch_size": "auto"}, allowed)
    validate_params({"batch_size": 8}, allowed)


def test_none_booleans_callables_paths_and_types():
    constraints = {
        "a": [None],
        "b": ["boolean"],
        "c": ["callable"],
        "d": ["path"],
        "e": [dict],
        "f": [Options((0,))],
    }
    validate_params(
        {"a": None, "b": np.True_, "c": len, "d": "x.h5", "e": {}, "f": 0.0},
        constraints,
    )
    for name, value in [
        ("a", 0),
        ("b", 1),
        ("c", "len"),
        ("d", 3),
        ("e", []),
        ("f", False),
    ]:
        with pytest.raises(InvalidParameterError, match=f"^{name} must be"):
            validate_params({name: value}, constraints)


def test_check_constraints_raise_their_own_message():
    def positive_pair(v):
        if not (isinstance(v, tuple) and len(v) == 2):
            raise TypeError(f"size must be a pair; got {v!r}.")

    constraints = {"size": [None, Check(positive_pair, "a pair")]}
    validate_params({"size": (1, 2)}, constraints)
    validate_params({"size": None}, constraints)
    with pytest.raises(InvalidParameterError, match=r"size must be a pair; got 3\."):
        validate_params({"size": 3}, constraints)


def test_check_params_reads_the_class_table():
    class Estimator:
        _parameter_constraints = {"k": [Interval(numbers.Integral, 1)]}

        def __init__(self, k=1):
            self.k = k

    check_params(Estimator(3))
    with pytest.raises(ValueError, match=r"k must be an integer >= 1; got 0\."):
        check_params(Estimator(0))


def test_one_seed_helper():
    assert check_seed(None) is None
    assert check_seed(7) == 7 and isinstance(check_seed(np.int64(7)), int)
    a = check_seed(np.random.RandomState(0))
    assert a == check_seed(np.random.RandomState(0))  # drawn reproducibly
    assert isinstance(check_seed(None, draw_for_none=True), int)
    for bad in (True, -1, 2**32, 1.5, "0"):
        with pytest.raises(ValueError, match="random_state must be"):
            check_seed(bad)
