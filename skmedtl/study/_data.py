"""The data set of a study: images, labels, optional patient groups, splits."""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import logging
import os
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..utils._naming import did_you_mean
from ._splits import SPLIT_ALIASES, SPLITS, resolve_split
from ._task import Task

__all__ = ["BUNDLED", "StudyDataset", "load_study_dataset"]

logger = logging.getLogger(__name__)


def _bundled_breastmnist() -> StudyDataset:
    from ..datasets import load_breastmnist

    parts = [load_breastmnist(s) for s in SPLITS]
    return StudyDataset.from_arrays(
        np.concatenate([p[0] for p in parts]),
        np.concatenate([p[1] for p in parts]),
        split=np.repeat(SPLITS, [len(p[1]) for p in parts]),
        class_names=["malignant", "normal or benign"],
        pos_label=0,
        source="breastmnist (bundled; MedMNIST v2, CC BY 4.0; from BUSI)",
    )


#: Data sets that ship with skmedtl, by name.
BUNDLED: dict[str, Callable[[], StudyDataset]] = {"breastmnist": _bundled_breastmnist}


@dataclass(eq=False)
class StudyDataset:
    """Images, labels and splits of a study.

    Build one with :func:`load_study_dataset` (folder, MedMNIST npz, CSV, bundled
    name) or :meth:`from_arrays`.

    Attributes
    ----------
    images : ndarray or list
        All images: an array ``(n, h, w[, c])`` or a list of paths / arrays.
    labels : ndarray of shape (n,)
        Class labels (any type ``numpy.unique`` sorts).
    split : ndarray of shape (n,)
        ``"train"``, ``"val"`` or ``"test"`` for each image.
    groups : ndarray of shape (n,) or None
        Patient ids; no patient is on two sides of a split.
    class_names : list of str
        Display names of the sorted classes.
    source : str
        Where the data came from.
    test_protocol : str
        How the test set was chosen.
    pos_label : label or None
        The positive class of a binary problem (sensitivity is measured on
        it); ``None`` for more than two classes.
    grades : tuple or None
        Ordinal studies: the classes as grades, lowest first
        (:meth:`with_grades`); ``None``: not ordered.
    """

    images: object
    labels: np.ndarray
    split: np.ndarray
    groups: np.ndarray | None = None
    class_names: list[str] = field(default_factory=list)
    source: str = ""
    test_protocol: str = "the data set's own test split"
    pos_label: object = None
    grades: tuple | None = None

    @classmethod
    def from_arrays(
        cls,
        images,
        labels,
        *,
        groups=None,
        split=None,
        class_names=None,
        pos_label=None,
        source: str = "arrays",
        test_size: float = 0.2,
        random_state=0,
    ) -> StudyDataset:
        """A data set from images and labels in memory (or a list of paths).

        Parameters
        ----------
        images : ndarray or list
        labels : array-like of shape (n,) or (n, n_labels)
            One class per image, or a multi-label 0/1 matrix (one column per
            label; the :class:`~skmedtl.study._task.Task` says which).
        groups : array-like of shape (n,), optional
            Patient ids.
        split : array-like of shape (n,), optional
            ``"train"`` / ``"val"`` / ``"test"`` per image. Without a ``"test"``
            split, a stratified (patient-level with ``groups``) hold-out of
            ``test_size`` becomes the test set.
        class_names : list of str, optional
            Display names of the sorted classes (multi-label: of the columns).
        pos_label : label, optional
            Positive class of a binary problem (default: the second sorted
            class).
        source : str
        test_size : float, default=0.2
        random_state : int, default=0
            Seeds the hold-out split.

        Examples
        --------
        >>> import numpy as np
        >>> data = StudyDataset.from_arrays(np.zeros((10, 8, 8), np.uint8),
        ...                                 [0, 1] * 5, random_state=0)
        >>> data.n_images("test"), data.has_validation
        (2, False)
        """
        labels = np.asarray(labels)
        n = len(images)
        per_label = Task.of_labels(labels).per_label and labels.shape[1] > 1
        if per_label:  # a 0/1 matrix, one column per label (study/_per_label.py)
            from ._per_label import check_label_matrix

            labels = check_label_matrix(labels, pos_label)
        elif labels.ndim != 1:
            raise ValueError(
                f"labels must be one label per image, shape (n,); got shape "
                f"{labels.shape}. Multi-label studies are not supported."
            )
        if len(labels) != n:
            rows = "label rows" if per_label else "labels"
            raise ValueError(f"{n} images but {len(labels)} {rows}.")
        classes = None if per_label else _check_classes(labels, source)
        _check_not_volumes(images)
        if groups is not None:
            groups = np.asarray(groups)
        split, protocol = resolve_split(
            labels,
            split=split,
            groups=groups,
            test_size=test_size,
            random_state=random_state,
        )
        if per_label:
            from ._per_label import check_label_coverage

            names = _check_names(class_names, labels.shape[1], "labels")
            class_names = [str(c) for c in names]
            check_label_coverage(labels, split, class_names)
        else:
            for part in ("train", "test"):
                missing = set(classes) - set(labels[split == part])
                if missing:
                    raise ValueError(
                        f"The {part} split has no image of class "
                        f"{sorted(missing)[0]!r}; every class needs images in "
                        "training and test."
                    )
            class_names = _check_names(class_names, classes, "classes")
            pos_label = _resolve_pos_label(pos_label, classes, class_names)
        return cls(
            images=images,
            labels=labels,
            split=split.astype(str),
            groups=groups,
            class_names=list(class_names),
            source=source,
            test_protocol=protocol,
            pos_label=pos_label,
        )

    # -- views ----------------------------------------------------------------------
    @property
    def has_validation(self) -> bool:
        """Whether the data set has its own validation split."""
        return bool((self.split == "val").any())

    def indices(self, *parts: str) -> np.ndarray:
        """Indices of the images in the given splits."""
        return np.flatnonzero(np.isin(self.split, parts))

    def n_images(self, *parts: str) -> int:
        """Number of images in the given splits (all by default)."""
        return len(self.labels) if not parts else len(self.indices(*parts))

    def take(self, index: np.ndarray):
        """Images at ``index`` (an array slice, or a list)."""
        if isinstance(self.images, np.ndarray):
            return self.images[index]
        return [self.images[i] for i in index]

    def summary(self) -> dict:
        """Counts per split and class (JSON-serialisable)."""
        if self.task.per_label:  # positives per label
            from ._per_label import per_label_summary

            return per_label_summary(self)
        classes = np.unique(self.labels)
        counts = {
            part: {
                name: int(((self.split == part) & (self.labels == c)).sum())
                for c, name in zip(classes, self.class_names, strict=False)
            }
            for part in SPLITS
        }
        return {
            "source": self.source,
            "n_images": int(len(self.labels)),
            "classes": list(self.class_names),
            "counts": counts,
            "positive_class": None
            if self.pos_label is None
            else self.class_name(self.pos_label),
            "groups": None if self.groups is None else len(np.unique(self.groups)),
            "test_protocol": self.test_protocol,
            "validation": "the data set's own validation split"
            if self.has_validation
            else "held out from training (inner CV for hybrid heads)",
        }

    def with_pos_label(self, pos_label) -> StudyDataset:
        """The same data set with another positive class (a label or its name)."""
        if pos_label is None:
            return self
        classes = np.unique(self.labels)
        resolved = _resolve_pos_label(pos_label, classes, self.class_names)
        return dataclasses.replace(self, pos_label=resolved)

    def class_name(self, label) -> str:
        """Display name of a class label."""
        classes = np.unique(self.labels).tolist()
        return self.class_names[classes.index(label)]

    def with_grades(self, grades) -> StudyDataset:
        """The same data set with its classes ordered as grades, lowest first.

        ``grades`` lists every class once (labels or class names, or one
        comma-separated string).
        """
        if grades is None:
            return self
        if isinstance(grades, str):
            grades = [g.strip() for g in grades.split(",") if g.strip()]
        classes = np.unique(self.labels).tolist()
        names = [str(v) for v in classes]
        order = []
        for grade in grades:
            found = [
                v
                for v, name in zip(classes, self.class_names, strict=True)
                if grade == v or str(grade) in (str(v), name)
            ]
            if not found:
                raise ValueError(
                    f"grades: {grade!r} is not a class; the classes are {names} "
                    f"({', '.join(self.class_names)})."
                    f"{did_you_mean(str(grade), names + list(self.class_names))}"
                )
            order.append(found[0])
        if sorted(map(str, order)) != sorted(names) or len(order) != len(classes):
            raise ValueError(
                f"grades must name every class once, lowest first; got "
                f"{list(grades)!r} for the classes {names} "
                f"({', '.join(self.class_names)})."
            )
        return dataclasses.replace(self, grades=tuple(order))

    @property
    def task(self) -> Task:
        """The study's :class:`~skmedtl.study._task.Task`, from labels and grades."""
        return Task.of_labels(self.labels, self.grades)

    def label_order(self) -> list:
        """Classes in score-column order; for two classes the positive one last.

        Ordinal studies with :attr:`grades`: the grades, lowest first.
        """
        if self.grades is not None:
            return list(self.grades)
        classes = np.unique(self.labels).tolist()
        if self.pos_label is not None:
            classes.remove(self.pos_label)
            classes.append(self.pos_label)
        return classes

    def fingerprint(self) -> str:
        """A digest of images, labels, groups and splits (what results depend on)."""
        h = hashlib.sha256()
        if isinstance(self.images, np.ndarray):
            h.update(str((self.images.shape, self.images.dtype.str)).encode())
            h.update(np.ascontiguousarray(self.images).tobytes())
        else:
            for item in self.images:
                if isinstance(item, np.ndarray):
                    h.update(str((item.shape, item.dtype.str)).encode())
                    h.update(np.ascontiguousarray(item).tobytes())
                else:
                    st = os.stat(item)
                    h.update(
                        f"{os.fspath(item)}|{st.st_size}|{st.st_mtime_ns}".encode()
                    )
        h.update(repr(self.labels.tolist()).encode())
        h.update(repr(self.split.tolist()).encode())
        if self.groups is not None:
            h.update(repr(self.groups.tolist()).encode())
        return h.hexdigest()[:16]


