"""EmbeddingCache: each (image, feature configuration) embedded once, ever.

Files
-----
``PATH``
    The HDF5 file (layout in :mod:`skmedtl.cache._layout`): one group per
    namespace, rows and keys row-aligned. It is **never modified in place**.
``PATH.journal``
    An append-only journal of rows not yet folded into ``PATH``; every record
    carries its own checksum (format in :mod:`skmedtl.cache._journal`).
``PATH.lock``
    The :class:`filelock.FileLock` that serialises writers.

Crash safety
------------
HDF5 is not crash safe: a process killed while HDF5 flushes its metadata can leave
a file that no longer opens, or whose index points at chunks never written (read
as zeros). So skmedtl never lets a live process write into ``PATH``:

1. **Store** (after every batch): under the lock, append one record (keys + rows
   + digest) to the journal. A kill mid-append leaves a torn record, which fails
   its digest and is ignored; the next writer cuts it off. Nothing else changes.
2. **Checkpoint** (end of ``CNNFeatures.transform``, or when the journal passes
   256 MiB): under the lock, copy ``PATH`` to ``PATH.tmp-*``, append the journal
   rows to the copy, ``fsync`` it, then ``os.replace`` it over ``PATH`` (atomic)
   and delete the journal. A kill before the rename leaves the old file and the
   journal; a kill after it leaves rows in both, and duplicates are dropped by
   key. Stale temporaries are removed by the next checkpoint.

So at any instant ``PATH`` is a complete file written by a finished checkpoint,
and the journal is a sequence of verified records; a SIGKILL at any moment loses
at most the batch being computed. Rows are never reordered or removed within a
namespace (``prune`` drops whole namespaces), and every row read is checked
against its stored key, so an index can never hand back another image's row.

Concurrency
-----------
Writers take ``PATH.lock`` for each store and checkpoint (milliseconds, or the
copy time of the file). In the default mode ``"a"`` lookups take it too; mode
``"r"`` reads without it, which is safe because ``PATH`` only ever changes by
atomic replacement and journal records are verified (a reader racing a
checkpoint at worst misses rows and recomputes them). HDF5's own file locking is
disabled: our lock already serialises writers, and HDF5's fails on some network
file systems.

Damage
------
A truncated or damaged ``PATH`` (it does not open, its datasets disagree with
its attributes, a chunk fails its Fletcher-32 checksum, or a row's stored key
differs from the key looked up) raises :class:`CacheCorruptedError` naming the
file, or with ``on_corrupt="rebuild"`` is moved to ``PATH.corrupt-<time>`` with
a :class:`CacheCorruptedWarning` and the cache starts afresh. No embedding is
ever read from a damaged file.
"""

from __future__ import annotations

import contextlib
import fnmatch
import glob
import logging
import numbers
import os
import re
import shutil
import threading
import time
import uuid
import warnings
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone

import filelock
import numpy as np

from .._constants import CACHE_DTYPES, CACHE_MODES
from ..utils._files import atomic_path
from ..utils._validation import Interval, StrOptions, validate_params
from . import _journal, _layout
from ._errors import CacheCorruptedError, CacheCorruptedWarning
from ._info import CacheInfo, NamespaceInfo
from ._keys import KEY_LENGTH, config_fingerprint

__all__ = ["EmbeddingCache", "Namespace"]

logger = logging.getLogger(__name__)

_MODES = CACHE_MODES
_ON_CORRUPT = ("raise", "rebuild")
_DTYPES = CACHE_DTYPES
_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
#: A journal larger than this is folded into the HDF5 file while storing.
JOURNAL_LIMIT_BYTES = 256 << 20
#: ``flush`` always checkpoints files up to this size; above it, only when the
#: journal reaches 1/8 of the file (each checkpoint copies the whole file).
_FLUSH_COPY_LIMIT_BYTES = 1 << 30
_LABEL_RE = re.compile(r"[^A-Za-z0-9_.+-]+")


class _Stale(Exception):
    """A lock-free reader saw the file change under it; refresh and retry."""


