"""Checks of a study's labels and images, with errors that say what to do.

One class per image: at least two classes, each in training and test, display
names and the positive class resolved. Multi-label: a 0/1 matrix whose every
label has positive and negative images in training and test. Images: 2-D,
not volumes.
"""

from __future__ import annotations

import numpy as np

from ..utils._naming import did_you_mean

__all__ = [
    "check_class_coverage",
    "check_classes",
    "check_label_coverage",
    "check_label_matrix",
    "check_names",
    "check_not_volumes",
    "resolve_pos_label",
]


def check_classes(labels: np.ndarray, source: str) -> np.ndarray:
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


def check_class_coverage(labels: np.ndarray, split: np.ndarray, classes) -> None:
    """Every class has images in training and test."""
    for part in ("train", "test"):
        missing = set(classes) - set(labels[split == part])
        if missing:
            raise ValueError(
                f"The {part} split has no image of class "
                f"{sorted(missing)[0]!r}; every class needs images in "
                "training and test."
            )


def check_not_volumes(images) -> None:
    """Refuse an array of 3-D volumes (a study classifies 2-D images)."""
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


def check_names(class_names, classes, what: str) -> list[str]:
    """Display names: given, or the classes (label numbers) as strings.

    ``classes`` is the sorted classes, or the number of labels (multi-label).
    """
    k = classes if isinstance(classes, int) else len(classes)
    if class_names is None:
        values = range(k) if isinstance(classes, int) else classes
        class_names = [str(c) for c in values]
    if len(class_names) != k:
        raise ValueError(f"class_names has {len(class_names)} names for {k} {what}.")
    return list(class_names)


def resolve_pos_label(pos_label, classes: np.ndarray, class_names: list[str]):
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


def check_label_matrix(labels: np.ndarray, pos_label) -> np.ndarray:
    """The 0/1 label matrix of a multi-label data set (``from_arrays``)."""
    if not np.isin(labels, (0, 1)).all():
        raise ValueError(
            f"labels of shape {labels.shape} are read as multi-label: a 0/1 matrix, "
            "one column per label (1 = the finding is present). They hold other "
            "values; give one class per image as a 1-D array instead."
        )
    if pos_label is not None:
        raise ValueError(
            "pos_label applies to two-class problems; multi-label data has one "
            "positive class per label."
        )
    return labels.astype(np.int64)


def check_label_coverage(labels: np.ndarray, split, class_names: list) -> None:
    """Every label has positive and negative images in training and test."""
    for part in ("train", "test"):
        counts = labels[split == part].sum(axis=0)
        rows = int((split == part).sum())
        bad = np.flatnonzero((counts == 0) | (counts == rows))
        if len(bad):
            raise ValueError(
                f"Label {class_names[bad[0]]!r} is "
                f"{'never' if counts[bad[0]] == 0 else 'always'} present in the "
                f"{part} split; every label needs positive and negative images in "
                "training and test. Drop that label column."
            )
