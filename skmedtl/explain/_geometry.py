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

A trained network need not look where its architecture centres it: the
ImageNet-trained EfficientNet-Lite0 and Lite1 respond to a bright patch 12-15 px
up and left of their traced centres at 224 and 240 px, in every interior cell
(``tests/explain/test_cam_geometry.py``). :func:`measure_cell_grid` measures
that shift on the network itself: on inputs of the preprocessing's mean colour
with a faint texture it moves a white square (half a cell wide) over a tiling
of the input,
takes the centroid of each central cell's squared response, and shifts the
traced grid by the mean of centroid minus traced centre per axis.
:func:`cell_grid` gives either grid (``placement="measured"`` or
``"traced"``), the measured one cached per network weights, layer and input
size. (The input gradient of a cell's features, its effective receptive field
at first order, did not predict the response to a bright patch on these
networks: on Lite0 its centroid was 7-37 px per cell from the patch's, for
every weighting and neutral input tried; ``benchmarks/explain/RESULTS.md``.)
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, replace

import numpy as np
import torch
from torch.nn import functional as F
from torch.overrides import TorchFunctionMode

from .._constants import CAM_PLACEMENTS
from ..utils._naming import check_choice

__all__ = [
    "CellGrid",
    "cell_grid",
    "input_window",
    "to_image_geometry",
    "trace_cell_grid",
    "measure_cell_grid",
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

    def shifted(self, dy: float, dx: float) -> CellGrid:
        """The same grid moved by ``(dy, dx)`` input pixels."""
        return replace(self, offset_y=self.offset_y + dy, offset_x=self.offset_x + dx)

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


class _Stop(Exception):
    """Ends a forward pass once the explained layer has run."""


def _layer_output(forward, module, x, reshape=None) -> torch.Tensor:
    """``module``'s output on ``x`` (the rest of the network does not run)."""
    captured = []

    def hook(mod, inputs, output):
        captured.append(output[0] if isinstance(output, (tuple, list)) else output)
        raise _Stop

    handle = module.register_forward_hook(hook)
    try:
        with torch.no_grad():
            forward(x)
    except _Stop:
        pass
    finally:
        handle.remove()
    if not captured:
        raise RuntimeError("The explained layer did not run in the forward pass.")
    out = captured[0]
    if out.ndim == 3 and reshape is not None:
        out = reshape(out)
    return out


def _central(n: int) -> list[int]:
    """The middle cells of an axis of ``n``: 3 (odd ``n``), 2 (even) or 1."""
    return [i for i in range(n) if abs(i - (n - 1) / 2) <= 1]


#: The neutral inputs' noise: uniform, this far either side of the mean colour
#: (intensities in ``[0, 1]``), the same in every channel (a greyscale texture).
NOISE = 0.1


def _backgrounds(input_size, std, textures, device) -> list[torch.Tensor]:
    """``textures`` greyscale noise textures around the mean colour."""
    height, width = input_size
    out = []
    generator = torch.Generator().manual_seed(0)
    scale = torch.as_tensor(std, dtype=torch.float32)[None, :, None, None]
    for _ in range(textures):
        grey = torch.rand(1, 1, height, width, generator=generator) * 2 - 1
        out.append((NOISE * grey / scale).to(device))
    return out


def _measured_shift(
    forward, module, zero, grid, white, reshape, max_positions, batch_size
):
    """``(grid, (dy, dx))``: the central cells' mean offset on one background."""
    height, width = zero.shape[-2:]
    device = zero.device
    base = _layer_output(forward, module, zero, reshape)
    fh, fw = base.shape[-2:]
    if grid is None:
        grid = CellGrid.uniform((fh, fw), (height, width))
    side = max(1, round(min(grid.step_y, grid.step_x) / 2))
    while ((height + side - 1) // side) * ((width + side - 1) // side) > max_positions:
        side += 1
    tops = list(range(0, height, side))
    lefts = list(range(0, width, side))
    spots = [(r, c) for r in tops for c in lefts]
    rows, cols = _central(fh), _central(fw)
    cells = [(i, j) for i in rows for j in cols]
    colour = torch.as_tensor(white, dtype=zero.dtype, device=device)[:, None, None]
    responses = []
    for a in range(0, len(spots), batch_size):
        chunk = spots[a : a + batch_size]
        x = zero.repeat(len(chunk), 1, 1, 1)
        for k, (r, c) in enumerate(chunk):
            x[k, :, r : r + side, c : c + side] = colour
        out = _layer_output(forward, module, x, reshape)
        change = (out - base).abs().sum(dim=1)  # (positions, fh, fw)
        responses.append(torch.stack([change[:, i, j] for i, j in cells], dim=1))
    weight = torch.cat(responses).double().cpu().numpy() ** 2  # (positions, cells)
    centres = np.array(
        [
            (r + min(side, height - r) / 2, c + min(side, width - c) / 2)
            for r, c in spots
        ]
    )
    total = weight.sum(axis=0)
    if not np.all(total > 0):
        return grid, (0.0, 0.0)  # a cell that nothing moves: no evidence of a shift
    looked = (weight.T @ centres) / total[:, None]
    centre_y, centre_x = grid.centres((fh, fw))
    traced = np.array([(centre_y[i], centre_x[j]) for i, j in cells])
    return grid, tuple(float(v) for v in (looked - traced).mean(axis=0))


def measure_cell_grid(
    forward,
    module,
    input_size: tuple[int, int],
    grid: CellGrid | None,
    mean,
    std,
    *,
    textures: int = 2,
    reshape=None,
    device="cpu",
    max_positions: int = 256,
    batch_size: int = 32,
) -> CellGrid:
    """The traced grid shifted to where the network's central cells respond.

    On a neutral input, the preprocessing's mean colour with a faint greyscale
    texture (uniform noise, +-0.1 in intensity), a white square of half a cell moves
    over a tiling of the input; each central cell's response at each position is the
    absolute change of its features summed over channels. The centroid of a cell's
    squared responses is where it looks; the grid moves by the mean of that minus
    the cell's centre on ``grid``, per axis. The central cells (3 x 3, or 2 x 2 on
    an even-sized map) are symmetric about the input's centre, so the image border,
    which pulls the centroid of a wide response inwards, moves their mean as little
    as possible. The shift is averaged over ``textures`` such inputs. (A flat input
    of the mean colour alone is further from what a patch probe on a textured image
    measures: on EfficientNet-Lite2 at 260 px, 4-5 px more to the left than any of
    four textures, which agree within 2 px.)

    Parameters
    ----------
    forward : callable
        Runs the network on a normalised batch ``(n, 3, H, W)``.
    module : nn.Module
        The layer whose output is explained.
    input_size : (H, W)
    grid : CellGrid or None
        The traced grid (``None``: the uniform one).
    mean, std : sequence of 3 floats
        The normalisation of the network input (of intensities in ``[0, 1]``).
    textures : int, default=2
        Neutral inputs the shift is averaged over.
    reshape : callable, optional
        Token map to ``(n, c, h, w)`` (:func:`~skmedtl.explain._cam.token_grid`).
    device : torch.device or str
    max_positions : int, default=256
        At most this many square positions (the square grows for a fine map).
    batch_size : int, default=32
        Inputs per forward pass.

    Returns
    -------
    CellGrid
        ``grid`` with its offsets shifted; the steps are kept.

    Notes
    -----
    Costs ``textures * ceil(positions / batch_size)`` forward passes up to
    ``module`` (196 positions at 224 px for a stride-32 map).
    """
    white = [(1 - m) / s for m, s in zip(mean, std, strict=True)]
    shifts = [
        _measured_shift(
            forward, module, background, grid, white, reshape, max_positions, batch_size
        )
        for background in _backgrounds(input_size, std, textures, device)
    ]
    grid = shifts[0][0]
    dy, dx = np.mean([shift for _, shift in shifts], axis=0)
    return grid.shifted(float(dy), float(dx))


#: Measured grids: backbone -> {(layer, input size, normalisation, weights):
#: CellGrid}.
_MEASURED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _weights_version(model) -> tuple[int, int]:
    """Changes whenever a parameter or buffer is modified in place (training,
    ``load_state_dict``)."""
    tensors = [*model.parameters(), *model.buffers()]
    return len(tensors), sum(t._version for t in tensors)


def cell_grid(
    network,
    x: torch.Tensor,
    module,
    placement: str,
    mean,
    std,
    *,
    owner=None,
    key=None,
    reshape=None,
) -> CellGrid | None:
    """Where the CAM places the cells of ``module``'s output.

    Parameters
    ----------
    network : callable
        Runs the network on a normalised batch.
    x : tensor of shape (n, 3, H, W)
        An input of the size the maps are computed at (its values do not
        matter).
    module : nn.Module
        The explained layer.
    placement : {"measured", "traced"}
        :func:`measure_cell_grid` or :func:`trace_cell_grid`.
    mean, std : sequence of 3 floats
        The normalisation of the network input.
    owner : nn.Module, optional
        The module whose weights the measured grid depends on (the backbone):
        the grid is cached on it, per ``key``, input size and weights version.
    key : hashable, optional
        Names the layer in the cache.
    reshape : callable, optional
        Token map to ``(n, c, h, w)``.

    Returns
    -------
    CellGrid or None
        ``None``: the uniform grid (``"traced"`` on a map the trace cannot
        follow).
    """
    check_choice("placement", placement, CAM_PLACEMENTS)
    if placement == "traced":
        return trace_cell_grid(network, x[:1], module)
    size = tuple(int(v) for v in x.shape[-2:])
    norm = tuple(float(v) for v in (*mean, *std))
    cache = None
    if owner is not None:  # a cached grid needs no trace either
        cache = _MEASURED.setdefault(owner, {})
        entry = (key, size, norm, _weights_version(owner))
        if entry in cache:
            return cache[entry]
    traced = trace_cell_grid(network, x[:1], module)
    grid = measure_cell_grid(
        network, module, size, traced, mean, std, reshape=reshape, device=x.device
    )
    if cache is not None:
        cache[entry] = grid
    return grid


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
