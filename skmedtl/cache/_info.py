"""What :meth:`EmbeddingCache.info` reports."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

__all__ = ["CacheInfo", "NamespaceInfo"]


@dataclass(frozen=True)
class NamespaceInfo:
    """One namespace (feature configuration) of a cache.

    Attributes
    ----------
    name : str
        HDF5 group name, ``<label>-<fingerprint>``.
    fingerprint : str
        Hash of the configuration and storage dtype.
    label : str
        Readable label (the backbone, for :class:`~skmedtl.CNNFeatures`).
    config : dict
        The configuration that produced the embeddings.
    provenance : dict
        Informative context (library versions, weights source); not part of the
        fingerprint.
    dtype : str
        Storage dtype.
    dim : int
        Embedding width.
    n_rows : int
        Rows in the HDF5 file.
    n_pending : int
        Rows still in the journal (they are found by lookups all the same).
    nbytes : int
        Bytes the namespace takes in the HDF5 file.
    created, updated : str
        ISO timestamps of creation and of the last added rows.
    """

    name: str
    fingerprint: str
    label: str
    config: dict
    provenance: dict
    dtype: str
    dim: int
    n_rows: int
    n_pending: int
    nbytes: int
    created: str
    updated: str


@dataclass(frozen=True)
class CacheInfo:
    """Summary of an embedding cache file.

    Attributes
    ----------
    path : str
        The HDF5 file.
    exists : bool
        Whether the HDF5 file exists yet.
    size_bytes : int
        Size of the HDF5 file on disk.
    journal_bytes : int
        Size of the journal of rows not yet folded into the HDF5 file.
    namespaces : tuple of NamespaceInfo
        One entry per feature configuration.
    """

    path: str
    exists: bool
    size_bytes: int
    journal_bytes: int
    namespaces: tuple[NamespaceInfo, ...]

    @property
    def n_rows(self) -> int:
        """All embeddings, in the file and pending in the journal."""
        return sum(ns.n_rows + ns.n_pending for ns in self.namespaces)

    def to_dict(self) -> dict:
        """A JSON-serialisable dictionary."""
        out = asdict(self)
        out["n_rows"] = self.n_rows
        return out

    def __str__(self) -> str:
        lines = [
            f"cache: {self.path}" + ("" if self.exists else " (not created yet)"),
            f"size on disk: {_size(self.size_bytes + self.journal_bytes)}"
            + (f" (journal {_size(self.journal_bytes)})" if self.journal_bytes else ""),
            f"namespaces: {len(self.namespaces)}, embeddings: {self.n_rows}",
        ]
        for ns in self.namespaces:
            pending = f" + {ns.n_pending} pending" if ns.n_pending else ""
            lines += [
                "",
                f"{ns.name}",
                f"  rows: {ns.n_rows}{pending} x {ns.dim} {ns.dtype}, "
                f"{_size(ns.nbytes)}",
                f"  created: {ns.created}  updated: {ns.updated}",
                "  config:",
            ]
            lines += [f"    {k}: {_value(v)}" for k, v in sorted(ns.config.items())]
            if ns.provenance:
                lines.append("  provenance:")
                lines += [
                    f"    {k}: {_value(v)}" for k, v in sorted(ns.provenance.items())
                ]
        return "\n".join(lines)


def _value(v) -> str:
    return json.dumps(v, sort_keys=True) if isinstance(v, (dict, list)) else str(v)


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"  # pragma: no cover
