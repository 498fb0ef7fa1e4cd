"""The one atomic file write of skmedtl: a temporary file, then ``os.replace``.

Readers see the old file or the new one, never a half-written one; a crash
leaves at most an orphan temporary beside the file (named ``PATH<suffix>-*``,
so its owner can find and remove orphans).
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator

__all__ = ["atomic_path", "atomic_write_text", "fsync_path"]


@contextlib.contextmanager
def atomic_path(
    path: str | os.PathLike, *, fsync: bool = False, suffix: str = ".tmp"
) -> Iterator[str]:
    """Yield a temporary path beside ``path``; on success it replaces ``path``.

    Write the new content to the yielded path (any way: a library that wants a
    file name, an ``open``). When the block ends without an error the temporary
    file atomically replaces ``path``; on any error (``KeyboardInterrupt``
    included) it is removed and ``path`` is untouched.

    Parameters
    ----------
    path : str or path-like
        The file to write.
    fsync : bool, default=False
        Flush the temporary file and then the folder to disk, so that the new
        content survives a power cut once the block returns (caches, journals).
    suffix : str, default=".tmp"
        The temporary file is ``PATH<suffix>-<pid>-<random>``.

    Examples
    --------
    >>> import tempfile, os
    >>> from skmedtl.utils._files import atomic_path
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     target = os.path.join(tmp, "report.txt")
    ...     with atomic_path(target) as part:
    ...         with open(part, "w") as f:
    ...             _ = f.write("done")
    ...     print(open(target).read(), os.listdir(tmp))
    done ['report.txt']
    """
    path = os.fspath(path)
    tmp = f"{path}{suffix}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        yield tmp
        if fsync:
            fsync_path(tmp)
        os.replace(tmp, path)
        if fsync:
            fsync_path(os.path.dirname(os.path.abspath(path)), directory=True)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def atomic_write_text(
    path: str | os.PathLike, text: str, *, fsync: bool = False, newline=None
) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically (see :func:`atomic_path`)."""
    with atomic_path(path, fsync=fsync) as tmp:
        with open(tmp, "w", encoding="utf-8", newline=newline) as f:
            f.write(text)


def fsync_path(path: str | os.PathLike, *, directory: bool = False) -> None:
    """``fsync`` a file (or, with ``directory=True``, a folder on POSIX)."""
    if directory and os.name != "posix":  # pragma: no cover
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