def _check_classes(labels: np.ndarray, source: str) -> np.ndarray:
    """The sorted classes of one-class-per-image labels (at least two)."""
    classes = np.unique(labels)
    if len(classes) < 2:
        found = "no image"
        if len(classes):
            found = f"one class only ({classes.tolist()[0]!r})"
        raise ValueError(
            f"{source} has {found}; a study needs images of at least two "
            "classes (for a folder: one subfolder per class)."
        )
    return classes


def _check_not_volumes(images) -> None:
    if (
        isinstance(images, np.ndarray)
        and images.ndim == 4
        and (images.shape[-1] not in (1, 3, 4) and images.shape[1] not in (1, 3, 4))
    ):
        raise ValueError(
            f"images have shape {images.shape}, which looks like 3-D volumes. "
            "A study classifies 2-D images: cut volumes into slices with "
            "skmedtl.io.volume_to_slices, or use skmedtl.VolumeFeatures."
        )


def _check_names(class_names, classes, what: str) -> list[str]:
    """Display names: given, or the classes (label numbers) as strings."""
    k = classes if isinstance(classes, int) else len(classes)
    if class_names is None:
        values = range(k) if isinstance(classes, int) else classes
        class_names = [str(c) for c in values]
    if len(class_names) != k:
        raise ValueError(f"class_names has {len(class_names)} names for {k} {what}.")
    return list(class_names)