class Namespace:
    """One feature configuration inside an :class:`EmbeddingCache`.

    Get one from :meth:`EmbeddingCache.namespace`. The namespace name is
    ``<label>-<fingerprint>``, where the fingerprint hashes ``config`` and the
    storage dtype: a different configuration can never see these rows.

    Attributes
    ----------
    cache : EmbeddingCache
    config : dict
    dtype : str
        Storage dtype.
    label : str
    provenance : dict
    fingerprint : str
    name : str
    """

    def __init__(self, cache: EmbeddingCache, config: Mapping, *, dtype: str,
                 label: str, provenance: Mapping | None):
        self.cache = cache
        self.config = dict(config)
        self.dtype = dtype
        self.label = label
        self.provenance = dict(provenance or {})
        self.fingerprint = config_fingerprint(
            {"config": self.config, "storage_dtype": dtype}
        )
        self.name = f"{label}-{self.fingerprint}"

    def lookup(self, keys: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """See :meth:`EmbeddingCache.lookup`."""
        return self.cache.lookup(self, keys)

    def store(self, keys: Sequence[str], rows) -> np.ndarray:
        """See :meth:`EmbeddingCache.store`."""
        return self.cache.store(self, keys, rows)

    def __len__(self) -> int:
        return self.cache._namespace_len(self.name)

    def __repr__(self) -> str:
        return f"Namespace({self.name!r}, dtype={self.dtype!r})"

    def _journal_meta(self) -> dict:
        return {
            "namespace": self.name, "fingerprint": self.fingerprint,
            "label": self.label, "config": self.config,
            "provenance": self.provenance,
        }


class EmbeddingCache:
    """An HDF5 store of embeddings keyed by image content and feature configuration.

    Safe to share between processes (a file lock serialises writers) and to kill
    at any moment (rows are journalled, then folded into the HDF5 file by atomic
    replacement). Nothing touches the disk until the first operation, and the
    object pickles as its parameters.

    Parameters
    ----------
    path : str or path-like
        The HDF5 file; it is created (with its directory) on the first store.
        ``PATH.journal`` and ``PATH.lock`` live next to it.
    mode : {"a", "r"}, default="a"
        ``"a"`` reads and writes; ``"r"`` only reads, without taking the lock
        (for read-only locations).
    on_corrupt : {"raise", "rebuild"}, default="raise"
        What a damaged file does: raise :class:`CacheCorruptedError`, or get
        moved to ``PATH.corrupt-<time>`` with a :class:`CacheCorruptedWarning`
        while the cache starts afresh.
    lock_timeout : float, default=600
        Seconds to wait for the lock before a :class:`TimeoutError`.

    See Also
    --------
    skmedtl.CNNFeatures : Uses a cache with ``cache_path=``.

    Examples
    --------
    >>> import numpy as np
    >>> from skmedtl.cache import EmbeddingCache, image_key
    >>> cache = EmbeddingCache(getfixture("tmp_path") / "emb.h5")
    >>> ns = cache.namespace({"backbone": "demo", "size": 32})
    >>> images = np.arange(3 * 4 * 4, dtype=np.uint8).reshape(3, 4, 4)
    >>> keys = [image_key(im) for im in images]
    >>> found, rows = ns.lookup(keys)
    >>> found
    array([False, False, False])
    >>> _ = ns.store(keys[:2], np.ones((2, 5), dtype=np.float32))
    >>> found, rows = ns.lookup(keys)
    >>> found, rows.shape
    (array([ True,  True, False]), (2, 5))
    >>> cache.checkpoint()
    2
    >>> cache.info().n_rows
    2
    """

    def __init__(self, path: str | os.PathLike, *, mode: str = "a",
                 on_corrupt: str = "raise", lock_timeout: float = 600.0):
        validate_params(
            {"path": path, "mode": mode, "on_corrupt": on_corrupt,
             "lock_timeout": lock_timeout},
            {"path": ["path"], "mode": [StrOptions(_MODES)],
             "on_corrupt": [StrOptions(_ON_CORRUPT)],
             "lock_timeout": [Interval(numbers.Real, 0)]},
        )
        self.path = os.path.abspath(os.fspath(path))
        self.mode = mode
        self.on_corrupt = on_corrupt
        self.lock_timeout = float(lock_timeout)
        self._thread_lock = threading.RLock()
        self._file_lock: filelock.FileLock | None = None
        self._forget()

    # -- files -------------------------------------------------------------------
    @property
    def journal_path(self) -> str:
        """The journal of rows not yet in the HDF5 file."""
        return self.path + ".journal"

    @property
    def lock_path(self) -> str:
        """The lock file."""
        return self.path + ".lock"

    # -- public API ----------------------------------------------------------------
    def namespace(self, config: Mapping, *, dtype: str = "float32",
                  label: str | None = None,
                  provenance: Mapping | None = None) -> Namespace:
        """The namespace of a feature configuration.

        Parameters
        ----------
        config : mapping
            JSON-serialisable description of everything that can change an
            embedding; it is hashed into the namespace name.
        dtype : {"float32", "float16"}, default="float32"
            Storage dtype. float32 returns stored rows bit for bit; float16
            halves the file and rounds values (relative error about 5e-4).
        label : str, optional
            Readable prefix of the namespace name; default: ``config["backbone"]``
            if present.
        provenance : mapping, optional
            Informative context stored with the rows, not hashed.

        Returns
        -------
        Namespace
        """
        if not isinstance(config, Mapping):
            raise TypeError(f"config must be a mapping; got {type(config).__name__}.")
        if not StrOptions(_DTYPES).is_satisfied_by(dtype):
            raise ValueError(
                f"Unknown cache dtype {dtype!r}; choose from {_DTYPES} (float32 "
                "keeps embeddings exact, float16 halves the file)."
            )
        if label is None:
            label = str(config.get("backbone", "embeddings"))
        label = _LABEL_RE.sub("_", label).strip("._")[:48] or "embeddings"
        return Namespace(self, config, dtype=dtype, label=label, provenance=provenance)

    def lookup(self, namespace: Namespace, keys: Sequence[str]
               ) -> tuple[np.ndarray, np.ndarray]:
        """Find stored embeddings.

        Parameters
        ----------
        namespace : Namespace
        keys : sequence of str
            Image keys (:func:`~skmedtl.cache.image_key`).

        Returns
        -------
        found : ndarray of bool, shape (n_keys,)
        rows : ndarray of float32, shape (found.sum(), dim)
            The embeddings of the found keys, in the order of ``keys``.
        """
        raw = _key_bytes(keys)
        return self._call(lambda locked: self._lookup(namespace.name, raw, locked))

    def store(self, namespace: Namespace, keys: Sequence[str], rows) -> np.ndarray:
        """Store embeddings (durable on return; folded into the HDF5 file later).

        Keys already stored are skipped, so concurrent writers of the same image
        keep the first row.

        Parameters
        ----------
        namespace : Namespace
        keys : sequence of str
            One image key per row.
        rows : array-like of shape (n_keys, dim)
            Finite embeddings.

        Returns
        -------
        ndarray of float32, shape (n_keys, dim)
            ``rows`` as stored (rounded through float16 for float16 storage), so
            callers return exactly what a later lookup returns.
        """
        self._check_writable("store")
        raw = _key_bytes(keys)
        rows = np.asarray(rows)
        if rows.ndim != 2 or rows.shape[0] != len(raw):
            raise ValueError(
                f"rows must have shape (n_keys, dim) = ({len(raw)}, dim); got "
                f"{rows.shape}."
            )
        if not np.isfinite(rows).all():
            raise ValueError("rows contain NaN or infinite values; nothing stored.")
        stored = rows.astype(namespace.dtype)

        def store(locked: bool) -> None:
            dim = self._dim(namespace.name)
            if dim is not None and dim != stored.shape[1]:
                raise ValueError(
                    f"Namespace {namespace.name} of {self.path} holds rows of width "
                    f"{dim}; got width {stored.shape[1]}."
                )
            new = self._new_positions(namespace.name, raw)
            if new:
                self._append(namespace, [raw[i] for i in new], stored[new])
            if self._journal.n_bytes > JOURNAL_LIMIT_BYTES:
                self._checkpoint()

        self._call(store)
        return stored.astype(np.float32)

    def checkpoint(self) -> int:
        """Fold the journal into the HDF5 file now (atomically).

        Returns
        -------
        int
            Rows added to the HDF5 file.
        """
        self._check_writable("checkpoint")
        return self._call(lambda locked: self._checkpoint())

    def flush(self) -> None:
        """Checkpoint unless the file is large and the journal small.

        Called at the end of every :meth:`~skmedtl.CNNFeatures.transform`. Files up
        to 1 GiB are always checkpointed; larger ones once the journal reaches an
        eighth of their size (a checkpoint copies the file). Pending rows are
        found by lookups either way.
        """
        if self.mode == "r":
            return

        def flush(locked: bool) -> None:
            if not self._journal.n_rows:
                return
            size = _file_size(self.path)
            if size <= _FLUSH_COPY_LIMIT_BYTES or 8 * self._journal.n_bytes >= size:
                self._checkpoint()

        self._call(flush)

    def info(self) -> CacheInfo:
        """Namespaces, rows, sizes and configurations.

        Returns
        -------
        CacheInfo
            ``str(info)`` is the report of ``skmedtl cache info``.
        """
        return self._call(self._info)

    def prune(
        self,
        namespaces: Sequence[str] | None = None,
        *,
        backbone: str | None = None,
        older_than: float | timedelta | None = None,
        all_namespaces: bool = False,
        dry_run: bool = False,
    ) -> list[NamespaceInfo]:
        """Delete whole namespaces and reclaim their space.

        A namespace is deleted when it matches every selector given.

        Parameters
        ----------
        namespaces : sequence of str, optional
            Namespace names, or unique prefixes of their names or fingerprints.
        backbone : str, optional
            Shell-style pattern on the label / ``config["backbone"]``
            (``"resnet*"``).
        older_than : float or timedelta, optional
            Last rows added more than this long ago (float: days).
        all_namespaces : bool, default=False
            Select every namespace (combined with the other selectors, if any).
        dry_run : bool, default=False
            Only report what would be deleted.

        Returns
        -------
        list of NamespaceInfo
            The namespaces deleted (or that would be).
        """
        if namespaces is None and backbone is None and older_than is None:
            if not all_namespaces:
                raise ValueError(
                    "Nothing selected to prune: give namespace names, backbone=, "
                    "older_than= or all_namespaces=True."
                )
        if isinstance(namespaces, str):
            namespaces = [namespaces]
        if older_than is not None and not isinstance(older_than, timedelta):
            older_than = timedelta(days=float(older_than))
        self._check_writable("prune")

        def prune(locked: bool) -> list[NamespaceInfo]:
            self._checkpoint()
            selected = _select(self._info(locked), namespaces, backbone, older_than)
            if selected and not dry_run:
                self._rewrite_without({ns.name for ns in selected})
            return selected

        return self._call(prune)

    def __len__(self) -> int:
        return self.info().n_rows

    def __repr__(self) -> str:
        return f"EmbeddingCache({self.path!r}, mode={self.mode!r})"

    def __getstate__(self) -> dict:
        return {"path": self.path, "mode": self.mode, "on_corrupt": self.on_corrupt,
                "lock_timeout": self.lock_timeout}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["path"], mode=state["mode"],
                      on_corrupt=state["on_corrupt"],
                      lock_timeout=state["lock_timeout"])

    # -- locking -------------------------------------------------------------------
    def _call(self, operation):
        """Run ``operation(locked)`` on fresh state, under the lock in mode "a".

        A lock-free reader that sees the file replaced mid-read, or any caller after
        a damaged file was moved aside, starts over.
        """
        for _ in range(8):
            try:
                with self._exclusive() as locked:
                    self._refresh(locked)
                    result = operation(locked)
                self._fresh = False
                return result
            except _Stale:
                logger.debug("%s changed while reading it; starting over", self.path)
                self._forget()
        raise RuntimeError(
            f"The embedding cache {self.path} kept changing while being read; try "
            "again, or open it with mode='a' to read under the lock."
        )

    @contextlib.contextmanager
    def _exclusive(self):
        """Hold the file lock (mode "a"); yields whether it is held."""
        with self._thread_lock:
            if self.mode == "r":
                yield False
                return
            try:
                if self._file_lock is None:
                    os.makedirs(os.path.dirname(self.path), exist_ok=True)
                    self._file_lock = filelock.FileLock(self.lock_path)
                created = not os.path.exists(self.lock_path)
                self._file_lock.acquire(timeout=self.lock_timeout)
            except PermissionError as e:
                self._file_lock = None
                raise PermissionError(
                    e.errno,
                    f"Cannot write to the embedding cache {self.path}: its folder "
                    f"is not writable, so its lock file {self.lock_path} cannot be "
                    "created. Use a writable cache_path, or read this cache without "
                    "writing: EmbeddingCache(path, mode='r'), or "
                    "CNNFeatures(..., cache_mode='r') (missing images are then "
                    "computed but not stored)",
                    self.lock_path,
                ) from e
            except (FileExistsError, NotADirectoryError) as e:  # a file on the way
                self._file_lock = None
                raise NotADirectoryError(
                    e.errno,
                    f"Cannot create the embedding cache {self.path}: {e.filename} is "
                    "a file, not a folder. Choose another cache_path",
                    e.filename,
                ) from e
            except filelock.Timeout as e:
                raise TimeoutError(
                    f"Could not lock the embedding cache {self.path} within "
                    f"{self.lock_timeout:g} s: another process holds {self.lock_path}. "
                    "Wait for it, or raise lock_timeout."
                ) from e
            try:
                yield True
            except _Stale:
                raise
            except BaseException:
                # A cache that failed to open (not HDF5, damaged, unreadable)
                # keeps no lock file of ours beside it.
                # (Only a lock file this call created: one that was there before
                # may be another process's.)
                if created:
                    _remove_quietly(self.lock_path)
                raise
            finally:
                self._file_lock.release()

    def _check_writable(self, what: str) -> None:
        if self.mode == "r":
            raise ValueError(
                f"Cannot {what}: the embedding cache {self.path} was opened with "
                "mode='r'. Open it with mode='a' to write."
            )

    # -- in-memory state -------------------------------------------------------------
    def _forget(self) -> None:
        self._h5_sig = None
        self._h5_generation = None
        self._h5_meta: dict[str, dict] = {}
        # name -> (namespace uid, key -> row, number of leading rows indexed)
        self._h5_index: dict[str, tuple[str, dict[bytes, int], int]] = {}
        self._journal = _journal.JournalState()
        self._fresh = True  # nothing in memory predates this operation

    def _refresh(self, locked: bool) -> None:
        """Catch up with the HDF5 file and the journal."""
        sig = _stat_sig(self.path)
        if sig != self._h5_sig:
            self._load_h5(sig, locked)
        self._journal = _journal.scan(self.journal_path, self._journal, repair=locked)

    def _load_h5(self, sig, locked: bool) -> None:
        if sig is None:
            self._h5_sig, self._h5_meta, self._h5_index = None, {}, {}
            self._h5_generation = None
            return
        if os.path.isdir(self.path):
            raise ValueError(
                f"The cache path {self.path} is a directory; give a file path such "
                "as .../embeddings.h5."
            )
        with _reading(self, locked, "open", sig):
            _check_signature(self.path)
            with _layout.open_file(self.path, "r") as f:
                _layout.check_root(f, self.path)
                generation = _layout._str(f.attrs.get("generation", ""))
                meta = _layout.read_namespaces(f)
        # An index stays valid while its namespace does: rows never move within a
        # namespace; a namespace deleted and created again has a new uid.
        self._h5_index = {
            name: entry for name, entry in self._h5_index.items()
            if name in meta and meta[name]["uid"] == entry[0]
        }
        self._h5_sig, self._h5_generation, self._h5_meta = sig, generation, meta

    def _index(self, name: str, locked: bool) -> dict[bytes, int]:
        """Key -> row of namespace ``name`` in the HDF5 file, read incrementally.

        Rows never move within a namespace (same uid), so only the keys
        of rows added since the last read are loaded.
        """
        meta = self._h5_meta.get(name)
        if meta is None:
            return {}
        n_rows = meta["n_rows"]
        _, index, covered = self._h5_index.get(name, (None, {}, 0))
        if covered == n_rows:
            return index
        if covered > n_rows:
            index, covered = {}, 0
        with _reading(self, locked, f"read the keys of {name}"):
            with _layout.open_file(self.path, "r") as f:
                self._check_generation(f)
                keys = f[name]["keys"][covered:n_rows]
        for i, key in enumerate(keys.tolist(), covered):
            index.setdefault(key, i)
        self._h5_index[name] = (meta["uid"], index, n_rows)
        return index

    def _check_generation(self, f) -> None:
        if _layout._str(f.attrs.get("generation", "")) != self._h5_generation:
            raise _Stale()

    def _dim(self, name: str) -> int | None:
        if name in self._h5_meta:
            return self._h5_meta[name]["dim"]
        if name in self._journal.meta:
            return int(self._journal.meta[name]["dim"])
        return None

    def _namespace_len(self, name: str) -> int:
        def count(locked: bool) -> int:
            n = self._h5_meta.get(name, {}).get("n_rows", 0)
            pending = self._journal.rows.get(name, {})
            if pending:
                index = self._index(name, locked)
                n += sum(k not in index for k in pending)
            return n

        return self._call(count)

    # -- operations (lock held in mode "a") ----------------------------------------
    def _lookup(self, name: str, raw: list[bytes], locked: bool):
        n = len(raw)
        found = np.zeros(n, dtype=bool)
        dim = self._dim(name)
        if dim is None:
            return found, np.empty((0, 0), dtype=np.float32)
        index = self._index(name, locked)
        pending = self._journal.rows.get(name, {})
        out = np.empty((n, dim), dtype=np.float32)
        h5_pos, h5_rows = [], []
        for i, key in enumerate(raw):
            row = index.get(key)
            if row is not None:
                h5_pos.append(i)
                h5_rows.append(row)
                continue
            value = pending.get(key)
            if value is not None:
                out[i] = value
                found[i] = True
        if h5_pos:
            rows = np.asarray(h5_rows, dtype=np.int64)
            with _reading(self, locked, f"read rows of {name}"):
                with _layout.open_file(self.path, "r") as f:
                    self._check_generation(f)
                    group = f[name]
                    values = _layout.read_rows(group["embeddings"], rows)
                    stored_keys = _layout.read_rows(group["keys"], rows)
                if stored_keys.tolist() != [raw[i] for i in h5_pos]:
                    if not self._fresh:  # an index older than the file: reload
                        raise _Stale()
                    raise _layout.LayoutError(
                        f"rows of {name} do not hold the keys its index says"
                    )
            out[h5_pos] = values
            found[h5_pos] = True
        return found, out[found]

    def _new_positions(self, name: str, raw: list[bytes]) -> list[int]:
        index = self._index(name, True)
        pending = self._journal.rows.get(name, {})
        seen, new = set(), []
        for i, key in enumerate(raw):
            if key in index or key in pending or key in seen:
                continue
            seen.add(key)
            new.append(i)
        return new

    def _append(self, namespace: Namespace, keys: list[bytes],
                rows: np.ndarray) -> None:
        record = _journal.encode_record(namespace._journal_meta(), keys, rows)
        if self._journal.file_id is None:
            self._journal = _journal.JournalState(
                file_id=_journal.create(self.journal_path),
                offset=_journal.FILE_HEADER_SIZE,
            )
        _journal.append(self.journal_path, record)
        self._journal.add(_journal.JournalRecord(
            {**namespace._journal_meta(), "dim": rows.shape[1],
             "dtype": rows.dtype.str}, keys, rows,
        ))
        self._journal.offset += len(record)
        self._journal.n_bytes = self._journal.offset

    def _checkpoint(self) -> int:
        self._refresh(True)
        if not self._journal.n_rows:
            return 0
        start = time.perf_counter()
        exists = self._h5_sig is not None
        added = {}
        with self._replacing() as tmp:
            if exists:
                shutil.copyfile(self.path, tmp)
            with _layout.open_file(tmp, "r+" if exists else "w") as f:
                if not exists:
                    from .. import __version__

                    _layout.init_root(f, __version__)
                for name, pending in self._journal.rows.items():
                    added[name] = self._fold(f, name, pending)
                f.attrs["generation"] = uuid.uuid4().hex
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.journal_path)
        for name, keys in added.items():  # rows never move: extend the index
            uid, index, covered = self._h5_index.get(name, (None, {}, -1))
            if name in self._h5_meta and covered == self._h5_meta[name]["n_rows"]:
                for i, key in enumerate(keys, covered):
                    index.setdefault(key, i)
                self._h5_index[name] = (uid, index, covered + len(keys))
        self._journal = _journal.JournalState()
        self._load_h5(_stat_sig(self.path), True)
        n_added = sum(len(k) for k in added.values())
        logger.info("Checkpointed %d embeddings into %s in %.2fs", n_added,
                    self.path, time.perf_counter() - start)
        return n_added

    def _fold(self, f, name: str, pending: dict[bytes, np.ndarray]) -> list[bytes]:
        meta = self._journal.meta[name]
        group = f.get(name)
        if group is None:
            group = _layout.create_namespace(f, meta)
        elif int(group.attrs["dim"]) != int(meta["dim"]):
            raise _layout.LayoutError(
                f"namespace {name} has width {group.attrs['dim']} in the file but "
                f"{meta['dim']} in the journal"
            )
        n_rows = int(group.attrs["n_rows"])
        _, index, covered = self._h5_index.get(name, (None, {}, -1))
        if covered == n_rows:
            existing = index
        else:
            existing = set(_layout.read_keys(group, n_rows).tolist()) if n_rows else ()
        new = [k for k in pending if k not in existing]
        if new:
            _layout.append_rows(group, new, np.stack([pending[k] for k in new]))
        return new

    def _rewrite_without(self, names: set[str]) -> None:
        from .. import __version__

        with self._replacing() as tmp:
            with _layout.open_file(self.path, "r") as src, \
                    _layout.open_file(tmp, "w") as dst:
                _layout.init_root(dst, __version__)
                if "created" in src.attrs:
                    dst.attrs["created"] = src.attrs["created"]
                for name in src:
                    if name not in names:
                        src.copy(src[name], dst, name=name)
                dst.attrs["generation"] = uuid.uuid4().hex
        for name in names:
            self._h5_index.pop(name, None)
        self._load_h5(_stat_sig(self.path), True)
        logger.info("Pruned %d namespaces from %s", len(names), self.path)

    @contextlib.contextmanager
    def _replacing(self):
        """A fresh temporary path beside the file; on success it atomically
        replaces the file (fsynced), on any failure it is removed."""
        self._remove_temporaries()
        with atomic_path(self.path, fsync=True, suffix=".tmp") as tmp:
            yield tmp

    def _remove_temporaries(self) -> None:
        # Only writers holding the lock create temporaries: any left are orphans.
        for pattern in (f"{self.path}.tmp-*", f"{self.journal_path}.new-*"):
            for orphan in glob.glob(glob.escape(pattern[:-1]) + "*"):
                with contextlib.suppress(OSError):
                    os.unlink(orphan)
                    logger.info("Removed %s, left by an interrupted process", orphan)

    def _info(self, locked: bool) -> CacheInfo:
        namespaces = []
        names = list(self._h5_meta) + [
            n for n in self._journal.rows if n not in self._h5_meta
        ]
        for name in names:
            meta = self._h5_meta.get(name)
            pending = self._journal.rows.get(name, {})
            if meta is None:
                jm = self._journal.meta[name]
                meta = {
                    "fingerprint": jm["fingerprint"], "label": jm["label"],
                    "config": jm["config"], "provenance": jm.get("provenance", {}),
                    "dtype": np.dtype(jm["dtype"]).name, "dim": int(jm["dim"]),
                    "n_rows": 0, "nbytes": 0, "created": "", "updated": "",
                }
                n_pending = len(pending)
            else:
                index = self._index(name, locked) if pending else {}
                n_pending = sum(k not in index for k in pending)
            namespaces.append(NamespaceInfo(
                name=name, fingerprint=meta["fingerprint"], label=meta["label"],
                config=meta["config"], provenance=meta["provenance"],
                dtype=meta["dtype"], dim=meta["dim"], n_rows=meta["n_rows"],
                n_pending=n_pending, nbytes=meta["nbytes"], created=meta["created"],
                updated=meta["updated"],
            ))
        return CacheInfo(
            path=self.path, exists=self._h5_sig is not None,
            size_bytes=_file_size(self.path),
            journal_bytes=_file_size(self.journal_path),
            namespaces=tuple(namespaces),
        )

    # -- damage ----------------------------------------------------------------------
    def _damaged(self, what: str, error: BaseException, locked: bool) -> None:
        message = (
            f"The embedding cache {self.path} is damaged (truncated or corrupted): "
            f"could not {what}: {error}. No embedding was read from it."
        )
        if self.on_corrupt == "raise" or not locked:
            raise CacheCorruptedError(
                f"{message} Delete or move the file away (rows pending in "
                f"{self.journal_path} are kept), or open the cache with "
                "on_corrupt='rebuild' to move it aside and start afresh."
            ) from error
        aside = _aside_name(self.path)
        os.replace(self.path, aside)
        warnings.warn(
            f"{message} It was moved to {aside} and a new cache is started; its "
            "embeddings will be computed again.",
            CacheCorruptedWarning, stacklevel=2,
        )
        logger.warning("Moved damaged cache %s to %s", self.path, aside)
        journal_state = self._journal
        self._forget()
        self._journal = journal_state


