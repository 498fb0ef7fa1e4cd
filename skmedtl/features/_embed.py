"""Embedding through the cache: the one lookup / deduplicate / compute / store path.

Used by :meth:`skmedtl.CNNFeatures.transform` (batches on this process) and by
:func:`skmedtl.distributed.extract` (shards on Dask workers); only the way the
missing rows are computed differs, so both paths store, deduplicate and count
alike.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

__all__ = ["CacheFill", "TransformStats", "embed_through_cache"]

logger = logging.getLogger(__name__)

#: Keys looked up in the cache at once.
LOOKUP_CHUNK = 4096


@dataclass
class TransformStats:
    """What one ``transform`` did: rows computed, rows from the cache, the engine.

    Attributes
    ----------
    n_images : int
        Rows returned.
    n_computed : int
        Rows the network computed in this call.
    n_cached : int
        Rows taken from the cache (looked up, or stored meanwhile by another
        process, or duplicates of an image computed in the same call).
    engine : str or None
        The inference engine that actually ran (``"torch"`` or
        ``"onnxruntime"``; a failed ONNX export that fell back says
        ``"torch"``); ``None`` when nothing was computed.
    """

    n_images: int = 0
    n_computed: int = 0
    n_cached: int = 0
    engine: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    def add(self, other: TransformStats) -> None:
        self.n_images += other.n_images
        self.n_computed += other.n_computed
        self.n_cached += other.n_cached
        self.engine = other.engine or self.engine


class CacheFill:
    """The rows of one ``out`` array being filled from a cache and by computing.

    Parameters
    ----------
    keys : list of str or None
        One cache key per row; ``None`` without a cache.
    namespace : Namespace or None
        The cache namespace; ``None`` computes every row.
    out : ndarray of shape (n, d)
        Filled in place.
    progress : callable, optional
        Called with a number of rows done.
    """

    def __init__(self, keys, namespace, out: np.ndarray, progress=None):
        self.keys = keys
        self.namespace = namespace
        self.out = out
        self.progress = progress or (lambda n: None)
        self.stats = TransformStats(n_images=len(out))
        self._first: dict[str, int] = {}

    def lookup(self) -> list[int]:
        """Fill the rows the cache has; the positions to compute, one per key."""
        if self.namespace is None:
            return list(range(len(self.out)))
        keys = self.keys
        for start in range(0, len(keys), LOOKUP_CHUNK):
            chunk = keys[start : start + LOOKUP_CHUNK]
            found, rows = self.namespace.lookup(chunk)
            if found.any():
                self.out[start + np.flatnonzero(found)] = rows
                self._done_from_cache(int(found.sum()))
            for j in np.flatnonzero(~found):
                self._first.setdefault(chunk[j], start + int(j))
        return list(self._first.values())

    def still_missing(self, pos: list[int]) -> list[int]:
        """Take rows other processes stored meanwhile; the positions still missing."""
        if self.namespace is None or not pos:
            return list(pos)
        pos = np.asarray(pos)
        found, rows = self.namespace.lookup([self.keys[j] for j in pos])
        if found.any():
            self.out[pos[found]] = rows
            self._done_from_cache(int(found.sum()))
        return [int(j) for j in pos[~found]]

    def store(self, pos: list[int], rows: np.ndarray, keys=None) -> None:
        """Rows computed for positions ``pos``: into the cache and ``out``.

        ``keys`` replaces the expected keys (a worker that hashed files which
        changed meanwhile).
        """
        if self.namespace is not None and self.namespace.cache.mode != "r":
            rows = self.namespace.store(
                keys if keys is not None else [self.keys[j] for j in pos], rows
            )
        self.out[pos] = rows
        self.stats.n_computed += len(pos)
        self.progress(len(pos))

    def fill_duplicates(self) -> None:
        """Copy each computed row to the other positions with the same key."""
        if self.namespace is None:
            return
        for i, key in enumerate(self.keys):
            j = self._first.get(key)
            if j is not None and j != i:
                self.out[i] = self.out[j]
                self._done_from_cache(1)

    def _done_from_cache(self, n: int) -> None:
        self.stats.n_cached += n
        self.progress(n)


def embed_through_cache(
    keys,
    namespace,
    compute: Callable[[list[int], CacheFill], str | None],
    out: np.ndarray,
    *,
    progress=None,
    flush: bool = True,
) -> TransformStats:
    """Fill ``out``: look up the cache, compute each missing key once, store it.

    Parameters
    ----------
    keys : list of str or None
        One cache key per row of ``out`` (``None`` without a cache).
    namespace : Namespace or None
        The cache namespace (``None``: no cache, every row is computed).
    compute : callable
        ``compute(todo, fill)`` computes the rows at positions ``todo`` (in any
        batches or shards) and hands each batch to ``fill.store(pos, rows)``;
        it may call ``fill.still_missing(pos)`` first, to skip rows another
        process stored meanwhile. It returns the name of the engine that ran.
    out : ndarray of shape (n, d)
        Filled in place.
    progress : callable, optional
        Called with each number of rows done (a progress bar's ``update``).
    flush : bool, default=True
        Flush the cache at the end, also after an error (the rows stored so
        far are complete). A caller filling one array in several calls flushes
        once itself.

    Returns
    -------
    TransformStats
    """
    fill = CacheFill(keys, namespace, out, progress)
    try:
        todo = fill.lookup()
        engine = compute(todo, fill) if todo else None
        fill.stats.engine = engine
        fill.fill_duplicates()
    finally:
        if flush and namespace is not None and namespace.cache.mode != "r":
            namespace.cache.flush()  # complete batches only: stored per batch
    return fill.stats
