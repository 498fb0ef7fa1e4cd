"""Lesion annotations: boxes from a CSV, or masks beside the images.

:func:`load_annotations` returns one boolean mask per image, in the image's own
pixels (``None`` where the image has no annotated region), for
:func:`~skmedtl.explain.localisation_report`.

A CSV has an ``image`` column (a file name or path; matched to the images by
path, else by file name) and either

- pixel boxes ``x_min, y_min, x_max, y_max`` (columns, then rows; ``x_max`` and
  ``y_max`` exclusive, as in most detection tools), or
- YOLO-normalised boxes ``x_center, y_center, width, height``, each in
  ``[0, 1]`` of the image's width or height.

Several rows for an image are united. Masks: a folder holding, for image
``name.ext``, a file ``name.*`` or ``name_mask.*``; nonzero pixels are the
region.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

__all__ = ["load_annotations"]

PIXEL_COLUMNS = ("x_min", "y_min", "x_max", "y_max")
YOLO_COLUMNS = ("x_center", "y_center", "width", "height")
_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".npy")


def _image_shape(path: str) -> tuple[int, int]:
    from ..io import read_image

    return tuple(np.asarray(read_image(path)).shape[:2])


def _boxes(path: Path, image_paths, shapes):
    import pandas as pd

    try:
        table = pd.read_csv(path)
    except (OSError, ValueError) as e:
        raise ValueError(f"annotations: cannot read the CSV {str(path)!r}: {e}") from e
    columns = set(table.columns)
    if "image" not in columns:
        raise ValueError(
            f"annotations: {str(path)!r} has no 'image' column (columns: "
            f"{sorted(columns)}); it must name each row's image."
        )
    if set(PIXEL_COLUMNS) <= columns:
        kind, names = "pixels", PIXEL_COLUMNS
    elif set(YOLO_COLUMNS) <= columns:
        kind, names = "yolo", YOLO_COLUMNS
    else:
        raise ValueError(
            f"annotations: {str(path)!r} needs the box columns "
            f"{', '.join(PIXEL_COLUMNS)} (pixels) or {', '.join(YOLO_COLUMNS)} "
            f"(YOLO, normalised); it has {sorted(columns)}."
        )
    by_path = {os.path.normpath(str(p)): i for i, p in enumerate(image_paths)}
    by_name: dict[str, list[int]] = {}
    for i, p in enumerate(image_paths):
        by_name.setdefault(Path(str(p)).name, []).append(i)
    masks: list[np.ndarray | None] = [None] * len(image_paths)
    unmatched = []
    for row in table.itertuples(index=False):
        key = str(row.image)
        if os.path.normpath(key) in by_path:
            targets = [by_path[os.path.normpath(key)]]
        else:
            targets = by_name.get(Path(key).name, [])
        if not targets:
            unmatched.append(key)
            continue
        if len(targets) > 1:
            raise ValueError(
                f"annotations: {key!r} matches {len(targets)} images by file name; "
                "give the image's path in the CSV."
            )
        i = targets[0]
        h, w = shapes[i] if shapes is not None else _image_shape(image_paths[i])
        values = np.array([getattr(row, c) for c in names], dtype=np.float64)
        if not np.isfinite(values).all():
            raise ValueError(f"annotations: the box of {key!r} has a missing value.")
        if kind == "yolo":
            if values.min() < 0 or values.max() > 1:
                raise ValueError(
                    f"annotations: the YOLO box of {key!r} has values outside "
                    "[0, 1]; pixel boxes use the columns "
                    f"{', '.join(PIXEL_COLUMNS)}."
                )
            cx, cy, bw, bh = values
            x0, x1 = (cx - bw / 2) * w, (cx + bw / 2) * w
            y0, y1 = (cy - bh / 2) * h, (cy + bh / 2) * h
        else:
            x0, y0, x1, y1 = values
        r0, r1 = int(np.floor(max(y0, 0))), int(np.ceil(min(y1, h)))
        c0, c1 = int(np.floor(max(x0, 0))), int(np.ceil(min(x1, w)))
        if r1 <= r0 or c1 <= c0:
            raise ValueError(
                f"annotations: the box of {key!r} ({', '.join(names)} = "
                f"{values.tolist()}) covers no pixel of the {h} x {w} image."
            )
        if masks[i] is None:
            masks[i] = np.zeros((h, w), dtype=bool)
        masks[i][r0:r1, c0:c1] = True
    if unmatched:
        raise ValueError(
            f"annotations: {len(unmatched)} row(s) of {str(path)!r} name no given "
            f"image (e.g. {unmatched[0]!r})."
        )
    return masks


def _mask_files(folder: Path, image_paths, shapes):
    from ..io import read_image

    masks: list[np.ndarray | None] = []
    for i, p in enumerate(image_paths):
        stem = Path(str(p)).stem
        found = [
            folder / f"{name}{suffix}"
            for name in (stem, f"{stem}_mask")
            for suffix in _IMAGE_SUFFIXES
            if (folder / f"{name}{suffix}").is_file()
            and (folder / f"{name}{suffix}").resolve() != Path(str(p)).resolve()
        ]
        if not found:
            masks.append(None)
            continue
        mask = np.asarray(read_image(str(found[0])))
        mask = mask.any(axis=-1) if mask.ndim == 3 else mask.astype(bool)
        shape = shapes[i] if shapes is not None else _image_shape(str(p))
        if mask.shape != tuple(shape):
            raise ValueError(
                f"annotations: the mask {str(found[0])!r} is {mask.shape}, its "
                f"image {tuple(shape)}."
            )
        masks.append(mask if mask.any() else None)
    return masks


def load_annotations(path, image_paths, shapes=None) -> list[np.ndarray | None]:
    """One region mask per image, from a box CSV or a folder of masks.

    Parameters
    ----------
    path : str or Path
        A CSV of boxes (pixels or YOLO-normalised; see the module docstring) or
        a folder of masks (``name.*`` or ``name_mask.*`` for image
        ``name.ext``).
    image_paths : sequence of str
        The images, in the order the masks are wanted.
    shapes : sequence of (h, w), optional
        Each image's size (read from the files when not given).

    Returns
    -------
    list of (ndarray of bool (h, w) or None)
        ``None`` for an image without a region.
    """
    path = Path(path)
    image_paths = [str(p) for p in image_paths]
    if shapes is not None and len(shapes) != len(image_paths):
        raise ValueError(
            f"shapes must give one (h, w) per image: {len(image_paths)} images, "
            f"{len(shapes)} shapes."
        )
    if path.is_dir():
        return _mask_files(path, image_paths, shapes)
    if not path.is_file():
        raise FileNotFoundError(
            f"annotations: {str(path)!r} is neither a CSV of boxes nor a folder of "
            "masks."
        )
    return _boxes(path, image_paths, shapes)
