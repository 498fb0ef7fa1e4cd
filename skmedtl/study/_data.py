"""The data set of a study: images, labels, optional patient groups, splits.

:class:`StudyDataset` holds them, checked (:mod:`._data_checks`) and split
(:mod:`._splits`); :func:`load_study_dataset` resolves a study's ``dataset``
argument through the readers of :mod:`._readers`.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..utils._naming import did_you_mean
from . import _readers
from ._data_checks import (
    check_class_coverage,
    check_classes,
    check_label_coverage,
    check_label_matrix,
    check_names,
    check_not_volumes,
    resolve_pos_label,
)
from ._splits import SPLITS, resolve_split
from ._task import Task

__all__ = ["BUNDLED", "StudyDataset", "load_study_dataset"]

logger = logging.getLogger(__name__)

#: Images sized to describe a data set's image size (evenly spaced).
SIZE_SAMPLE = 32


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
        if per_label:  # a 0/1 matrix, one column per label
            labels = check_label_matrix(labels, pos_label)
        elif labels.ndim != 1:
            raise ValueError(
                f"labels must be one label per image, shape (n,); got shape "
                f"{labels.shape}. Multi-label studies are not supported."
            )
        if len(labels) != n:
            rows = "label rows" if per_label else "labels"
            raise ValueError(f"{n} images but {len(labels)} {rows}.")
        classes = None if per_label else check_classes(labels, source)
        check_not_volumes(images)
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
            class_names = check_names(class_names, labels.shape[1], "labels")
            class_names = [str(c) for c in class_names]
            check_label_coverage(labels, split, class_names)
        else:
            check_class_coverage(labels, split, classes)
            class_names = check_names(class_names, classes, "classes")
            pos_label = resolve_pos_label(pos_label, classes, class_names)
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

    @functools.cached_property
    def image_size(self) -> dict | None:
        """The images' median ``[height, width]`` (of up to :data:`SIZE_SAMPLE`
        evenly spaced ones, sized from their headers where the format allows),
        and how many were sized; ``None`` when none could be."""
        from ..io._readers import image_size

        if isinstance(self.images, np.ndarray):
            return {
                "median": [int(v) for v in self.images.shape[1:3]],
                "n_sampled": len(self.images),
            }
        picks = np.unique(np.linspace(0, len(self.images) - 1, SIZE_SAMPLE).astype(int))
        sizes = []
        for i in picks:
            item = self.images[i]
            try:
                size = (
                    item.shape[:2] if isinstance(item, np.ndarray) else image_size(item)
                )
            except (OSError, ValueError, ImportError):  # reported where it is read
                size = None
            if size is not None:
                sizes.append(size)
        if not sizes:
            return None
        median = np.median(np.asarray(sizes), axis=0)
        return {"median": [int(round(v)) for v in median], "n_sampled": len(sizes)}

    def summary(self) -> dict:
        """Counts per split and class, or positives per split and label
        (multi-label), JSON-serialisable."""
        task = self.task
        if task.per_label:  # positives per label
            counts = {
                part: {
                    name: int(self.labels[self.split == part, j].sum())
                    for j, name in enumerate(self.class_names)
                }
                for part in SPLITS
            }
        else:
            classes = np.unique(self.labels)
            counts = {
                part: {
                    name: int(((self.split == part) & (self.labels == c)).sum())
                    for c, name in zip(classes, self.class_names, strict=False)
                }
                for part in SPLITS
            }
        summary = {
            "source": self.source,
            "n_images": int(len(self.labels)),
            "classes": list(self.class_names),
        }
        if task.field is not None:
            summary["task"] = task.field
        summary["counts"] = counts
        if task.per_label:
            summary["n_per_split"] = {part: self.n_images(part) for part in SPLITS}
        summary["image_size"] = self.image_size
        summary.update(
            positive_class=None
            if self.pos_label is None
            else self.class_name(self.pos_label),
            groups=None if self.groups is None else len(np.unique(self.groups)),
            test_protocol=self.test_protocol,
            validation="the data set's own validation split"
            if self.has_validation
            else "held out from training (inner CV for hybrid heads)",
        )
        return summary

    def with_pos_label(self, pos_label) -> StudyDataset:
        """The same data set with another positive class (a label or its name)."""
        if pos_label is None:
            return self
        classes = np.unique(self.labels)
        resolved = resolve_pos_label(pos_label, classes, self.class_names)
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
    if path.is_dir():
        source = _readers.read_folder(path, folder_options)
    elif folder_only:
        raise ValueError(
            "groups / groups_csv / extensions / on_error apply to folder data sets; "
            "a CSV data set takes a 'group' column."
        )
    elif path.suffix.lower() in _READERS:
        source = _READERS[path.suffix.lower()](path)
    else:
        raise ValueError(
            f"Cannot use {path} as a data set: give a folder, a MedMNIST .npz file, "
            f"a .csv file (columns path, label[, group, split]) or a bundled name "
            f"({', '.join(BUNDLED)})."
        )
    return _dataset(source, test_size, random_state)


def _bundled_breastmnist() -> StudyDataset:
    return _dataset(_readers.read_breastmnist(), test_size=0.2, random_state=0)


#: Data sets that ship with skmedtl, by name.
BUNDLED: dict[str, Callable[[], StudyDataset]] = {"breastmnist": _bundled_breastmnist}

#: Readers of data set files, by suffix.
_READERS = {".npz": _readers.read_npz, ".csv": _readers.read_csv}


def _dataset(source: _readers.DataSource, test_size, random_state) -> StudyDataset:
    """The checked :class:`StudyDataset` of what a reader found."""
    return StudyDataset.from_arrays(
        source.images,
        source.labels,
        **source.arrays(),
        test_size=test_size,
        random_state=random_state,
    )
