"""Maps over the network input back onto the pixels of each original image.

The preprocessing (:mod:`skmedtl.features._preprocess`) resizes an ``h x w``
image to the network input ``H x W`` in one of three ways; in continuous pixel
coordinates (pixel ``i`` spans ``[i, i + 1)``) each is an axis-aligned affine
map ``u_in = u * s + t`` per axis, the convention of ``F.interpolate`` with
``align_corners=False``:

- ``"stretch"``: ``s = H / h``, ``t = 0``;
- ``"crop"``: the image is resized to ``(sh, sw)`` (shorter side to
  ``min(H, W) / crop_pct``), then centre-cropped: ``s = sh / h``,
  ``t = -((sh - H) // 2)``; pixels outside the crop were never seen;
- ``"pad"``: the image is resized to fit inside, ``(sh, sw)``, and centred on a
  black canvas: ``s = sh / h``, ``t = (H - sh) // 2``.

:func:`to_image_geometry` samples a map over the input (any resolution: a
``7 x 7`` CAM covers the input as a ``224 x 224`` one does) at the centre of each
original pixel, bilinearly; pixels the network never saw get 0.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

__all__ = ["input_window", "to_image_geometry"]


def input_window(shape: tuple[int, int], preprocessing) -> tuple[float, ...]:
    """``(sy, ty, sx, tx)``: original pixel coordinates to input coordinates."""
    h, w = int(shape[0]), int(shape[1])
    target_h, target_w = preprocessing.input_size
    mode = preprocessing.resize
    if mode == "stretch":
        return target_h / h, 0.0, target_w / w, 0.0
    if mode == "crop":
        short = min(target_h, target_w) / preprocessing.crop_pct
        scale = short / min(h, w)
        sh = max(target_h, round(h * scale))
        sw = max(target_w, round(w * scale))
        top, left = (sh - target_h) // 2, (sw - target_w) // 2
        return sh / h, -float(top), sw / w, -float(left)
    if mode == "pad":
        scale = min(target_h / h, target_w / w)
        sh = min(target_h, round(h * scale))
        sw = min(target_w, round(w * scale))
        return sh / h, float((target_h - sh) // 2), sw / w, float((target_w - sw) // 2)
    raise ValueError(f"Unknown resize mode {mode!r}.")


def to_image_geometry(
    maps: torch.Tensor, shapes: list[tuple[int, int]], preprocessing
) -> list[np.ndarray]:
    """Resample maps over the network input onto each original image.

    Parameters
    ----------
    maps : tensor of shape (n, fh, fw)
        Maps covering the whole network input (any resolution).
    shapes : list of (h, w)
        The original size of each image.
    preprocessing : Preprocessing
        How the images reached the network.

    Returns
    -------
    list of ndarray of shape (h, w), float32
    """
    target_h, target_w = preprocessing.input_size
    maps = maps.detach().float().cpu()
    out = []
    for m, (h, w) in zip(maps, shapes, strict=True):
        sy, ty, sx, tx = input_window((h, w), preprocessing)
        y_in = (torch.arange(h, dtype=torch.float64) + 0.5) * sy + ty
        x_in = (torch.arange(w, dtype=torch.float64) + 0.5) * sx + tx
        gy = (2 * y_in / target_h - 1).float()
        gx = (2 * x_in / target_w - 1).float()
        grid = torch.stack(torch.meshgrid(gx, gy, indexing="xy"), dim=-1)
        sampled = F.grid_sample(
            m[None, None],
            grid[None],
            mode="bilinear",
            padding_mode="border",
            align_corners=False,
        )[0, 0]
        seen = ((y_in >= 0) & (y_in <= target_h))[:, None] & (
            (x_in >= 0) & (x_in <= target_w)
        )[None, :]
        out.append(torch.where(seen, sampled, 0.0).numpy().astype(np.float32))
    return out