@contextlib.contextmanager
def _reading(cache: EmbeddingCache, locked: bool, what: str, sig=None):
    """Turn read failures of the HDF5 file into damage reports (or retries).

    Without the lock, a failure while the file changed (``sig`` is the state it
    was expected in) is a race with a writer, not damage: start over.
    """
    try:
        yield
    except (_Stale, ValueError, CacheCorruptedError):
        raise
    except FileNotFoundError as e:  # replaced or deleted meanwhile
        raise _Stale() from e
    except (OSError, RuntimeError, KeyError, _layout.LayoutError) as e:
        expected = cache._h5_sig if sig is None else sig
        if not locked and _stat_sig(cache.path) != expected:
            raise _Stale() from e
        cache._damaged(what, e, locked)
        raise _Stale() from e  # moved aside: start over on a fresh cache


def _select(info: CacheInfo, names, backbone, older_than) -> list[NamespaceInfo]:
    selected = list(info.namespaces)
    if names is not None:
        chosen = set()
        for wanted in names:
            hits = [
                ns.name for ns in info.namespaces
                if ns.name.startswith(wanted) or ns.fingerprint.startswith(wanted)
            ]
            if not hits:
                known = ", ".join(ns.name for ns in info.namespaces) or "none"
                raise ValueError(
                    f"No namespace {wanted!r} in {info.path}. Namespaces: {known}. "
                    "See `skmedtl cache info PATH`."
                )
            if len(hits) > 1 and wanted not in hits:
                raise ValueError(
                    f"{wanted!r} matches several namespaces ({', '.join(hits)}); "
                    "give more of the name."
                )
            chosen.update([wanted] if wanted in hits else hits)
        selected = [ns for ns in selected if ns.name in chosen]
    if backbone is not None:
        selected = [
            ns for ns in selected
            if fnmatch.fnmatchcase(ns.label, backbone)
            or fnmatch.fnmatchcase(str(ns.config.get("backbone", "")), backbone)
        ]
    if older_than is not None:
        cutoff = datetime.now(timezone.utc) - older_than
        selected = [ns for ns in selected if _parse_time(ns.updated) < cutoff]
    return selected


