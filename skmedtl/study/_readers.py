"""Reading a study's data set from disk: MedMNIST ``.npz``, CSV, folders, bundled.

Each reader returns a :class:`DataSource` (images, labels and what the files
say about splits, patients and class names); :func:`~skmedtl.study._data.
load_study_dataset` turns it into a checked
:class:`~skmedtl.study.StudyDataset`. Nothing here decides splits or checks
classes.
"""

from __future__ import annotations

import csv
import hashlib
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._splits import SPLIT_ALIASES, SPLITS
from ._task import Task

__all__ = [
    "DataSource",
    "check_folder_single_label",
    "csv_label_matrix",
    "read_breastmnist",
    "read_csv",
    "read_folder",
    "read_npz",
]


@dataclass(frozen=True)
class DataSource:
    """What a file or folder holds, before any check: the arguments of
    :meth:`~skmedtl.study.StudyDataset.from_arrays`."""

    images: object
    labels: np.ndarray
    source: str
    split: object = None
    groups: np.ndarray | None = None
    class_names: list | None = None
    pos_label: object = None

    def arrays(self) -> dict:
        """Keyword arguments of ``StudyDataset.from_arrays`` (after images, labels)."""
        return dict(
            split=self.split,
            groups=self.groups,
            class_names=self.class_names,
            pos_label=self.pos_label,
            source=self.source,
        )


def read_breastmnist() -> DataSource:
    """The bundled BreastMNIST (its official splits; malignant is positive)."""
    from ..datasets import load_breastmnist

    parts = [load_breastmnist(s) for s in SPLITS]
    return DataSource(
        np.concatenate([p[0] for p in parts]),
        np.concatenate([p[1] for p in parts]),
        split=np.repeat(SPLITS, [len(p[1]) for p in parts]),
        class_names=["malignant", "normal or benign"],
        pos_label=0,
        source="breastmnist (bundled; MedMNIST v2, CC BY 4.0; from BUSI)",
    )


def read_npz(path: Path) -> DataSource:
    """A MedMNIST ``.npz`` file: its train / val / test splits."""
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
    labels = np.concatenate([parts[s][1] for s in present])
    names = None
    if Task.of_labels(labels).per_label:  # ChestMNIST layout
        from ..datasets._medmnist import medmnist_label_names

        names = medmnist_label_names(path, labels.shape[1])
    return DataSource(
        np.concatenate([parts[s][0] for s in present]),
        labels,
        split=np.repeat(present, [len(parts[s][1]) for s in present]),
        class_names=names,
        source=f"MedMNIST file {path}",
    )


