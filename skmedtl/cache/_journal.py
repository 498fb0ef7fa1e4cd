"""The append-only journal (write-ahead log) next to the HDF5 file.

Format (little endian)::

    file header   16 bytes  b"SKMEDTL-JOURNAL1"
                  16 bytes  random id of this journal file
    record        16 bytes  b"SKJR", header length (u32), payload length (u64)
                  header    JSON: namespace name, fingerprint, configuration,
                            dtype, dim, number of rows
                  payload   keys (n x 32 ASCII bytes), then rows (n x dim values)
                  16 bytes  BLAKE2b digest of everything above in the record

A record counts only when it is complete and its digest matches, so a record
torn by a killed process is never read: scanning stops there, and a writer that
holds the lock cuts the torn bytes off before appending.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import struct
from dataclasses import dataclass, field

import numpy as np

from ..utils._files import atomic_path
from ._keys import KEY_LENGTH

logger = logging.getLogger(__name__)

FILE_MAGIC = b"SKMEDTL-JOURNAL1"
FILE_HEADER_SIZE = 32
_RECORD_MAGIC = b"SKJR"
_PREFIX = struct.Struct("<4sIQ")
_DIGEST_SIZE = 16
_MAX_HEADER = 1 << 20


def _digest(*parts: bytes) -> bytes:
    h = hashlib.blake2b(digest_size=_DIGEST_SIZE, person=b"skmedtl.journal")
    for p in parts:
        h.update(p)
    return h.digest()


def encode_record(meta: dict, keys: list[bytes], rows: np.ndarray) -> bytes:
    """One journal record holding ``rows`` (n, dim) under ``keys``."""
    header = json.dumps(
        {**meta, "n": len(keys), "dim": int(rows.shape[1]), "dtype": rows.dtype.str},
        sort_keys=True,
    ).encode()
    payload = b"".join(keys) + np.ascontiguousarray(rows).tobytes()
    prefix = _PREFIX.pack(_RECORD_MAGIC, len(header), len(payload))
    return prefix + header + payload + _digest(prefix, header, payload)


@dataclass
class JournalRecord:
    """A decoded record: its metadata, keys (bytes) and rows."""

    meta: dict
    keys: list[bytes]
    rows: np.ndarray


def decode_records(data: memoryview) -> tuple[list[JournalRecord], int]:
    """Complete, verified records at the start of ``data`` and the bytes they span."""
    records, pos = [], 0
    while True:
        record, size = _decode_one(data, pos)
        if record is None:
            return records, pos
        records.append(record)
        pos += size


def _decode_one(data: memoryview, pos: int) -> tuple[JournalRecord | None, int]:
    end = len(data)
    if end - pos < _PREFIX.size:
        return None, 0
    magic, header_len, payload_len = _PREFIX.unpack_from(data, pos)
    if magic != _RECORD_MAGIC or header_len > _MAX_HEADER:
        return None, 0
    size = _PREFIX.size + header_len + payload_len + _DIGEST_SIZE
    if end - pos < size:
        return None, 0
    h0 = pos + _PREFIX.size
    p0 = h0 + header_len
    d0 = p0 + payload_len
    prefix, header, payload = data[pos:h0], data[h0:p0], data[p0:d0]
    if _digest(prefix, header, payload) != bytes(data[d0 : d0 + _DIGEST_SIZE]):
        return None, 0
    try:
        meta = json.loads(bytes(header))
        n, dim, dtype = int(meta["n"]), int(meta["dim"]), np.dtype(meta["dtype"])
        keys_end = n * KEY_LENGTH
        if payload_len != keys_end + n * dim * dtype.itemsize:
            return None, 0
        keys_blob = bytes(payload[:keys_end])
        keys = [keys_blob[i : i + KEY_LENGTH] for i in range(0, keys_end, KEY_LENGTH)]
        rows = np.frombuffer(payload[keys_end:], dtype=dtype).reshape(n, dim).copy()
    except (KeyError, ValueError, TypeError):
        return None, 0
    return JournalRecord(meta, keys, rows), size


@dataclass
class JournalState:
    """What one process has read of the journal so far."""

    file_id: bytes | None = None
    offset: int = 0
    rows: dict[str, dict[bytes, np.ndarray]] = field(default_factory=dict)
    meta: dict[str, dict] = field(default_factory=dict)
    n_bytes: int = 0

    def add(self, record: JournalRecord) -> None:
        name = record.meta["namespace"]
        self.meta.setdefault(name, record.meta)
        bucket = self.rows.setdefault(name, {})
        for key, row in zip(record.keys, record.rows, strict=True):
            bucket.setdefault(key, row)

    @property
    def n_rows(self) -> int:
        return sum(len(b) for b in self.rows.values())


def scan(path: str, state: JournalState, *, repair: bool) -> JournalState:
    """Bring ``state`` up to date with the journal at ``path``.

    Only new bytes are read. With ``repair`` (the caller holds the lock, so no
    writer is active) a torn tail is cut off and an unreadable file is removed.
    """
    try:
        f = open(path, "r+b" if repair else "rb")
    except FileNotFoundError:
        return JournalState()
    with f:
        head = f.read(FILE_HEADER_SIZE)
        if len(head) < FILE_HEADER_SIZE or not head.startswith(FILE_MAGIC):
            size = os.fstat(f.fileno()).st_size
            if repair:
                _discard(path, size)
            return JournalState()
        file_id = head[len(FILE_MAGIC) :]
        if file_id != state.file_id:
            state = JournalState(file_id=file_id, offset=FILE_HEADER_SIZE)
        f.seek(state.offset)
        data = f.read()
        records, used = decode_records(memoryview(data))
        for record in records:
            state.add(record)
        state.offset += used
        state.n_bytes = state.offset
        if used < len(data):
            if repair:
                logger.warning(
                    "Discarding %d bytes of an incomplete record at the end of %s "
                    "(left by an interrupted process); those embeddings will be "
                    "computed again.",
                    len(data) - used,
                    path,
                )
                f.truncate(state.offset)
            else:
                logger.debug("Incomplete record at the end of %s ignored", path)
    return state


def _discard(path: str, size: int) -> None:
    if size > FILE_HEADER_SIZE:
        logger.warning("Removing %s: its header is unreadable.", path)
    os.unlink(path)


def create(path: str) -> bytes:
    """Create an empty journal at ``path`` atomically; return its id."""
    file_id = os.urandom(FILE_HEADER_SIZE - len(FILE_MAGIC))
    with atomic_path(path, fsync=True, suffix=".new") as tmp:
        with open(tmp, "wb") as f:
            f.write(FILE_MAGIC + file_id)
    return file_id


def append(path: str, record: bytes) -> None:
    """Append one record (the caller holds the lock and has scanned to the end)."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    try:
        view = memoryview(record)
        while view:
            written = os.write(fd, view)
            view = view[written:]
    finally:
        os.close(fd)