def _parse_time(stamp: str) -> datetime:
    try:
        value = datetime.fromisoformat(stamp)
    except ValueError:
        return datetime.max.replace(tzinfo=timezone.utc)  # unknown: never "old"
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _key_bytes(keys: Sequence[str]) -> list[bytes]:
    if isinstance(keys, (str, bytes)):
        raise TypeError("keys must be a sequence of keys, not a single key.")
    out = []
    for key in keys:
        raw = key.encode("ascii", "replace") if isinstance(key, str) else key
        if not isinstance(raw, bytes) or len(raw) != KEY_LENGTH:
            raise ValueError(
                f"Invalid cache key {key!r}: keys are {KEY_LENGTH}-character hex "
                "digests from skmedtl.cache.image_key()."
            )
        out.append(raw)
    return out


def _stat_sig(path: str):
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def _file_size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        return 0


def _check_signature(path: str) -> None:
    """Refuse files that are not HDF5 (a short or damaged HDF5 header passes)."""
    with open(path, "rb") as f:
        head = f.read(len(_HDF5_SIGNATURE))
    if not _HDF5_SIGNATURE.startswith(head):
        raise ValueError(
            f"{path} is not an HDF5 file, so not an embedding cache; skmedtl leaves "
            "it untouched. Choose another cache path."
        )