def _resolve_pos_label(pos_label, classes: np.ndarray, class_names: list[str]):
    """The class (as a Python scalar) that ``pos_label`` names, or None."""
    values = classes.tolist()
    if len(values) != 2:
        if pos_label is not None:
            raise ValueError(
                f"pos_label applies to two-class problems; this one has "
                f"{len(values)} classes."
            )
        return None
    if pos_label is None:
        return values[1]
    for value, name in zip(values, class_names, strict=True):
        if pos_label == value or str(pos_label) in (str(value), name):
            return value
    names = [str(v) for v in values] + list(class_names)
    raise ValueError(
        f"pos_label {pos_label!r} is not a class; the classes are "
        f"{[str(v) for v in values]} ({', '.join(class_names)})."
        f"{did_you_mean(str(pos_label), names)}"
    )


def load_study_dataset(
    dataset,
    *,
    groups=None,
    groups_csv=None,
    test_size: float = 0.2,
    random_state=0,
    extensions=None,
    on_error: str = "raise",
) -> StudyDataset:
    """Resolve a study's ``dataset`` argument.

    Parameters
    ----------
    dataset : str, path-like or StudyDataset
        - a bundled data set name (``"breastmnist"``);
        - a MedMNIST ``.npz`` file (its train / val / test splits; multi-label
          files such as ChestMNIST give a multi-label study);
        - a ``.csv`` file with columns ``path`` and ``label``, optionally
          ``group`` (patient id) and ``split`` (train / val / test); relative
          paths are relative to the CSV file. Multi-label data: no ``label``
          column but one 0/1 column per finding (every column other than
          ``path``, ``group`` and ``split``);
        - a folder with one subfolder per class (:func:`skmedtl.load_folder`),
          or with ``train/``, ``test/`` (and ``val/``) folders that each hold
          one subfolder per class.
    groups : str, optional
        For folders: a regular expression that finds the patient id in each
        file's path (see :func:`skmedtl.load_folder`).
    groups_csv : path, optional
        For folders: a CSV file with columns ``path`` and ``group``.
    test_size : float, default=0.2
        Hold-out share when the data set has no test split.
    random_state : int, default=0
        Seeds that hold-out split.
    extensions : sequence of str, optional
        For folders: read only files with these suffixes (see
        :func:`skmedtl.load_folder`).
    on_error : {"raise", "skip"}, default="raise"
        For folders: a bad file raises, or is left out with a warning.

    Returns
    -------
    StudyDataset

    Examples
    --------
    >>> data = load_study_dataset("breastmnist")
    >>> data.n_images("train"), data.n_images("val"), data.n_images("test")
    (546, 78, 156)
    """
    if isinstance(dataset, StudyDataset):
        return dataset
    if not isinstance(dataset, (str, os.PathLike)):
        raise TypeError(
            "dataset must be a bundled name, a folder, a .npz or .csv file, or a "
            f"StudyDataset; got {type(dataset).__name__}."
        )
    folder_only = (
        groups is not None
        or groups_csv is not None
        or extensions is not None
        or on_error != "raise"
    )
    folder_options = dict(
        groups=groups, groups_csv=groups_csv, extensions=extensions, on_error=on_error
    )
    name = os.fspath(dataset)
    if name.lower() in BUNDLED and not os.path.exists(name):
        if folder_only:
            raise ValueError(
                "groups / groups_csv / extensions / on_error apply to folder data "
                "sets only."
            )
        return BUNDLED[name.lower()]()
    path = Path(name)
    if not path.exists():
        hint = did_you_mean(name.lower(), BUNDLED)
        raise FileNotFoundError(
            f"Data set {name!r} not found: it is neither a file, a folder, nor a "
            f"bundled data set ({', '.join(BUNDLED)}).{hint}"
        )
    common = dict(test_size=test_size, random_state=random_state)
    if path.is_dir():
        return _from_folder(path, folder_options, **common)
    if folder_only:
        raise ValueError(
            "groups / groups_csv / extensions / on_error apply to folder data sets; "
            "a CSV data set takes a 'group' column."
        )
    suffix = path.suffix.lower()
    if suffix == ".npz":
        return _from_npz(path, **common)
    if suffix == ".csv":
        return _from_csv(path, **common)
    raise ValueError(
        f"Cannot use {path} as a data set: give a folder, a MedMNIST .npz file, a "
        f".csv file (columns path, label[, group, split]) or a bundled name "
        f"({', '.join(BUNDLED)})."
    )


