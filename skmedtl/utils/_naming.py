"""Helpers for error messages."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def did_you_mean(value: str, choices: Iterable[str]) -> str:
    """A " Did you mean 'x'?" suffix naming the closest choice, or ``""``."""
    matches = difflib.get_close_matches(str(value), list(choices), n=1, cutoff=0.6)
    return f" Did you mean {matches[0]!r}?" if matches else ""


def check_choice(name: str, value, choices) -> None:
    """Raise a ``ValueError`` with a suggestion if ``value`` is not in ``choices``."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(
            f"Unknown {name} {value!r}.{did_you_mean(str(value), choices)} "
            f"Choose from {tuple(choices)}."
        )
