"""The study's output folder: which folders it may write, and its lock.

The rule of every skmedtl command (:func:`skmedtl.utils._outputs.check_output`)
applied to a study's ``out_dir``, the same from Python
(:meth:`TransferStudy.run`, :meth:`TransferStudy.report`) and from
``skmedtl study`` / ``skmedtl demo``:

- ``out_dir`` is a folder, neither a file nor a saved model's folder;
- it is not the data set's folder nor inside it (a rerun would read the
  study's own ``figures/`` as a class);
- an existing ``out_dir`` holding files but no study (none of the markers
  ``study.json``, ``results.jsonl``, ``.study.lock``) is refused unless
  ``overwrite`` (``--overwrite``); a study's own folder is resumed.

Messages name the parameters as the caller spells them (:class:`OutDirNames`).
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

from ..utils._outputs import check_output

__all__ = [
    "LIBRARY_NAMES",
    "STUDY_MARKERS",
    "OutDirNames",
    "check_out_dir",
    "is_study_folder",
    "study_lock",
]

#: Files that make a folder a study's own (the manifest, the log, the lock).
STUDY_MARKERS = ("study.json", "results.jsonl", ".study.lock")
#: The lock a running study holds in its ``out_dir``.
LOCK_NAME = ".study.lock"


@dataclass(frozen=True)
class OutDirNames:
    """How the caller names the output folder, the data set, the cache, consent."""

    out: str
    dataset: str
    cache: str
    overwrite: str


#: The names of :class:`~skmedtl.study.TransferStudy`'s parameters.
LIBRARY_NAMES = OutDirNames("out_dir", "dataset", "cache_path", "overwrite=True")


def is_study_folder(path: Path) -> bool:
    """Whether ``path`` holds a study's output (one of :data:`STUDY_MARKERS`)."""
    return any((Path(path) / name).is_file() for name in STUDY_MARKERS)


def check_out_dir(
    out: str | os.PathLike,
    dataset=None,
    *,
    cache: str | os.PathLike | None = None,
    overwrite: bool = False,
    names: OutDirNames = LIBRARY_NAMES,
) -> None:
    """Refuse an output folder a study must not write, before any data is read.

    Parameters
    ----------
    out : str or path-like
        The study's output folder.
    dataset : str, path-like or object, optional
        The data set as given; only a path that exists is checked against.
    cache : str or path-like, optional
        The embedding cache, which must not be inside a data set folder either.
    overwrite : bool, default=False
        Consent to write into an existing folder that holds no study.
    names : OutDirNames
        The parameters' names in the messages (flags on the command line).

    Raises
    ------
    FileExistsError
        ``out`` is a file, a saved model's folder, or a folder with files but no
        study (without ``overwrite``).
    ValueError
        ``out`` (or ``cache``) is the data set's folder or inside it.
    """
    out_path = Path(out)
    if out_path.exists() and not out_path.is_dir():
        raise FileExistsError(
            f"{names.out} {out_path} is a file; give a folder for the report (it is "
            "created if missing)."
        )
    data = Path(dataset) if isinstance(dataset, (str, os.PathLike)) else None
    if data is not None and data.is_dir():
        for name, path in ((names.out, out_path), (names.cache, cache)):
            if path is not None and _inside(Path(path), data):
                raise ValueError(
                    f"{name} {path} is inside the {names.dataset} folder {data}: the "
                    "next run would read the study's own files as images (figures/ as "
                    f"a class). Put {name} outside the data, e.g. {name} "
                    f"{_outside_example(data, Path(path))}."
                )
    if (out_path / "manifest.json").is_file():
        raise FileExistsError(
            f"{names.out} {out_path} is a saved model folder; writing a study into it "
            f"would break the model. Choose another {names.out}."
        )
    check_output(
        out_path,
        flag=names.out,
        is_own=is_study_folder,
        inputs=[(names.dataset, data)] if data is not None else [],
        overwrite=overwrite,
        overwrite_flag=names.overwrite,
    )


def _inside(path: Path, folder: Path) -> bool:
    """Whether ``path`` is ``folder`` or inside it (links resolved)."""
    path, folder = path.resolve(), folder.resolve()
    return path == folder or folder in path.parents


def _outside_example(data: Path, path: Path) -> str:
    data, path = data.resolve(), path.resolve()
    name = "study" if path == data else path.name
    return os.fspath(data.parent / f"{data.name}-{name}")


@contextlib.contextmanager
def study_lock(out: Path):
    """Hold ``out/.study.lock`` while a study writes ``out`` (one study at a time)."""
    import filelock

    lock = filelock.FileLock(os.fspath(out / LOCK_NAME))
    try:
        lock.acquire(timeout=0)
    except filelock.Timeout as e:
        raise RuntimeError(
            f"Another study is running in {out} (lock {lock.lock_file}); wait "
            "for it, or use another out_dir."
        ) from e
    try:
        yield lock
    finally:
        lock.release()
