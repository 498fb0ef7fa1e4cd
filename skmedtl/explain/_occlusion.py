"""Occlusion sensitivity: how much the target's probability drops under a patch."""

from __future__ import annotations

import numbers

import numpy as np
from tqdm.auto import tqdm

__all__ = ["occlusion_maps", "resolve_patch"]


def resolve_patch(value, shape: tuple[int, int], name: str, default):
    """``patch_size`` / ``stride``: ``None``, an int or ``(h, w)`` to ``(h, w)``."""
    if value is None:
        value = default
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = (int(value), int(value))
    try:
        ph, pw = (int(v) for v in value)
    except (TypeError, ValueError) as e:
        raise ValueError(
            f"{name} must be None, a positive int or (height, width); got {value!r}."
        ) from e
    if ph < 1 or pw < 1:
        raise ValueError(f"{name} must be positive; got {value!r}.")
    return min(ph, shape[0]), min(pw, shape[1])


def _starts(size: int, patch: int, stride: int) -> list[int]:
    starts = list(range(0, size - patch + 1, stride))
    if starts[-1] != size - patch:  # the last patch reaches the border
        starts.append(size - patch)
    return starts


def _at_centres(grid, ys, xs, shape, patch) -> np.ndarray:
    """Drops at occluder centres, bilinearly interpolated onto every pixel.

    Pixel centres beyond the outermost occluder centres take the nearest one's
    value (``np.interp`` clamps).
    """
    cy = np.asarray(ys, dtype=float) + patch[0] / 2
    cx = np.asarray(xs, dtype=float) + patch[1] / 2
    py = np.arange(shape[0]) + 0.5
    px = np.arange(shape[1]) + 0.5
    rows = np.stack([np.interp(px, cx, row) for row in grid])  # (len(ys), w)
    out = np.stack([np.interp(py, cy, col) for col in rows.T], axis=1)  # (h, w)
    return out.astype(np.float32)


def _fill_value(image: np.ndarray, fill):
    if isinstance(fill, str):
        if fill not in ("mean", "min"):
            raise ValueError(f"fill must be 'mean', 'min' or a number; got {fill!r}.")
        value = image.mean(axis=(0, 1)) if fill == "mean" else image.min(axis=(0, 1))
    elif isinstance(fill, numbers.Real) and not isinstance(fill, bool):
        value = fill
    else:
        raise ValueError(f"fill must be 'mean', 'min' or a number; got {fill!r}.")
    if image.dtype.kind in "iu":
        value = np.rint(value)
        info = np.iinfo(image.dtype)
        if not isinstance(fill, str) and not info.min <= value <= info.max:
            raise ValueError(
                f"fill={fill!r} is outside the range of these {image.dtype} images "
                f"({info.min} to {info.max}); it would wrap around. Give a value "
                f"in that range, or fill='mean' / 'min'."
            )
    return np.asarray(value).astype(image.dtype)


def occlusion_maps(
    predict_proba,
    images,
    base_proba: np.ndarray,
    target: np.ndarray,
    *,
    patch_size=None,
    stride=None,
    fill="mean",
    batch_size: int = 64,
    verbose: int = 0,
) -> list[np.ndarray]:
    """Occlusion maps in each image's own pixels.

    A patch slides over the image (with ``stride``, always reaching the border)
    and each position records the drop of the target class's probability,
    ``p(target | image) - p(target | occluded image)``, at the patch's centre
    (Zeiler & Fergus, 2014); every pixel gets the drop of the patch centred on
    it, bilinearly interpolated between patch positions. (Averaging the drops
    of all patches that cover a pixel instead would favour the image border,
    which fewer patches cover.) The occluded copies of an image go through
    ``predict_proba`` in batches of ``batch_size``.

    Parameters
    ----------
    predict_proba : callable
        Probabilities of a batch of decoded images.
    images : sequence of ndarray
        Channels-last images.
    base_proba : ndarray of shape (n, n_classes)
        Probabilities of the unoccluded images.
    target : ndarray of int
        Class index explained, per image.
    patch_size, stride : int or (int, int), optional
        Default: a patch of 1/8 of the shorter side, half that as stride.
    fill : "mean", "min" or float
        The patch's value: the image's mean or minimum (per channel), or a
        constant.
    batch_size : int
        Occluded copies per call of ``predict_proba``.
    verbose : int
        1 shows a progress bar.

    Returns
    -------
    list of ndarray of shape (h, w), float32
        Signed: positive where hiding the pixels lowers the probability.
    """
    out = []
    with tqdm(
        total=len(images),
        desc="occlusion",
        unit="img",
        disable=verbose <= 0,
        leave=False,
    ) as bar:
        for i in range(len(images)):
            image = np.asarray(images[i])
            h, w = image.shape[:2]
            default = max(1, round(min(h, w) / 8))
            ph, pw = resolve_patch(patch_size, (h, w), "patch_size", default)
            sy, sx = resolve_patch(
                stride, (h, w), "stride", (max(1, ph // 2), max(1, pw // 2))
            )
            value = _fill_value(image, fill)
            spots = [(y, x) for y in _starts(h, ph, sy) for x in _starts(w, pw, sx)]
            base = float(base_proba[i, target[i]])
            drops = np.empty(len(spots), dtype=np.float64)
            for a in range(0, len(spots), batch_size):
                chunk = spots[a : a + batch_size]
                copies = np.repeat(image[None], len(chunk), axis=0)
                for k, (y, x) in enumerate(chunk):
                    copies[k, y : y + ph, x : x + pw] = value
                proba = np.asarray(predict_proba(copies))[:, target[i]]
                drops[a : a + len(chunk)] = base - proba
            ys, xs = _starts(h, ph, sy), _starts(w, pw, sx)
            grid = drops.reshape(len(ys), len(xs))
            out.append(_at_centres(grid, ys, xs, (h, w), (ph, pw)))
            bar.update(1)
    return out