def _from_npz(path: Path, **common) -> StudyDataset:
    from ..datasets import load_medmnist

    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, EOFError, ValueError, zipfile.BadZipFile) as e:
        raise ValueError(
            f"Cannot read {path} as a MedMNIST .npz file ({e}). Is it complete? "
            "Download it again, or give a folder or a .csv data set."
        ) from e
    if not isinstance(data, np.lib.npyio.NpzFile):  # a .npy array named .npz
        raise ValueError(
            f"{path} holds a single array, not a MedMNIST .npz file with "
            "'train_images' / 'train_labels' arrays."
        )
    with data:
        present = [s for s in SPLITS if f"{s}_images" in data.files]
    if "train" not in present:
        raise ValueError(
            f"{path} is not a MedMNIST file: it has no 'train_images' / "
            "'train_labels' arrays."
        )
    parts = {s: load_medmnist(path, s) for s in present}
    images = np.concatenate([parts[s][0] for s in present])
    labels = np.concatenate([parts[s][1] for s in present])
    split = np.repeat(present, [len(parts[s][1]) for s in present])
    names = None
    if Task.of_labels(labels).per_label:  # ChestMNIST layout
        from ..datasets._medmnist import medmnist_label_names

        names = medmnist_label_names(path, labels.shape[1])
    return StudyDataset.from_arrays(
        images,
        labels,
        split=split,
        class_names=names,
        source=f"MedMNIST file {path}",
        **common,
    )


