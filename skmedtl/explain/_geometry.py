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

Where a feature map's cells sit on the input is not always where a uniform
grid puts them (cell ``i`` of ``n`` at ``(i + 0.5) * H / n``): a stride-2
convolution with symmetric padding on an even-sized input centres output ``i``
on input pixel ``2 i`` (continuous ``2 i + 0.5``), half an input step before the
uniform grid's ``2 i + 1``; over the five such layers of an EfficientNet or
ResNet the cells of the final map sit 15.5 px up and left of the uniform
grid's centres at 224 px (TF-style "same" padding pads the other side and moves
them down and right instead). :func:`trace_cell_grid` follows one forward pass
through every convolution, pooling and padding (``torch.nn.functional`` calls,
whatever module makes them) and returns the centres of the cells of a feature
map in input pixels, a :class:`CellGrid`; :func:`to_image_geometry` places each
cell's value at its centre.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F
from torch.overrides import TorchFunctionMode

__all__ = [
    "CellGrid",
    "input_window",
    "to_image_geometry",
    "trace_cell_grid",
    "trace_cell_grids",
]


@dataclass(frozen=True)
class CellGrid:
    """Centres of a feature map's cells in continuous input coordinates.

    Cell ``(i, j)`` is centred on ``(offset_y + step_y * i, offset_x + step_x *
    j)`` of the network input (pixel ``k`` spans ``[k, k + 1)``).
    """

    offset_y: float
    step_y: float
    offset_x: float
    step_x: float

    @classmethod
    def uniform(cls, map_size, input_size) -> CellGrid:
        """The grid that tiles the input evenly (the ``align_corners=False`` one)."""
        step_y = input_size[0] / map_size[0]
        step_x = input_size[1] / map_size[1]
        return cls(step_y / 2, step_y, step_x / 2, step_x)

    def centres(self, map_size) -> tuple[np.ndarray, np.ndarray]:
        """Row and column centres of a map of ``map_size`` cells."""
        return (
            self.offset_y + self.step_y * np.arange(map_size[0]),
            self.offset_x + self.step_x * np.arange(map_size[1]),
        )


#: The input: pixel k centred on k + 0.5, step 1.
_PIXELS = (0.5, 1.0, 0.5, 1.0)


def _pair(value) -> tuple[int, int]:
    if isinstance(value, (tuple, list)):
        return (int(value[0]), int(value[-1]))
    return (int(value), int(value))


def _arg(args, kwargs, index, name, default):
    if len(args) > index:
        return args[index]
    return kwargs.get(name, default)


def _windowed(grid, kernel, stride, padding, dilation):
    """The grid after a sliding window (convolution or pooling)."""
    oy, sy, ox, sx = grid
    (ky, kx), (dy, dx) = kernel, dilation
    (ty, tx) = stride
    (py, px) = padding
    return (
        oy + sy * (dy * (ky - 1) / 2 - py),
        sy * ty,
        ox + sx * (dx * (kx - 1) / 2 - px),
        sx * tx,
    )


class _GridTracer(TorchFunctionMode):
    """Follows cell grids through a forward pass (``torch.nn.functional`` calls)."""

    def __init__(self, x: torch.Tensor):
        super().__init__()
        # id -> (tensor, grid): the tensor is kept so that its id stays unique.
        self.grids = {id(x): (x, _PIXELS)}

    def grid_of(self, tensor) -> tuple | None:
        entry = self.grids.get(id(tensor))
        return None if entry is None or entry[0] is not tensor else entry[1]

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        first = out[0] if isinstance(out, (tuple, list)) and out else out
        if isinstance(first, torch.Tensor) and first.ndim == 4:
            source = self._source(args, kwargs)
            if source is not None:
                grid = self._propagate(func, args, kwargs, source, first)
                if grid is not None:
                    self.grids[id(first)] = (first, grid)
        return out

    def _source(self, args, kwargs):
        stack = [*args, *kwargs.values()]
        while stack:
            item = stack.pop(0)
            if isinstance(item, torch.Tensor):
                grid = self.grid_of(item)
                if grid is not None and item.ndim == 4:
                    return item, grid
            elif isinstance(item, (tuple, list)):
                stack[:0] = list(item)
        return None

    @staticmethod
    def _propagate(func, args, kwargs, source, out):
        tensor, grid = source
        name = getattr(func, "__name__", "").lstrip("_")
        if name == "conv2d":
            weight = _arg(args, kwargs, 1, "weight", None)
            kernel = tuple(weight.shape[-2:])
            stride = _pair(_arg(args, kwargs, 3, "stride", 1))
            dilation = _pair(_arg(args, kwargs, 5, "dilation", 1))
            padding = _arg(args, kwargs, 4, "padding", 0)
            if padding == "valid":
                padding = (0, 0)
            elif padding == "same":
                padding = tuple(
                    d * (k - 1) // 2 for k, d in zip(kernel, dilation, strict=True)
                )
            return _windowed(grid, kernel, stride, _pair(padding), dilation)
        if name in ("max_pool2d", "max_pool2d_with_indices", "avg_pool2d"):
            kernel = _pair(_arg(args, kwargs, 1, "kernel_size", 1))
            stride = _arg(args, kwargs, 2, "stride", None)
            stride = kernel if stride is None or stride == [] else _pair(stride)
            padding = _pair(_arg(args, kwargs, 3, "padding", 0))
            dilation = (1, 1)
            if name != "avg_pool2d":
                dilation = _pair(_arg(args, kwargs, 4, "dilation", 1))
            return _windowed(grid, kernel, stride, padding, dilation)
        if name == "pad":
            pad = list(_arg(args, kwargs, 1, "pad", ()))
            left = pad[0] if len(pad) >= 2 else 0
            top = pad[2] if len(pad) >= 4 else 0
            oy, sy, ox, sx = grid
            return (oy - sy * top, sy, ox - sx * left, sx)
        if tuple(out.shape[-2:]) == tuple(tensor.shape[-2:]):
            return grid  # elementwise, normalisation, concatenation of channels
        return None


