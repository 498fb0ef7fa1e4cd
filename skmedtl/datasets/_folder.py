"""Image folders with one subfolder per class."""

from __future__ import annotations

import csv
import logging
import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..io._checks import find_unreadable
from ..io._errors import ImageReadError, SkippedFile, check_on_error, warn_skipped
from ..io._readers import SUPPORTED_HELP, _readers, _suffix, is_dicom_file

__all__ = ["FolderDataset", "find_images", "load_folder"]

logger = logging.getLogger(__name__)

# Operating-system files that are never images and never worth a warning.
_SYSTEM_FILES = {"thumbs.db", "desktop.ini", "icon\r"}
_FIELD_NAMES = ("paths", "labels", "class_names", "groups", "skipped", "root")


@dataclass(frozen=True, eq=False, repr=False)
class FolderDataset:
    """What :func:`load_folder` found.

    It unpacks and indexes like a tuple: ``paths, labels, class_names =
    load_folder(root)`` (and ``load_folder(root)[0]`` is ``paths``), or ``paths,
    labels, class_names, groups = load_folder(root, groups=...)``. Like a
    scikit-learn ``Bunch``, its fields are also items: ``data["labels"]``.
    ``len()`` is not defined: it would be ambiguous (fields or images); use
    ``len(data.paths)``.

    Attributes
    ----------
    paths : list of str
        The image files, class by class, sorted.
    labels : ndarray of shape (n,), int64
        Index of each file's class in ``class_names``.
    class_names : list of str
        Sorted names of the class folders that hold images.
    groups : ndarray of shape (n,) or None
        Group (patient) id of each file, when ``groups`` or ``groups_csv`` was
        given.
    skipped : tuple of SkippedFile
        Files (and empty class folders) left out with ``on_error="skip"``.
    root : str
        The folder that was read.
    """

    paths: list[str]
    labels: np.ndarray
    class_names: list[str]
    groups: np.ndarray | None = None
    skipped: tuple[SkippedFile, ...] = ()
    root: str = ""

    def _fields(self) -> tuple:
        """What unpacking and integer indexing see."""
        fields = (self.paths, self.labels, self.class_names)
        return fields if self.groups is None else (*fields, self.groups)

    def __iter__(self) -> Iterator:
        return iter(self._fields())

    def __getitem__(self, key):
        if isinstance(key, str):
            if key not in _FIELD_NAMES:
                raise KeyError(
                    f"FolderDataset has no field {key!r}; its fields are "
                    f"{', '.join(_FIELD_NAMES)}."
                )
            return getattr(self, key)
        if isinstance(key, (int, np.integer, slice)) and not isinstance(key, bool):
            fields = self._fields()
            try:
                return fields[key]
            except IndexError:
                names = ", ".join(_FIELD_NAMES[: len(fields)])
                raise IndexError(
                    f"FolderDataset index {key} out of range: as a tuple it holds "
                    f"({names}); groups only with groups= or groups_csv=."
                ) from None
        raise TypeError(
            "FolderDataset indices are integers or slices (tuple order: paths, "
            f"labels, class_names[, groups]) or field names; got "
            f"{type(key).__name__}. To select images, index .paths and .labels."
        )

    def __repr__(self) -> str:
        counts = np.bincount(self.labels, minlength=len(self.class_names))
        per_class = ", ".join(
            f"{c}: {n}" for c, n in zip(self.class_names, counts, strict=True)
        )
        groups = (
            "" if self.groups is None else (f", {len(np.unique(self.groups))} groups")
        )
        return (
            f"FolderDataset(root={self.root!r}, {len(self.paths)} images, "
            f"{len(self.class_names)} classes ({per_class}){groups}, "
            f"{len(self.skipped)} skipped)"
        )


