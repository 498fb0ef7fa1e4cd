"""One parameter check for every estimator and function of skmedtl.

Each estimator declares what its parameters accept in a class attribute
``_parameter_constraints`` (as scikit-learn does), and calls
:func:`check_params` at the start of ``fit`` (functions call
:func:`validate_params` with their own table). A constraint list is satisfied
when any one of its entries is:

- ``None``: the value ``None``;
- :class:`Interval`: an integer or real number in a range (booleans are never
  numbers here: ``True`` is an ``int`` to Python, never to a user);
- :class:`StrOptions`: one of some strings (a misspelling gets "Did you mean");
- :class:`Options`: one of some other values;
- ``"boolean"``, ``"callable"``, ``"path"`` (str or path-like),
  ``"random_state"`` (see :func:`check_seed`), a type (``isinstance``);
- :class:`Check`: a function that raises its own, more specific error (device
  names, intensity policies, input sizes).

The error, :class:`InvalidParameterError` (both a ``ValueError`` and a
``TypeError``), names the parameter, the value and what is allowed.
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Callable, Iterable, Mapping

import numpy as np

from ._naming import did_you_mean

__all__ = [
    "Check",
    "Interval",
    "InvalidParameterError",
    "Options",
    "StrOptions",
    "check_int",
    "check_params",
    "check_seed",
    "validate_params",
]

_MAX_SEED = 2**32 - 1


class InvalidParameterError(ValueError, TypeError):
    """A parameter value it does not accept (a ``ValueError`` and a ``TypeError``)."""


class Interval:
    """Integers (``type=numbers.Integral``) or real numbers in a range.

    Parameters
    ----------
    type : numbers.Integral or numbers.Real
    left, right : number or None
        The bounds; ``None`` is unbounded.
    closed : {"both", "left", "right", "neither"}, default="both"
        Which bounds belong to the interval.
    """

    def __init__(self, type, left=None, right=None, *, closed: str = "both"):
        self.type = type
        self.left = left
        self.right = right
        self.closed = closed

    def is_satisfied_by(self, value) -> bool:
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, self.type):
            return False
        if self.type is numbers.Real and not np.isfinite(value):
            return False
        left_in = self.closed in ("both", "left")
        right_in = self.closed in ("both", "right")
        if self.left is not None and (
            value < self.left or (value == self.left and not left_in)
        ):
            return False
        return self.right is None or not (
            value > self.right or (value == self.right and not right_in)
        )

    def __str__(self) -> str:
        integer = self.type is numbers.Integral
        what = "an integer" if integer else "a number"
        left_in = self.closed in ("both", "left")
        right_in = self.closed in ("both", "right")
        if self.left is None and self.right is None:
            return what
        if self.right is None:
            return f"{what} {'>=' if left_in else '>'} {self.left}"
        if self.left is None:
            return f"{what} {'<=' if right_in else '<'} {self.right}"
        return (
            f"{what} in {'[' if left_in else '('}{self.left}, "
            f"{self.right}{']' if right_in else ')'}"
        )


class Options:
    """One of a few values (compared with ``==``, booleans never equal numbers)."""

    def __init__(self, options: Iterable):
        self.options = tuple(options)

    def is_satisfied_by(self, value) -> bool:
        try:
            return any(
                bool(value == o) and isinstance(value, bool) == isinstance(o, bool)
                for o in self.options
            )
        except (TypeError, ValueError):  # arrays and other odd values
            return False

    def __str__(self) -> str:
        if len(self.options) == 1:
            return repr(self.options[0])
        return f"one of {self.options}"


class StrOptions(Options):
    """One of some strings; a close misspelling gets "Did you mean"."""

    def is_satisfied_by(self, value) -> bool:
        return isinstance(value, str) and value in self.options


class Check:
    """A parameter checked by a function that raises its own error.

    Parameters
    ----------
    function : callable
        Called with the value; raises ``ValueError`` / ``TypeError`` (with a
        specific message) when the value is not accepted.
    description : str
        What the function accepts, for the generic message.
    """

    def __init__(self, function: Callable, description: str):
        self.function = function
        self.description = description

    def is_satisfied_by(self, value) -> bool:
        self.function(value)
        return True

    def __str__(self) -> str:
        return self.description


def _is_path(value) -> bool:
    return isinstance(value, (str, os.PathLike))


_NAMED = {
    "boolean": (lambda v: isinstance(v, (bool, np.bool_)), "a boolean"),
    "callable": (callable, "a callable"),
    "path": (_is_path, "a file path"),
    "random_state": (
        lambda v: _seed_like(v),
        f"None, an integer in [0, {_MAX_SEED}] or a numpy RandomState",
    ),
}


def _seed_like(value) -> bool:
    return (
        value is None
        or isinstance(value, np.random.RandomState)
        or Interval(numbers.Integral, 0, _MAX_SEED).is_satisfied_by(value)
    )


def _satisfied(constraint, value) -> bool:
    if constraint is None:
        return value is None
    if isinstance(constraint, str):
        return _NAMED[constraint][0](value)
    if isinstance(constraint, type):
        return isinstance(value, constraint)
    if isinstance(constraint, Check):
        return False  # run last, for its own message
    return constraint.is_satisfied_by(value)


def _describe(constraint) -> str:
    if constraint is None:
        return "None"
    if isinstance(constraint, str):
        return _NAMED[constraint][1]
    if isinstance(constraint, type):
        return f"an instance of {constraint.__name__}"
    return str(constraint)


def validate_params(
    params: Mapping, constraints: Mapping, *, caller: str | None = None
) -> None:
    """Check each of ``params`` against its list in ``constraints``.

    Parameters
    ----------
    params : mapping
        ``{name: value}``; names missing from ``constraints`` are not checked.
    constraints : mapping
        ``{name: [constraint, ...]}``; the value must satisfy one of them.
    caller : str, optional
        Not used in messages (they name the parameter); kept for logging.

    Raises
    ------
    InvalidParameterError
        Naming the parameter, the value and what is allowed.
    """
    for name, allowed in constraints.items():
        if name not in params:
            continue
        value = params[name]
        if any(_satisfied(c, value) for c in allowed):
            continue
        checks = [c for c in allowed if isinstance(c, Check)]
        misspelt = isinstance(value, str) and any(
            isinstance(c, StrOptions) for c in allowed
        )
        if not checks or misspelt:
            raise InvalidParameterError(_message(name, value, allowed))
        errors = []
        for check in checks:
            try:
                check.function(value)
                break
            except (ValueError, TypeError) as e:
                errors.append(e)
        else:
            if isinstance(errors[0], InvalidParameterError):
                raise errors[0]
            raise InvalidParameterError(str(errors[0])) from errors[0]


def _message(name: str, value, allowed) -> str:
    options = [o for c in allowed if isinstance(c, StrOptions) for o in c.options]
    suggestion = did_you_mean(value, options) if isinstance(value, str) else ""
    if options and all(isinstance(c, StrOptions) or c is None for c in allowed):
        none = ", or None" if None in allowed else ""
        return (
            f"Unknown {name} {value!r}.{suggestion} Choose from {tuple(options)}{none}."
        )
    descriptions = [_describe(c) for c in allowed]
    listed = (
        " or ".join(descriptions)
        if len(descriptions) < 3
        else ", ".join(descriptions[:-1]) + " or " + descriptions[-1]
    )
    return f"{name} must be {listed}; got {value!r}.{suggestion}"


def check_params(estimator) -> None:
    """Validate an estimator's parameters against its ``_parameter_constraints``."""
    constraints = type(estimator)._parameter_constraints
    validate_params(
        {name: getattr(estimator, name) for name in constraints},
        constraints,
        caller=type(estimator).__name__,
    )


def check_int(
    name: str, value, minimum: int | None = None, *, allow_none: bool = False
) -> None:
    """Raise unless ``value`` is an integer ``>= minimum`` (or ``None`` if allowed).

    A shortcut for a one-parameter :func:`validate_params` with an
    :class:`Interval`.
    """
    allowed = [Interval(numbers.Integral, minimum, None)]
    if allow_none:
        allowed.append(None)
    validate_params({name: value}, {name: allowed})


def check_seed(random_state, *, draw_for_none: bool = False) -> int | None:
    """A ``random_state`` parameter as a seed for torch: the one seed helper.

    An integer is the seed; a ``RandomState`` draws one; ``None`` stays ``None``
    (fresh entropy), or with ``draw_for_none=True`` a seed is drawn from numpy's
    global generator (for code that must seed torch with something). Booleans
    and negative numbers are refused: ``True`` is not a seed.
    """
    validate_params({"random_state": random_state}, {"random_state": ["random_state"]})
    if random_state is None and not draw_for_none:
        return None
    if random_state is None or isinstance(random_state, np.random.RandomState):
        rng = np.random.mtrand._rand if random_state is None else random_state
        return int(rng.randint(np.iinfo(np.int32).max))
    return int(random_state)
