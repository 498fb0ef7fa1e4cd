"""MedMNIST npz files and the BreastMNIST copy bundled with skmedtl."""

from __future__ import annotations

import os
import zipfile
from importlib import resources
from pathlib import Path

import numpy as np

from ..utils._naming import did_you_mean

__all__ = ["CHESTMNIST_LABELS", "load_medmnist", "load_breastmnist"]

SPLITS = ("train", "val", "test")

#: The 14 findings of ChestMNIST, in the column order of its ``(n, 14)`` labels
#: (MedMNIST's ``INFO["chestmnist"]["label"]``; from NIH ChestX-ray14).
CHESTMNIST_LABELS = (
    "atelectasis",
    "cardiomegaly",
    "effusion",
    "infiltration",
    "mass",
    "nodule",
    "pneumonia",
    "pneumothorax",
    "consolidation",
    "edema",
    "emphysema",
    "fibrosis",
    "pleural",
    "hernia",
)


def medmnist_label_names(path, n_labels: int) -> list[str] | None:
    """Finding names of a multi-label MedMNIST file (ChestMNIST), else None."""
    if Path(path).name.lower().startswith("chestmnist") and n_labels == len(
        CHESTMNIST_LABELS
    ):
        return list(CHESTMNIST_LABELS)
    return None


def load_medmnist(
    path: str | os.PathLike, split: str = "train"
) -> tuple[np.ndarray, np.ndarray]:
    """Images and labels of one split of a MedMNIST ``.npz`` file.

    MedMNIST v2 / MedMNIST+ (Yang et al., Scientific Data 2023, CC BY 4.0); cite
    it and the source data set of the file you use.

    Parameters
    ----------
    path : str or path-like
        A MedMNIST v2 / MedMNIST+ file with keys ``<split>_images`` and
        ``<split>_labels`` (2D or 3D, any resolution).
    split : {"train", "val", "test"}, default="train"

    Returns
    -------
    images : ndarray
        As stored: ``(n, h, w)`` or ``(n, h, w, 3)`` for 2D sets, ``(n, d, h, w)``
        for 3D sets (e.g. AdrenalMNIST3D, ``(n, 28, 28, 28)`` uint8). Pass 2D
        images to :class:`~skmedtl.CNNFeatures` directly; cut 3D volumes with
        :func:`skmedtl.io.volume_to_slices` (``axis=0``) or embed them with
        :class:`skmedtl.VolumeFeatures`.
    labels : ndarray of shape (n,) or (n, n_labels)
        Integer labels. Single-label files store ``(n, 1)``; that axis is removed.
        Multi-label files (ChestMNIST) keep ``(n, n_labels)``: a 0/1 indicator
        matrix (column names in :data:`CHESTMNIST_LABELS`) that
        :class:`~skmedtl.finetune.FineTuneClassifier`, :func:`~skmedtl.make_hybrid`
        and the study take as multi-label targets.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    ValueError
        An unknown split, a file that is not a MedMNIST npz, or images and labels
        of different lengths.
    """
    if split not in SPLITS:
        raise ValueError(
            f"Unknown split {split!r}.{did_you_mean(str(split), SPLITS)} Choose from "
            f"{SPLITS}."
        )
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"MedMNIST file not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as data:
            keys = set(data.files)
            needed = {f"{split}_images", f"{split}_labels"}
            if not needed <= keys:
                raise ValueError(
                    f"{path} is not a MedMNIST file with a {split!r} split: it has "
                    f"keys {sorted(keys)}, expected {sorted(needed)}."
                )
            images = data[f"{split}_images"]
            labels = data[f"{split}_labels"]
    except (OSError, EOFError, zipfile.BadZipFile) as e:
        raise ValueError(f"Cannot read MedMNIST file {path}: {e}") from e
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if len(images) != len(labels):
        raise ValueError(
            f"{path}: {len(images)} {split} images but {len(labels)} labels; a "
            "MedMNIST file has one label per image."
        )
    return images, labels


def load_breastmnist(split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """The BreastMNIST data set shipped with skmedtl (28×28 breast ultrasound).

    780 greyscale images in two classes (0 malignant, 1 normal or benign), with
    the official 546 / 78 / 156 split. From MedMNIST v2 (Yang et al., Scientific
    Data 2023, CC BY 4.0), derived from BUSI (Al-Dhabyani et al., Data in Brief
    2020). Please cite both when you use it.

    Parameters
    ----------
    split : {"train", "val", "test"}, default="train"

    Returns
    -------
    images : ndarray of shape (n, 28, 28), uint8
    labels : ndarray of shape (n,), uint8

    Examples
    --------
    >>> from skmedtl.datasets import load_breastmnist
    >>> X, y = load_breastmnist("test")
    >>> X.shape, y.shape
    ((156, 28, 28), (156,))
    """
    with resources.as_file(
        resources.files("skmedtl.datasets") / "data" / "breastmnist.npz"
    ) as path:
        return load_medmnist(path, split)