def load_folder(
    root: str | os.PathLike,
    *,
    extensions: Sequence[str] | None = None,
    groups: str | re.Pattern | Callable[[str], str] | None = None,
    groups_csv: str | os.PathLike | None = None,
    on_error: str = "raise",
    verify: bool = True,
    n_jobs: int | None = None,
) -> FolderDataset:
    """Image paths and labels from a folder with one subfolder per class.

    ``root/<class_name>/.../<image>``: class names are the sorted subfolder
    names, labels index them, files are found recursively (so DICOM series in
    per-patient subfolders work) and sorted. Hidden files and folders (``.*``)
    and system files (``Thumbs.db``, ``desktop.ini``) are ignored.

    Parameters
    ----------
    root : str or path-like
        The folder.
    extensions : sequence of str, optional
        Keep only files with these suffixes (``[".png", ".dcm"]``); other files
        are ignored (and logged). ``None`` takes every file and treats one that
        is not in a format skmedtl reads (by suffix, or the DICOM marker for
        files without one) as a bad file: an error, or a skip record.
    groups : str, compiled pattern or callable, optional
        Group ids (e.g. patients, for ``GroupKFold``) from each file's path
        relative to ``root`` (POSIX separators, e.g. ``"PNEUMONIA/person12_
        bacteria_3.jpeg"``): a regular expression searched in it (its group
        named ``group``, else its first group, else the whole match), or a
        function of it. A file it does not match is a bad file.
    groups_csv : str or path-like, optional
        Group ids from a CSV file with columns ``path`` (relative to ``root``, or
        a bare file name when unique) and ``group``. A file missing from it is a
        bad file. Not with ``groups``.
    on_error : {"raise", "skip"}, default="raise"
        ``"raise"``: the first bad file (unreadable, truncated, not an image, no
        group) or empty class folder raises an error naming it. ``"skip"``: it is
        left out with one :class:`~skmedtl.io.SkippedImagesWarning`, and recorded
        in ``.skipped``; class folders left without images are dropped from
        ``class_names``. A missing optional dependency always raises.
    verify : bool, default=True
        Decode every image now, so that truncated or corrupt files are found
        before a long feature extraction. ``False`` only lists files (fast); bad
        files then fail when read, naming the file.
    n_jobs : int, optional
        Threads for ``verify`` (``None``: 1, ``-1``: all cores).

    Returns
    -------
    FolderDataset
        Unpacks as ``(paths, labels, class_names)``, or ``(paths, labels,
        class_names, groups)`` with ``groups`` / ``groups_csv``; also has
        ``.skipped``.

    Raises
    ------
    FileNotFoundError, NotADirectoryError
        ``root`` is missing or not a folder.
    ValueError
        No class subfolders, no images, a bad file (``on_error="raise"``), or
        bad ``groups`` / ``groups_csv``.

    See Also
    --------
    skmedtl.io.ImageLoader : Read the paths inside a Pipeline.
    skmedtl.io.check_images : The same checks for any list of paths.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from pathlib import Path
    >>> from skmedtl.datasets import load_folder
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     for cls in ("benign", "malignant"):
    ...         (Path(tmp) / cls).mkdir()
    ...         for patient in (1, 2):
    ...             np.save(Path(tmp) / cls / f"p{patient}_{cls}.npy",
    ...                     np.zeros((8, 8)))
    ...     paths, labels, class_names, groups = load_folder(tmp, groups=r"p(\\d+)_")
    >>> labels.tolist(), class_names, groups.tolist()
    ([0, 0, 1, 1], ['benign', 'malignant'], ['1', '2', '1', '2'])
    """
    check_on_error(on_error)
    root_path = Path(root)
    if not root_path.exists():
        raise FileNotFoundError(f"Image folder not found: {root_path}")
    if not root_path.is_dir():
        raise NotADirectoryError(f"{root_path} is a file, not a folder of images.")
    if groups is not None and groups_csv is not None:
        raise ValueError("Pass groups or groups_csv, not both.")
    group_of = _group_function(groups, groups_csv, root_path)
    wanted = _normalise_extensions(extensions)

    class_dirs = sorted(
        d for d in root_path.iterdir() if d.is_dir() and not d.name.startswith(".")
    )
    if not class_dirs:
        loose = [f for f in root_path.iterdir() if f.is_file()]
        plural = "s" if len(loose) != 1 else ""
        found = (
            f" It holds {len(loose)} file{plural} but no subfolders." if loose else ""
        )
        raise ValueError(
            f"{root_path} has no class subfolders: load_folder expects "
            f"root/<class_name>/<image files>.{found}"
        )

    skipped: list[SkippedFile] = []
    ignored: list[Path] = []
    rows: list[tuple[str, str, str | None]] = []  # (path, class, group)

    def bad(path, reason: str, unreadable: bool = False):
        if on_error == "raise":
            if unreadable:
                raise ImageReadError(path, reason)
            raise ValueError(f"{path}: {reason}")
        skipped.append(SkippedFile(os.fspath(path), reason))

    for class_dir in class_dirs:
        files = _files(class_dir)
        n_before = len(rows)
        for f in files:
            if wanted is not None:
                if _suffix(f) not in wanted:
                    ignored.append(f)
                    continue
            elif not _known_format(f):
                bad(f, _not_an_image(f), unreadable=True)
                continue
            group = None
            if group_of is not None:
                relative = f.relative_to(root_path).as_posix()
                group = group_of(relative)
                if group is None:
                    bad(f, f"no group id for it ({_group_help(groups, groups_csv)}).")
                    continue
            rows.append((os.fspath(f), class_dir.name, group))
        if len(rows) == n_before and not any(
            s.path.startswith(os.fspath(class_dir) + os.sep) for s in skipped
        ):
            bad(
                class_dir,
                "the class folder holds no image files. Remove it, or "
                "use on_error='skip' to drop the class.",
            )

    if ignored:
        logger.info(
            "load_folder(%s): ignored %d files whose suffix is not in extensions=%s "
            "(e.g. %s)",
            root_path,
            len(ignored),
            sorted(wanted),
            ignored[0],
        )
    if rows:
        unreadable = find_unreadable(
            [r[0] for r in rows], on_error=on_error, decode=verify, n_jobs=n_jobs
        )
        for s in unreadable:
            skipped.append(SkippedFile(s.path, s.reason))
        bad_index = {s.index for s in unreadable}
        rows = [r for i, r in enumerate(rows) if i not in bad_index]
    if not rows:
        detail = f" {len(skipped)} skipped, the first: {skipped[0]}" if skipped else ""
        raise ValueError(f"No readable images found under {root_path}.{detail}")

    class_names = sorted({r[1] for r in rows})
    for class_dir in class_dirs:
        if class_dir.name not in class_names and not any(
            s.path == os.fspath(class_dir) for s in skipped
        ):
            skipped.append(
                SkippedFile(
                    os.fspath(class_dir),
                    "no readable images left in the class folder; "
                    "the class is dropped.",
                )
            )
    index = {c: i for i, c in enumerate(class_names)}
    result = FolderDataset(
        paths=[r[0] for r in rows],
        labels=np.array([index[r[1]] for r in rows], dtype=np.int64),
        class_names=class_names,
        groups=None if group_of is None else np.array([r[2] for r in rows]),
        skipped=tuple(skipped),
        root=os.fspath(root_path),
    )
    if skipped:
        warn_skipped(skipped, len(rows) + len(skipped), f"load_folder({root_path})")
        for s in skipped:
            logger.info("Skipped %s", s)
    logger.info("%r", result)
    return result