def _from_csv(path: Path, **common) -> StudyDataset:
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        fields = [c.strip().lower() for c in reader.fieldnames or []]
        rows, lines = [], []  # lines: the file's own line numbers (blank lines count)
        for r in reader:
            rows.append(
                {k.strip().lower(): (v or "").strip() for k, v in r.items() if k}
            )
            lines.append(reader.line_num)
    label_columns = [c for c in fields if c not in ("path", "group", "split")]
    per_label = "label" not in fields and "path" in fields and len(label_columns) > 1
    for needed in ("path",) if per_label else ("path", "label"):
        if needed not in fields:
            raise ValueError(
                f"{path} needs a {needed!r} column (columns: path, label, and "
                f"optionally group, split); it has {fields}."
            )
    if not rows:
        raise ValueError(f"{path} lists no images.")
    paths = []
    for i, row in zip(lines, rows, strict=True):
        for column in ("path",) if per_label else ("path", "label"):
            if not row[column]:
                raise ValueError(
                    f"{path}, line {i}: the {column} is empty. Give every image a "
                    f"{column}, or delete the line."
                )
        p = Path(row["path"])
        p = p if p.is_absolute() else path.parent / p
        if not p.is_file():
            raise FileNotFoundError(f"{path}, line {i}: image file not found: {p}")
        paths.append(os.fspath(p))
    if per_label:  # one 0/1 column per label (several findings per image)
        from ._per_label import csv_label_matrix

        labels = csv_label_matrix(path, rows, label_columns)
    else:
        labels = np.array([r["label"] for r in rows])
    groups = np.array([r["group"] for r in rows]) if "group" in fields else None
    split = [r["split"] or "train" for r in rows] if "split" in fields else None
    return StudyDataset.from_arrays(
        paths,
        labels,
        groups=groups,
        split=split,
        class_names=label_columns if per_label else None,
        source=f"CSV file {path}",
        **common,
    )


def _from_folder(path: Path, folder_options: dict, **common) -> StudyDataset:
    from ..datasets import load_folder

    subdirs = {d.name.lower(): d for d in path.iterdir() if d.is_dir()}
    split_dirs = {
        SPLIT_ALIASES.get(k, k): d
        for k, d in subdirs.items()
        if SPLIT_ALIASES.get(k, k) in SPLITS
    }
    if {"train", "test"} <= set(split_dirs):
        paths, labels, split, group_ids = [], [], [], []
        for part in SPLITS:
            if part not in split_dirs:
                continue
            found = load_folder(split_dirs[part], **folder_options)
            paths += found.paths
            labels += [found.class_names[k] for k in found.labels]
            split += [part] * len(found.paths)
            if found.groups is not None:
                group_ids += found.groups.tolist()
        from ._per_label import check_folder_single_label

        check_folder_single_label(paths, labels, path)
        return StudyDataset.from_arrays(
            paths,
            np.array(labels),
            split=split,
            groups=np.array(group_ids) if group_ids else None,
            source=f"folder {path} (train/test subfolders)",
            **common,
        )
    found = load_folder(path, **folder_options)
    labels = np.array([found.class_names[k] for k in found.labels])
    from ._per_label import check_folder_single_label

    check_folder_single_label(found.paths, labels, path)
    return StudyDataset.from_arrays(
        found.paths, labels, groups=found.groups, source=f"folder {path}", **common
    )