def trace_cell_grid(forward, x: torch.Tensor, module) -> CellGrid | None:
    """Where the cells of ``module``'s output sit on the input ``x``.

    Parameters
    ----------
    forward : callable
        Runs the network on ``x`` (its output is discarded).
    x : tensor of shape (n, c, H, W)
        An input of the size the maps are computed at.
    module : nn.Module
        The layer whose output (a ``(n, c, h, w)`` map) is explained.

    Returns
    -------
    CellGrid or None
        ``None`` when the map cannot be followed back to the input through
        convolutions, poolings, paddings and size-preserving operations (a
        token grid, an interpolation): the uniform grid then applies.
    """
    return trace_cell_grids(forward, x, [module])[0]


def trace_cell_grids(forward, x: torch.Tensor, modules) -> list[CellGrid | None]:
    """:func:`trace_cell_grid` for several modules, in one forward pass."""
    captured: dict[int, object] = {}

    def hook_for(k):
        def hook(mod, inputs, output):
            if k not in captured:
                out = output[0] if isinstance(output, (tuple, list)) else output
                captured[k] = out

        return hook

    handles = [m.register_forward_hook(hook_for(k)) for k, m in enumerate(modules)]
    tracer = _GridTracer(x)
    try:
        with torch.no_grad(), tracer:
            forward(x)
    finally:
        for handle in handles:
            handle.remove()
    grids = []
    for k in range(len(modules)):
        out = captured.get(k)
        grid = tracer.grid_of(out) if isinstance(out, torch.Tensor) else None
        grids.append(None if grid is None else CellGrid(*grid))
    return grids


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
    maps: torch.Tensor,
    shapes: list[tuple[int, int]],
    preprocessing,
    grid: CellGrid | None = None,
) -> list[np.ndarray]:
    """Resample maps over the network input onto each original image.

    Parameters
    ----------
    maps : tensor of shape (n, fh, fw)
        Maps over the network input (any resolution).
    shapes : list of (h, w)
        The original size of each image.
    preprocessing : Preprocessing
        How the images reached the network.
    grid : CellGrid, optional
        Where the maps' cells sit on the input (from :func:`trace_cell_grid`);
        default: the uniform grid. Between cell centres values are bilinearly
        interpolated; beyond the outermost centres, the nearest one's value.

    Returns
    -------
    list of ndarray of shape (h, w), float32
    """
    target_h, target_w = preprocessing.input_size
    maps = maps.detach().float().cpu()
    fh, fw = maps.shape[-2:]
    if grid is None:
        grid = CellGrid.uniform((fh, fw), (target_h, target_w))
    out = []
    for m, (h, w) in zip(maps, shapes, strict=True):
        sy, ty, sx, tx = input_window((h, w), preprocessing)
        y_in = (torch.arange(h, dtype=torch.float64) + 0.5) * sy + ty
        x_in = (torch.arange(w, dtype=torch.float64) + 0.5) * sx + tx
        gy = _grid_coordinate(y_in, grid.offset_y, grid.step_y, fh)
        gx = _grid_coordinate(x_in, grid.offset_x, grid.step_x, fw)
        sample = torch.stack(torch.meshgrid(gx, gy, indexing="xy"), dim=-1)
        sampled = F.grid_sample(
            m[None, None],
            sample[None],
            mode="bilinear",
            padding_mode="border",
            align_corners=True,
        )[0, 0]
        seen = ((y_in >= 0) & (y_in <= target_h))[:, None] & (
            (x_in >= 0) & (x_in <= target_w)
        )[None, :]
        out.append(torch.where(seen, sampled, 0.0).numpy().astype(np.float32))
    return out


def _grid_coordinate(u: torch.Tensor, offset: float, step: float, n: int):
    """Input coordinates to ``grid_sample``'s ``[-1, 1]`` (``align_corners=True``)."""
    if n == 1:
        return torch.zeros_like(u, dtype=torch.float32)
    index = (u - offset) / step
    return (2 * index / (n - 1) - 1).float()