def find_images(
    root: str | os.PathLike,
    *,
    extensions: Sequence[str] | None = None,
) -> list[str]:
    """Image files in a folder and its subfolders, sorted.

    Hidden files and folders (``.*``) and system files (``Thumbs.db``,
    ``desktop.ini``) are ignored, as in :func:`load_folder`; so is every file
    that is not in a format skmedtl reads (by suffix, or the DICOM marker for
    files without one), or, with ``extensions``, whose suffix is not listed.
    Unlike :func:`load_folder`, which refuses such files in a labelled data set,
    this only finds images (the ``skmedtl extract`` command uses it). Files are
    not decoded here (see :func:`skmedtl.io.check_images`).

    Parameters
    ----------
    root : str or path-like
        The folder.
    extensions : sequence of str, optional
        Keep only files with these suffixes (``[".png", ".dcm"]``).

    Returns
    -------
    list of str

    Raises
    ------
    FileNotFoundError, NotADirectoryError
        ``root`` is missing or not a folder.
    ValueError
        No image file under ``root``.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from pathlib import Path
    >>> from skmedtl.datasets import find_images
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     (Path(tmp) / "scans").mkdir()
    ...     np.save(Path(tmp) / "scans" / "a.npy", np.zeros((8, 8)))
    ...     _ = (Path(tmp) / "notes.txt").write_text("not an image")
    ...     found = find_images(tmp)
    ...     print([Path(f).relative_to(tmp).as_posix() for f in found])
    ['scans/a.npy']
    """
    root_path = Path(root)
    if not root_path.exists():
        raise FileNotFoundError(f"Image folder not found: {root_path}")
    if not root_path.is_dir():
        raise NotADirectoryError(f"{root_path} is a file, not a folder of images.")
    wanted = _normalise_extensions(extensions)
    found, ignored = [], []
    for f in _files(root_path):
        keep = _known_format(f) if wanted is None else _suffix(f) in wanted
        (found if keep else ignored).append(os.fspath(f))
    if ignored:
        logger.info(
            "find_images(%s): ignored %d files that are not images (e.g. %s)",
            root_path, len(ignored), ignored[0],
        )
    if not found:
        which = "" if wanted is None else f" with suffix {', '.join(sorted(wanted))}"
        raise ValueError(
            f"No image files{which} found under {root_path} ({len(ignored)} other "
            f"files). {SUPPORTED_HELP}"
        )
    return found


