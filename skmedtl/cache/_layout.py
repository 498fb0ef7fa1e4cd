"""The HDF5 layout of an embedding cache.

::

    /                          attrs: format, format_version, generation,
    │                                 skmedtl_version, created
    └── <label>-<fingerprint>  one group per namespace; attrs: fingerprint,
        │                      label, config (JSON), provenance (JSON), dtype,
        │                      dim, n_rows, uid, created, updated
        ├── embeddings         (n_rows, dim) float32 or float16, chunked, resizable
        └── keys               (n_rows,) 32-byte ASCII image keys, row-aligned

Both datasets are chunked along the rows, uncompressed, with HDF5's Fletcher-32
checksum filter so a damaged chunk raises an error instead of returning wrong
numbers (``benchmarks/cache/RESULTS.md`` has the measurements behind these
choices).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import datetime, timezone

import h5py
import numpy as np

from ._keys import KEY_LENGTH

FORMAT = "skmedtl.EmbeddingCache"
FORMAT_VERSION = 1
LIBVER = ("v110", "v110")  # readable by every HDF5 >= 1.10
_CHUNK_BYTES = 256 * 1024
_MIN_CHUNK_ROWS, _MAX_CHUNK_ROWS = 16, 4096
_KEY_DTYPE = np.dtype(f"S{KEY_LENGTH}")


class LayoutError(Exception):
    """The file is readable HDF5 but does not hold a consistent cache."""


def now() -> str:
    """Local time, ISO 8601 with the UTC offset."""
    return datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds")


def open_file(path: str, mode: str) -> h5py.File:
    """Open without HDF5's own file locking (our lock and atomic replacement make it
    redundant, and it fails on some network file systems)."""
    try:
        return h5py.File(path, mode, libver=LIBVER, locking=False)
    except TypeError:  # pragma: no cover - h5py < 3.5
        return h5py.File(path, mode, libver=LIBVER)


def chunk_rows(dim: int, itemsize: int) -> int:
    """Rows per chunk: about 256 KiB, a power of two between 16 and 4096."""
    rows = max(1, _CHUNK_BYTES // max(1, dim * itemsize))
    rows = 1 << (rows.bit_length() - 1)
    return int(min(_MAX_CHUNK_ROWS, max(_MIN_CHUNK_ROWS, rows)))


def init_root(f: h5py.File, version: str) -> None:
    f.attrs["format"] = FORMAT
    f.attrs["format_version"] = FORMAT_VERSION
    f.attrs["skmedtl_version"] = version
    f.attrs["created"] = now()


def check_root(f: h5py.File, path: str) -> None:
    fmt = f.attrs.get("format")
    if isinstance(fmt, bytes):
        fmt = fmt.decode()
    if fmt != FORMAT:
        raise ValueError(
            f"{path} is an HDF5 file but not a skmedtl embedding cache (no "
            f"format={FORMAT!r} attribute). Choose another cache path; skmedtl "
            "never modifies files it did not create."
        )
    version = int(f.attrs.get("format_version", -1))
    if version > FORMAT_VERSION:
        raise ValueError(
            f"{path} uses cache format {version}, newer than this skmedtl "
            f"supports ({FORMAT_VERSION}). Upgrade skmedtl, or use another path."
        )


def read_namespaces(f: h5py.File) -> dict[str, dict]:
    """Attributes of every namespace group, checked for consistency."""
    out = {}
    for name, group in f.items():
        if not isinstance(group, h5py.Group):
            continue
        out[name] = read_meta(name, group)
    return out


def read_meta(name: str, group: h5py.Group) -> dict:
    try:
        attrs = group.attrs
        meta = {
            "name": name,
            "fingerprint": _str(attrs["fingerprint"]),
            "label": _str(attrs["label"]),
            "config": json.loads(_str(attrs["config"])),
            "provenance": json.loads(_str(attrs.get("provenance", "{}"))),
            "dtype": _str(attrs["dtype"]),
            "dim": int(attrs["dim"]),
            "n_rows": int(attrs["n_rows"]),
            "uid": _str(attrs.get("uid", "")),
            "created": _str(attrs.get("created", "")),
            "updated": _str(attrs.get("updated", "")),
        }
        emb, keys = group["embeddings"], group["keys"]
        shapes = (emb.shape, keys.shape, emb.dtype)
    except (KeyError, ValueError, TypeError, OSError) as e:
        raise LayoutError(f"namespace {name!r} is incomplete ({e})") from e
    n, dim = meta["n_rows"], meta["dim"]
    if shapes != ((n, dim), (n,), np.dtype(meta["dtype"])):
        raise LayoutError(
            f"namespace {name!r} records {n} rows of {dim} {meta['dtype']} values but "
            f"holds embeddings {shapes[0]} {shapes[2]} and keys {shapes[1]}"
        )
    if not name.endswith(meta["fingerprint"]):
        raise LayoutError(f"namespace {name!r} has fingerprint {meta['fingerprint']}")
    meta["nbytes"] = int(emb.id.get_storage_size() + keys.id.get_storage_size())
    return meta


def _str(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def create_namespace(f: h5py.File, meta: dict) -> h5py.Group:
    """A new, empty namespace group described by journal metadata ``meta``."""
    dtype = np.dtype(meta["dtype"])
    dim = int(meta["dim"])
    group = f.create_group(meta["namespace"])
    rows = chunk_rows(dim, dtype.itemsize)
    group.create_dataset(
        "embeddings", shape=(0, dim), maxshape=(None, dim), dtype=dtype,
        chunks=(rows, dim), fletcher32=True,
    )
    group.create_dataset(
        "keys", shape=(0,), maxshape=(None,), dtype=_KEY_DTYPE,
        chunks=(max(rows, 1024),), fletcher32=True,
    )
    stamp = now()
    attrs = group.attrs
    attrs["uid"] = uuid.uuid4().hex  # this incarnation of the namespace
    attrs["fingerprint"] = meta["fingerprint"]
    attrs["label"] = meta["label"]
    attrs["config"] = json.dumps(meta["config"], sort_keys=True, indent=1)
    attrs["provenance"] = json.dumps(meta.get("provenance", {}), sort_keys=True)
    attrs["dtype"] = dtype.name
    attrs["dim"] = dim
    attrs["n_rows"] = 0
    attrs["created"] = stamp
    attrs["updated"] = stamp
    return group


def append_rows(group: h5py.Group, keys: Sequence[bytes], rows: np.ndarray) -> None:
    """Append rows; ``n_rows`` is updated last."""
    n = int(group.attrs["n_rows"])
    k = len(keys)
    emb, key_ds = group["embeddings"], group["keys"]
    emb.resize((n + k, emb.shape[1]))
    emb[n : n + k] = rows.astype(emb.dtype, copy=False)
    key_ds.resize((n + k,))
    key_ds[n : n + k] = np.asarray(keys, dtype=_KEY_DTYPE)
    group.attrs["n_rows"] = n + k
    group.attrs["updated"] = now()


def read_keys(group: h5py.Group, n_rows: int) -> np.ndarray:
    return group["keys"][:n_rows]


def read_rows(ds: h5py.Dataset, index: np.ndarray) -> np.ndarray:
    """Rows ``index`` of ``ds`` (any order, repeats allowed), in that order.

    Reads only the chunks that hold the rows, each run of adjacent chunks in one
    call (whole chunks are read anyway: their checksums cover whole chunks).
    """
    index = np.asarray(index, dtype=np.int64)
    out = np.empty((len(index),) + ds.shape[1:], dtype=ds.dtype)
    if len(index) == 0:
        return out
    order = np.argsort(index, kind="stable")
    sorted_idx = index[order]
    step = ds.chunks[0] if ds.chunks else ds.shape[0]
    chunk_ids = np.unique(sorted_idx // step)
    gaps = np.flatnonzero(np.diff(chunk_ids) > 1)
    first = np.r_[chunk_ids[0], chunk_ids[gaps + 1]] * step
    last = np.minimum((np.r_[chunk_ids[gaps], chunk_ids[-1]] + 1) * step, ds.shape[0])
    bounds = np.searchsorted(sorted_idx, first)
    ends = np.r_[bounds[1:], len(sorted_idx)]
    for r0, r1, s, e in zip(first, last, bounds, ends, strict=True):
        block = ds[int(r0) : int(r1)]
        out[order[s:e]] = block[sorted_idx[s:e] - r0]
    return out