def _csv_rows(path: Path) -> tuple[list[str], list[dict], list[int]]:
    """Lower-cased column names, rows, and each row's line number in the file."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        fields = [c.strip().lower() for c in reader.fieldnames or []]
        rows, lines = [], []  # lines: the file's own line numbers (blank lines count)
        for r in reader:
            rows.append(
                {k.strip().lower(): (v or "").strip() for k, v in r.items() if k}
            )
            lines.append(reader.line_num)
    return fields, rows, lines


def read_csv(path: Path) -> DataSource:
    """A CSV file: ``path`` and ``label`` columns (or one 0/1 column per label),
    optionally ``group`` and ``split``; relative paths are relative to the file."""
    fields, rows, lines = _csv_rows(path)
    label_columns = [c for c in fields if c not in ("path", "group", "split")]
    per_label = "label" not in fields and "path" in fields and len(label_columns) > 1
    needed = ("path",) if per_label else ("path", "label")
    for column in needed:
        if column not in fields:
            raise ValueError(
                f"{path} needs a {column!r} column (columns: path, label, and "
                f"optionally group, split); it has {fields}."
            )
    if not rows:
        raise ValueError(f"{path} lists no images.")
    paths = []
    for i, row in zip(lines, rows, strict=True):
        for column in needed:
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
        labels = csv_label_matrix(path, rows, label_columns)
    else:
        labels = np.array([r["label"] for r in rows])
    return DataSource(
        paths,
        labels,
        groups=np.array([r["group"] for r in rows]) if "group" in fields else None,
        split=[r["split"] or "train" for r in rows] if "split" in fields else None,
        class_names=label_columns if per_label else None,
        source=f"CSV file {path}",
    )


def csv_label_matrix(path, rows: list[dict], columns: list[str]) -> np.ndarray:
    """The 0/1 label matrix of a multi-label CSV (one column per finding)."""
    Y = np.zeros((len(rows), len(columns)), dtype=np.int64)
    for i, row in enumerate(rows):
        for j, column in enumerate(columns):
            value = row.get(column, "")
            if value not in ("0", "1", "0.0", "1.0"):
                raise ValueError(
                    f"{path}, line {i + 2}: column {column!r} is {value!r}. A CSV "
                    "without a 'label' column is read as multi-label: every column "
                    "other than path, group and split must be 0 or 1. For one class "
                    "per image add a 'label' column."
                )
            Y[i, j] = int(float(value))
    return Y


def read_folder(path: Path, folder_options: dict) -> DataSource:
    """A folder with one subfolder per class, or with ``train/``, ``test/`` (and
    ``val/``) folders that each hold one subfolder per class."""
    from ..datasets import load_folder

    subdirs = {d.name.lower(): d for d in path.iterdir() if d.is_dir()}
    split_dirs = {
        SPLIT_ALIASES.get(k, k): d
        for k, d in subdirs.items()
        if SPLIT_ALIASES.get(k, k) in SPLITS
    }
    if not {"train", "test"} <= set(split_dirs):
        found = load_folder(path, **folder_options)
        labels = np.array([found.class_names[k] for k in found.labels])
        check_folder_single_label(found.paths, labels, path)
        return DataSource(
            found.paths, labels, groups=found.groups, source=f"folder {path}"
        )
    paths, labels, split, group_ids = [], [], [], []
    for part in (p for p in SPLITS if p in split_dirs):
        found = load_folder(split_dirs[part], **folder_options)
        paths += found.paths
        labels += [found.class_names[k] for k in found.labels]
        split += [part] * len(found.paths)
        if found.groups is not None:
            group_ids += found.groups.tolist()
    check_folder_single_label(paths, labels, path)
    return DataSource(
        paths,
        np.array(labels),
        split=split,
        groups=np.array(group_ids) if group_ids else None,
        source=f"folder {path} (train/test subfolders)",
    )


def check_folder_single_label(paths: list, labels, root) -> None:
    """Raise if one image sits in several class folders (a multi-label attempt).

    A class-per-folder layout gives each image exactly one class, so it cannot
    express multi-label data; copying an image into each of its findings'
    folders would silently turn it into several contradicting single-label
    images. Same-named files of equal size in different class folders are
    compared byte for byte.
    """
    seen: dict[tuple[str, int], list[tuple[str, object]]] = {}
    for path, label in zip(paths, np.asarray(labels).tolist(), strict=True):
        key = (os.path.basename(path), os.path.getsize(path))
        seen.setdefault(key, []).append((path, label))
    for entries in seen.values():
        if len({label for _, label in entries}) < 2:
            continue
        digests: dict[str, tuple[str, object]] = {}
        for path, label in entries:
            with open(path, "rb") as f:
                digest = hashlib.sha256(f.read()).hexdigest()
            other = digests.get(digest)
            if other is not None and other[1] != label:
                raise ValueError(
                    f"{root}: the same image is in class folders {other[1]!r} and "
                    f"{label!r} ({other[0]} and {path}). A folder per class gives "
                    "each image one class and cannot express multi-label data. For "
                    "several findings per image use a CSV with a path column and one "
                    "0/1 column per finding, or a MedMNIST-style .npz with labels of "
                    "shape (n, n_labels)."
                )
            digests.setdefault(digest, (path, label))
