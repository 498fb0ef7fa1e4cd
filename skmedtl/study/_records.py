"""The results log of a study: one JSON line per finished cell, append-only."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import warnings
from pathlib import Path

import numpy as np

__all__ = ["ResultStore", "settings_key", "to_json"]

logger = logging.getLogger(__name__)


def _default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def to_json(value, **kwargs) -> str:
    """``json.dumps`` that also takes NumPy scalars and arrays."""
    return json.dumps(value, default=_default, allow_nan=True, **kwargs)


def settings_key(settings: dict) -> str:
    """A short digest of everything a result depends on.

    Examples
    --------
    >>> settings_key({"a": 1, "b": [2]}) == settings_key({"b": [2], "a": 1})
    True
    """
    text = to_json(settings, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class ResultStore:
    """``results.jsonl``: records appended as they finish, read back on resume.

    Each record is one line written with a single ``write`` and ``fsync``, so a
    process killed at any moment leaves every earlier record intact and at most
    one torn last line, which :meth:`read` skips with a warning (its cell runs
    again).

    Parameters
    ----------
    path : path-like
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    def read(self) -> list[dict]:
        """Every complete record, in the order written."""
        if not self.path.exists():
            return []
        records, torn = [], 0
        with open(self.path, encoding="utf-8") as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    torn += 1
                    continue
                if isinstance(record, dict):
                    records.append(record)
        if torn:
            warnings.warn(
                f"{self.path}: skipped {torn} incomplete line(s), left by an "
                "interrupted run; those cells run again.",
                RuntimeWarning,
                stacklevel=2,
            )
        return records

    def latest(self, kind: str) -> dict[str, dict]:
        """The last record of each key among records of type ``kind``."""
        return {r["key"]: r for r in self.read() if r.get("type") == kind}

    def append(self, record: dict) -> None:
        """Append one record durably (after a torn line, on a fresh line)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = to_json(record, separators=(",", ":")) + "\n"
        with open(self.path, "a+b") as f:
            if f.tell() > 0:
                f.seek(-1, os.SEEK_END)
                if f.read(1) != b"\n":
                    line = "\n" + line
            f.write(line.encode("utf-8"))
            f.flush()
            os.fsync(f.fileno())