def _remove_quietly(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


def _aside_name(path: str) -> str:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    candidate, i = f"{path}.corrupt-{stamp}", 1
    while os.path.exists(candidate):
        candidate, i = f"{path}.corrupt-{stamp}-{i}", i + 1
    return candidate


# -- one cache object per file and process ---------------------------------------------
_SHARED: dict[tuple[str, str], EmbeddingCache] = {}
_SHARED_LOCK = threading.Lock()
_SHARED_MAX = 8


def shared_cache(path: str | os.PathLike, *, on_corrupt: str = "rebuild",
                 mode: str = "a") -> EmbeddingCache:
    """The process-wide :class:`EmbeddingCache` of ``path``.

    Estimator clones (one per fold and candidate of a search) share it, and with
    it the key index already read from the file. Estimators never hold it, so they
    pickle as plain parameters.
    """
    if mode == "r":
        on_corrupt = "raise"  # a read-only cache cannot be rebuilt
    key = (os.path.abspath(os.fspath(path)), on_corrupt, mode)
    with _SHARED_LOCK:
        cache = _SHARED.pop(key, None)
        if cache is None:
            cache = EmbeddingCache(key[0], on_corrupt=on_corrupt, mode=mode)
        _SHARED[key] = cache  # most recently used last
        while len(_SHARED) > _SHARED_MAX:
            _SHARED.pop(next(iter(_SHARED)))
        return cache


if hasattr(os, "register_at_fork"):  # a forked child must not inherit held locks
    os.register_at_fork(after_in_child=_SHARED.clear)
