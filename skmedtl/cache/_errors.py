"""Exceptions and warnings of the embedding cache."""

from __future__ import annotations

__all__ = ["CacheCorruptedError", "CacheCorruptedWarning"]


class CacheCorruptedError(RuntimeError):
    """An embedding cache file is truncated or damaged; nothing was read from it.

    The message names the file and the ways out: delete or move it, or open the
    cache with ``on_corrupt="rebuild"`` to have it moved aside automatically.
    """


class CacheCorruptedWarning(UserWarning):
    """A damaged cache file was moved aside and the cache started afresh."""
