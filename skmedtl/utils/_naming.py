"""Helpers for error messages."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def did_you_mean(value: str, choices: Iterable[str], n: int = 3) -> str:
    """A " Did you mean 'x'?" suffix for an unknown name, or an empty string."""
    matches = difflib.get_close_matches(str(value), list(choices), n=n, cutoff=0.6)
    if not matches:
        return ""
    if len(matches) == 1:
        return f" Did you mean {matches[0]!r}?"
    return " Did you mean one of " + ", ".join(repr(m) for m in matches) + "?"
