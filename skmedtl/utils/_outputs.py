"""The one output rule of skmedtl's commands, and the one atomic folder swap.

A command never writes over a file it did not create:

- an output that would land on an input (the image being explained, the
  ``--images`` CSV, the data set folder) is refused before any work;
- an existing output that is not the command's own (recognised by a marker the
  command writes: the study's ``study.json``, the header of ``predict``'s CSV,
  the list of maps ``explain`` keeps) needs ``--overwrite``;
- a rerun that resumes or refreshes the command's own output goes ahead.

:func:`check_output` decides this for every command. :func:`swap_directory`
puts a complete new folder in place of an old one (``skmedtl.save(...,
overwrite=True)``): the new folder is written beside the old one, the two are
exchanged in one step where the system allows it (``renameat2`` on Linux), and
the old one is removed only after the swap is on disk. Nothing is ever deleted
that this module did not create.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import os
import shutil
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path

__all__ = ["check_output", "swap_directory"]


def _same_or_inside(path: Path, other: Path) -> bool:
    path, other = path.resolve(), other.resolve()
    return path == other or other in path.parents


def check_output(
    path: str | os.PathLike,
    *,
    flag: str,
    inputs: Iterable[tuple[str, str | os.PathLike]] = (),
    is_own: Callable[[Path], bool] | None = None,
    overwrite: bool = False,
    overwrite_flag: str = "--overwrite",
) -> None:
    """Refuse an output that would destroy something the command did not write.

    Call it before any work (before a model is loaded or an image is read).

    Parameters
    ----------
    path : str or path-like
        The file or folder the command will write.
    flag : str
        How the user gave ``path`` (``"--out"``), for the messages.
    inputs : iterable of (str, path)
        The command's inputs, as ``(flag, path)``: ``path`` may be neither an
        input file nor inside an input folder.
    is_own : callable, optional
        ``is_own(path) -> bool`` for an existing ``path``: whether it is this
        command's own output (its marker is there), which a rerun may replace.
        An existing empty folder is always accepted. Without ``is_own`` every
        existing file needs ``overwrite``.
    overwrite : bool, default=False
        The user's consent to replace an existing output that is not the
        command's own.
    overwrite_flag : str, default="--overwrite"
        How the user gives ``overwrite``, for the messages.

    Raises
    ------
    ValueError
        If ``path`` is an input or inside an input folder.
    FileExistsError
        If ``path`` exists, is not the command's own output and ``overwrite``
        is False.
    """
    out = Path(path)
    for input_flag, given in inputs:
        source = Path(given)
        if not (source.exists() or source.is_symlink()):
            continue
        if _same_or_inside(out, source):
            where = "is" if out.resolve() == source.resolve() else "is inside"
            raise ValueError(
                f"{flag} {out} {where} the input given to {input_flag} ({source}): "
                "writing there would replace or mix with the input. Choose an "
                f"{flag} outside the inputs."
            )
    if not (out.exists() or out.is_symlink()) or overwrite:
        return
    if out.is_dir() and not out.is_symlink() and not any(out.iterdir()):
        return
    if is_own is not None and is_own(out):
        return
    what = "folder" if out.is_dir() else "file"
    raise FileExistsError(
        f"{flag} {out} is an existing {what} that this command did not write; it "
        f"is left untouched. Choose a new {flag}, or add {overwrite_flag} to "
        "replace what it holds."
    )


def swap_directory(new: str | os.PathLike, path: str | os.PathLike) -> None:
    """Put the finished folder ``new`` at ``path``, replacing a folder there.

    ``new`` must be a sibling of ``path`` (same file system) that the caller
    created. Where ``path`` exists, the two are exchanged atomically where the
    system supports it (Linux ``renameat2(RENAME_EXCHANGE)``), so ``path``
    always holds a complete folder; elsewhere the old folder is first renamed
    to a fresh, unique name of this function's own, then ``new`` takes its
    place. The old folder is removed only once the swap has been flushed to
    disk. No other path is touched.

    Parameters
    ----------
    new : str or path-like
        The complete new folder (written and flushed by the caller).
    path : str or path-like
        Where it goes.
    """
    new, path = Path(new), Path(path)
    if not (path.exists() or path.is_symlink()):
        os.rename(new, path)
        _fsync_folder(path.parent)
        return
    if _exchange(new, path):  # ``new`` now holds the old folder
        old = new
    else:
        old = path.with_name(f".{path.name}.old-{os.getpid()}-{uuid.uuid4().hex[:8]}")
        os.rename(path, old)  # a fresh name: it cannot be anyone else's folder
        try:
            os.rename(new, path)
        except BaseException:
            os.rename(old, path)
            raise
    _fsync_folder(path.parent)
    shutil.rmtree(old, ignore_errors=True)


def _exchange(a: Path, b: Path) -> bool:
    """Atomically exchange two paths (Linux); False where not supported."""
    if not hasattr(os, "uname") or os.uname().sysname != "Linux":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    renameat2.argtypes = [
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_uint,
    ]
    result = renameat2(
        at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange
    )
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), os.fspath(b))


def _fsync_folder(folder: Path) -> None:
    if os.name != "posix":  # pragma: no cover
        return
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