def _not_an_image(path: Path) -> str:
    return (
        f"not an image file (suffix {path.suffix or 'none'!r}). {SUPPORTED_HELP} "
        "Remove it, pass extensions=[...] to read only some suffixes, or "
        "on_error='skip'."
    )


def _files(class_dir: Path) -> list[Path]:
    out = []
    for f in sorted(class_dir.rglob("*")):
        relative = f.relative_to(class_dir).parts
        if any(p.startswith(".") for p in relative) or not f.is_file():
            continue
        if f.name.lower() in _SYSTEM_FILES:
            continue
        out.append(f)
    return out


def _known_format(path: Path) -> bool:
    suffix = _suffix(path)
    if any(suffix in r.suffixes for r in _readers().values()):
        return True
    return is_dicom_file(path)


def _normalise_extensions(extensions) -> set[str] | None:
    if extensions is None:
        return None
    if isinstance(extensions, str):
        extensions = [extensions]
    out = set()
    for e in extensions:
        if not isinstance(e, str) or not e.strip("."):
            raise ValueError(f"extensions must be suffixes such as '.png'; got {e!r}.")
        e = e.lower()
        out.add(e if e.startswith(".") else "." + e)
    return out


def _group_help(groups, groups_csv) -> str:
    if groups_csv is not None:
        return f"it is not listed in {os.fspath(groups_csv)}"
    if callable(groups):
        return "the groups function returned None"
    pattern = groups.pattern if isinstance(groups, re.Pattern) else groups
    return f"the pattern {pattern!r} does not match its path relative to root"


def _group_function(groups, groups_csv, root: Path):
    if groups_csv is not None:
        return _csv_groups(Path(groups_csv))
    if groups is None:
        return None
    if isinstance(groups, (str, re.Pattern)):
        try:
            pattern = re.compile(groups)
        except re.error as e:
            raise ValueError(
                f"groups={groups!r} is not a valid regular expression: {e}."
            ) from e

        def from_pattern(relative: str) -> str | None:
            match = pattern.search(relative)
            if match is None:
                return None
            if "group" in pattern.groupindex:
                return match.group("group")
            return match.group(1) if pattern.groups else match.group(0)

        return from_pattern
    if callable(groups):

        def from_function(relative: str) -> str | None:
            value = groups(relative)
            return None if value is None else str(value)

        return from_function
    raise TypeError(
        f"groups must be a regular expression (str or re.Pattern) or a function of "
        f"the relative path; got {type(groups).__name__}. For a CSV file use "
        "groups_csv=."
    )


def _csv_groups(path: Path):
    if not path.is_file():
        raise FileNotFoundError(f"groups_csv file not found: {path}")
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            fields = reader.fieldnames or []
            if not {"path", "group"} <= set(fields):
                raise ValueError(
                    f"groups_csv {path} must have columns 'path' and 'group'; it has "
                    f"{fields}."
                )
            rows = [(r["path"], r["group"]) for r in reader]
    except (UnicodeDecodeError, csv.Error) as e:
        raise ValueError(f"Cannot read groups_csv {path}: {e}") from e
    by_path: dict[str, str] = {}
    by_name: dict[str, str | None] = {}
    for file, group in rows:
        key = Path(file.strip()).as_posix().removeprefix("./")
        by_path[key] = group
        name = Path(key).name
        by_name[name] = None if name in by_name else group  # None: ambiguous

    def lookup(relative: str) -> str | None:
        if relative in by_path:
            return by_path[relative]
        return by_name.get(Path(relative).name)

    return lookup
