"""Image batches to normalised network input, on the extraction device.

The steps, all per image (so an embedding never depends on its batch):

1. **Intensity** to float in ``[0, 1]`` (``intensity=``), one
   :class:`~skmedtl.io.IntensityPolicy` (the vocabulary of
   :func:`~skmedtl.io.read_image`):

   - ``"auto"``: ``uint8`` divided by 255; ``bool`` as 0/1; every other integer
     type (``uint16``, ``int16``, ...) min-max scaled per image, so 12- and 16-bit
     data keep their full dynamic range; floats must already lie in ``[0, 1]``.
   - ``"minmax"``: every image min-max scaled to ``[0, 1]`` (a constant image
     becomes 0).
   - ``"dtype"``: integers divided by the maximum of their dtype (``uint16`` by
     65535); floats must lie in ``[0, 1]``.
   - ``"percentile"``, a CT window (``"lung"``, ``(40, 400)``, ...): applied per
     image on the host, before the batch goes to the device.

2. **Channels**: greyscale is repeated to three channels (``"repeat"``); for
   one-channel networks (``DataConfig.in_chans=1``: torchxrayvision) colour is
   averaged to one channel and greyscale kept (``"mean"``). The policy is
   recorded in the feature configuration.
3. **Size** (``resize=``): ``"stretch"`` resizes to the input size, ``"crop"``
   follows the ImageNet evaluation transform (shorter side to
   ``size / crop_pct``, then a centre crop), ``"pad"`` keeps the aspect ratio and
   pads with black. Antialiased, with the weights' interpolation.
4. **Normalisation** with the weights' mean and std.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch.nn import functional as F

from .._constants import CHANNEL_POLICY
from ..io._intensity import _FLOAT_TOLERANCE, DEVICE_KINDS, IntensityPolicy, minmax_rows


@dataclass(frozen=True)
class Preprocessing:
    """A complete, hashable description of the preprocessing.

    Parameters
    ----------
    input_size : tuple of int
        Network input ``(height, width)``.
    interpolation : str
        ``"bilinear"``, ``"bicubic"`` or ``"nearest"``.
    mean, std : tuple of float
        Normalisation of RGB values in ``[0, 1]``.
    crop_pct : float
        Centre-crop fraction for ``resize="crop"``.
    resize : {"stretch", "crop", "pad"}
        How images reach ``input_size``.
    intensity : IntensityPolicy
        How raw values become ``[0, 1]`` (recorded by its :meth:`~skmedtl.io.
        IntensityPolicy.key` in :meth:`to_dict`).
    channels : str
        Channel policy for greyscale input.
    """

    input_size: tuple[int, int]
    interpolation: str
    mean: tuple[float, ...]
    std: tuple[float, ...]
    crop_pct: float
    resize: str = "stretch"
    intensity: IntensityPolicy = IntensityPolicy("auto")
    channels: str = CHANNEL_POLICY

    @classmethod
    def from_config(
        cls,
        config,
        *,
        input_size=None,
        resize: str = "stretch",
        intensity="auto",
    ) -> Preprocessing:
        """The preprocessing of a :class:`~skmedtl.backbones.DataConfig`.

        ``input_size`` (int or ``(h, w)``) overrides the config's size;
        ``intensity`` is any :class:`~skmedtl.io.IntensityPolicy` spec.
        """
        return cls(
            input_size=resolve_input_size(input_size, config.input_size),
            interpolation=config.interpolation,
            mean=tuple(config.mean),
            std=tuple(config.std),
            crop_pct=config.crop_pct,
            resize=resize,
            intensity=IntensityPolicy.from_spec(intensity),
            # One-channel networks (chest X-ray models): colour averaged to grey.
            channels=CHANNEL_POLICY if getattr(config, "in_chans", 3) == 3 else "mean",
        )

    def to_dict(self) -> dict:
        out = asdict(self)
        out["intensity"] = self.intensity.key()
        return out

    def __call__(
        self,
        images: np.ndarray | list[np.ndarray],
        device: torch.device | str = "cpu",
        names: list[str] | None = None,
    ) -> torch.Tensor:
        """Preprocess a batch into a ``(n, 3, h, w)`` float32 tensor on ``device``.

        Parameters
        ----------
        images : ndarray or list of ndarray
            Channels-last images; an array holds images of one shape.
        device : torch.device or str
            Where to compute.
        names : list of str, optional
            How to name each image in error messages.
        """
        if isinstance(images, np.ndarray):
            out = self._batch(images, device, names)
        else:
            out = torch.cat(
                [
                    self._batch(img[None], device, None if names is None else [name])
                    for img, name in zip(
                        images, names or [None] * len(images), strict=True
                    )
                ]
            )
        mean = torch.tensor(self.mean, device=out.device).view(1, -1, 1, 1)
        std = torch.tensor(self.std, device=out.device).view(1, -1, 1, 1)
        if torch.broadcast_shapes(out.shape, mean.shape) != out.shape:
            return (out - mean) / std  # one plane, per-channel statistics: widened
        # ``out`` is this call's own tensor (every step above allocates it, never
        # the caller's memory): normalised in place, the same arithmetic without
        # two more batch-sized allocations.
        return out.sub_(mean).div_(std)

    # -- steps -------------------------------------------------------------------
    def _batch(self, batch: np.ndarray, device, names) -> torch.Tensor:
        x = _to_unit_range(batch, self.intensity, device, names)
        if x.ndim == 3:
            x = x[..., None]
        x = x.permute(0, 3, 1, 2)  # NHWC -> NCHW
        if self.channels == "mean":  # a one-channel network
            if x.shape[1] != 1:
                x = x[:, :3].mean(dim=1, keepdim=True)
            return self._resize(x).contiguous()
        # Greyscale is repeated after resizing: each plane is resized on its own,
        # so the three planes are the same numbers for a third of the work.
        grey = x.shape[1] == 1
        x = self._resize(x)
        return (x.expand(-1, 3, -1, -1) if grey else x).contiguous()

    def _resize(self, x: torch.Tensor) -> torch.Tensor:
        target_h, target_w = self.input_size
        h, w = x.shape[-2:]
        if self.resize == "stretch":
            return _interpolate(x, (target_h, target_w), self.interpolation)
        if self.resize == "crop":
            short = min(target_h, target_w) / self.crop_pct
            scale = short / min(h, w)
            size = (max(target_h, round(h * scale)), max(target_w, round(w * scale)))
            x = _interpolate(x, size, self.interpolation)
            top = (size[0] - target_h) // 2
            left = (size[1] - target_w) // 2
            return x[..., top : top + target_h, left : left + target_w]
        # pad: fit inside, keep aspect ratio, centre on black
        scale = min(target_h / h, target_w / w)
        size = (min(target_h, round(h * scale)), min(target_w, round(w * scale)))
        x = _interpolate(x, size, self.interpolation)
        pad_h, pad_w = target_h - size[0], target_w - size[1]
        return F.pad(
            x, (pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2)
        )


def _interpolate(x: torch.Tensor, size: tuple[int, int], mode: str) -> torch.Tensor:
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    if mode == "nearest":
        return F.interpolate(x, size=size, mode="nearest-exact")
    out = F.interpolate(x, size=size, mode=mode, align_corners=False, antialias=True)
    # Bicubic overshoots; the original images (8-bit) could not hold those values.
    return out.clamp_(0.0, 1.0) if mode == "bicubic" else out


def _to_unit_range(
    batch: np.ndarray, policy: IntensityPolicy, device, names: list[str] | None
) -> torch.Tensor:
    if policy.kind not in DEVICE_KINDS:  # windows, percentiles: per image, host
        batch = np.stack([policy(image) for image in batch])
    policy = policy.kind
    kind = batch.dtype.kind
    if kind == "b":
        return _tensor(batch, np.float32, device)
    if kind == "f":
        x = _tensor(batch, np.float32, device)
        _check_finite(x, names)
        if policy == "minmax":
            return _minmax(x)
        _check_unit_range(x, names)
        return x.clamp(0.0, 1.0)  # not in place: x may share the caller's memory
    # integers
    if kind == "u" and batch.dtype.itemsize == 1 and policy in ("auto", "dtype"):
        # uint8 goes to the device as uint8: 4x less to copy.
        return _tensor(batch, np.uint8, device).float().div_(255)
    if policy == "dtype":
        peak = float(np.iinfo(batch.dtype).max)
        return _tensor(batch, np.float32, device).clamp_(min=0).div_(peak)
    # auto (integers wider than 8 bits) and minmax. float64 keeps 32-bit ints exact.
    wide = batch.dtype.itemsize >= 4
    return _minmax(_tensor(batch, np.float64 if wide else np.float32, device)).float()


def _tensor(batch: np.ndarray, dtype, device) -> torch.Tensor:
    # Copies only when needed: another dtype, not contiguous, or read-only (torch
    # cannot wrap read-only memory, e.g. arrays decoded by Pillow).
    x = torch.from_numpy(np.require(batch, dtype, ["C", "W"]))
    if torch.device(device).type == "cuda":
        # From page-locked memory the host-to-device copy runs asynchronously.
        return x.pin_memory().to(device, non_blocking=True)
    return x.to(device)


_minmax = minmax_rows


def _check_finite(x: torch.Tensor, names: list[str] | None) -> None:
    bad = ~torch.isfinite(x.reshape(x.shape[0], -1)).all(dim=1)
    if bool(bad.any()):
        i = int(bad.nonzero()[0, 0])
        raise ValueError(
            f"{_name(names, i)} contains NaN or infinite values; clean or impute "
            "them before feature extraction."
        )


def _check_unit_range(x: torch.Tensor, names: list[str] | None) -> None:
    flat = x.reshape(x.shape[0], -1)
    lo, hi = flat.min(dim=1).values, flat.max(dim=1).values
    bad = (lo < -_FLOAT_TOLERANCE) | (hi > 1 + _FLOAT_TOLERANCE)
    if bool(bad.any()):
        i = int(bad.nonzero()[0, 0])
        raise ValueError(
            f"{_name(names, i)} is a float image with values in "
            f"[{float(lo[i]):.4g}, {float(hi[i]):.4g}], outside [0, 1]. Rescale it "
            "to [0, 1], or pass intensity='minmax' to scale each image by its own "
            "range."
        )


def _name(names: list[str] | None, i: int) -> str:
    return names[i] if names is not None else f"image {i} of the batch"


def resolve_input_size(value, default: tuple[int, int]) -> tuple[int, int]:
    """``input_size`` parameter to ``(h, w)``: ``None`` keeps the weights' size."""
    if value is None:
        return tuple(default)
    if isinstance(value, (int, np.integer)):
        value = (int(value), int(value))
    try:
        h, w = (int(v) for v in value)
    except (TypeError, ValueError) as e:
        raise ValueError(
            f"input_size must be None, an int or (height, width); got {value!r}."
        ) from e
    if h < 8 or w < 8 or not math.isfinite(h * w):
        raise ValueError(f"input_size must be at least 8 pixels; got {value!r}.")
    return (h, w)
