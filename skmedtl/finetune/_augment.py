"""Light data augmentation on normalised image batches, on the training device.

``augment=True`` gives :class:`LightAugmentation`: horizontal flips, small
rotations and intensity jitter, mild enough for most medical images (no vertical
flips: anatomy has an up and a down). Randomness comes from torch's generator,
which the training loop forks and seeds from ``random_state``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch.nn import functional as F

__all__ = ["LightAugmentation", "resolve_augmentation"]


class LightAugmentation:
    """Random flips, rotations and brightness / contrast changes.

    Works on a normalised ``(n, 3, h, w)`` batch: it undoes the normalisation,
    transforms the images in ``[0, 1]``, clips and normalises again. Each image
    gets its own random draw.

    Parameters
    ----------
    mean, std : sequence of float
        The normalisation of the batch (the backbone's preprocessing).
    hflip : float, default=0.5
        Probability of a left-right flip.
    max_rotation : float, default=10.0
        Rotations are uniform in ``[-max_rotation, max_rotation]`` degrees; the
        corners are filled with black.
    brightness : float, default=0.1
        Intensities are multiplied by a factor uniform in ``1 ± brightness``.
    contrast : float, default=0.1
        Deviations from each image's mean are scaled by ``1 ± contrast``.

    Examples
    --------
    >>> import torch
    >>> aug = LightAugmentation(mean=(0.5,) * 3, std=(0.5,) * 3)
    >>> aug(torch.zeros(2, 3, 16, 16)).shape
    torch.Size([2, 3, 16, 16])
    """

    def __init__(
        self,
        mean: Sequence[float],
        std: Sequence[float],
        *,
        hflip: float = 0.5,
        max_rotation: float = 10.0,
        brightness: float = 0.1,
        contrast: float = 0.1,
    ):
        self.mean = tuple(float(m) for m in mean)
        self.std = tuple(float(s) for s in std)
        self.hflip = hflip
        self.max_rotation = max_rotation
        self.brightness = brightness
        self.contrast = contrast

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        mean = torch.tensor(self.mean, device=x.device).view(1, -1, 1, 1)
        std = torch.tensor(self.std, device=x.device).view(1, -1, 1, 1)
        x = x.float() * std + mean
        flip = torch.rand(n, device=x.device) < self.hflip
        x = torch.where(flip.view(-1, 1, 1, 1), x.flip(-1), x)
        if self.max_rotation:
            x = _rotate(x, _uniform(n, self.max_rotation, x.device))
        level = x.mean(dim=(1, 2, 3), keepdim=True)
        scale = 1 + _uniform(n, self.contrast, x.device).view(-1, 1, 1, 1)
        x = (x - level) * scale + level
        x = x * (1 + _uniform(n, self.brightness, x.device).view(-1, 1, 1, 1))
        return (x.clamp(0.0, 1.0) - mean) / std


def _uniform(n: int, half_width: float, device) -> torch.Tensor:
    return (torch.rand(n, device=device) * 2 - 1) * half_width


def _rotate(x: torch.Tensor, degrees: torch.Tensor) -> torch.Tensor:
    angle = degrees * (math.pi / 180)
    cos, sin = torch.cos(angle), torch.sin(angle)
    zero = torch.zeros_like(cos)
    # affine_grid works in coordinates normalised per axis: rescale the rotation
    # so that non-square images rotate without shearing.
    h, w = x.shape[-2:]
    theta = torch.stack(
        [
            torch.stack([cos, -sin * h / w, zero], 1),
            torch.stack([sin * w / h, cos, zero], 1),
        ],
        1,
    )
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, padding_mode="zeros", align_corners=False)


def resolve_augmentation(
    augment, mean: Sequence[float], std: Sequence[float]
) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """The ``augment`` parameter as a callable on batches, or ``None`` (off)."""
    if augment is None or augment is False:
        return None
    if augment is True:
        return LightAugmentation(mean, std)
    if callable(augment):
        return augment
    raise ValueError(
        f"augment must be False, True (flips, rotations up to 10 degrees, "
        f"brightness/contrast jitter of 10%) or a callable taking and returning a "
        f"normalised (n, 3, h, w) batch; got {augment!r}."
    )
