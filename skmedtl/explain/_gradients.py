"""Gradient attributions: gradient x input and integrated gradients.

Both attribute the target's score to the pixels of the network input (after
the resize and normalisation), summed over the colour channels. The reference
is a black image (zero intensity, normalised like any input): the absence of
signal in most medical images, and what ``resize="pad"`` pads with.

- ``"gradxinput"``: ``(x - x0) * d score / dx`` at the image (one backward
  pass; Shrikumar et al., 2016).
- ``"integrated_gradients"``: ``(x - x0) * mean_k d score / dx`` at ``x0 + (k
  - 0.5) / m * (x - x0)``, ``k = 1..m`` (Sundararajan et al., 2017, the
  midpoint rule with ``m = 16`` steps); its maps sum to ``score(x) -
  score(x0)`` up to the quadrature error (completeness).

Pixel attributions are noisy from pixel to pixel; the maps are smoothed with
a Gaussian of ``sigma = 1/56`` of the input's shorter side (4 px at 224 px)
before they are resampled onto the image, so that a map's maximum marks a
region rather than one pixel.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

__all__ = ["GRADIENT_METHODS", "gradient_maps"]

#: The gradient attributions.
GRADIENT_METHODS = ("gradxinput", "integrated_gradients")

#: Integrated gradients: steps of the midpoint rule.
IG_STEPS = 16


def _reference(x: torch.Tensor, preprocessing) -> torch.Tensor:
    """A black image, normalised as the network's input is."""
    mean = torch.as_tensor(preprocessing.mean, dtype=x.dtype, device=x.device)
    std = torch.as_tensor(preprocessing.std, dtype=x.dtype, device=x.device)
    n_chans = x.shape[1]
    mean = mean[:n_chans] if mean.numel() >= n_chans else mean.expand(n_chans)
    std = std[:n_chans] if std.numel() >= n_chans else std.expand(n_chans)
    return ((0 - mean) / std)[None, :, None, None].expand_as(x)


def _score_gradient(network, x, target) -> tuple[torch.Tensor, np.ndarray]:
    with torch.inference_mode(False), torch.enable_grad():
        x = x.detach().clone().requires_grad_(True)
        scores = network(x)
        if target is None:
            target = scores.argmax(dim=1).cpu().numpy()
        index = torch.as_tensor(np.asarray(target), device=scores.device)
        picked = scores.gather(1, index[:, None]).sum()
        (grad,) = torch.autograd.grad(picked, x)
    return grad.detach(), np.asarray(target)


def smooth(maps: torch.Tensor) -> torch.Tensor:
    """Gaussian smoothing, ``sigma`` = 1/56 of the shorter side (reflect padded)."""
    sigma = min(maps.shape[-2:]) / 56
    if sigma < 0.5:
        return maps
    radius = int(np.ceil(3 * sigma))
    t = torch.arange(-radius, radius + 1, dtype=maps.dtype, device=maps.device)
    kernel = torch.exp(-(t**2) / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    x = maps[:, None]
    x = F.pad(x, (radius, radius, radius, radius), mode="reflect")
    x = F.conv2d(x, kernel[None, None, :, None])
    x = F.conv2d(x, kernel[None, None, None, :])
    return x[:, 0]


def gradient_maps(
    method: str, network, x: torch.Tensor, target, preprocessing
) -> tuple[torch.Tensor, np.ndarray]:
    """Attribution maps over the network input ``(n, H, W)`` and the targets.

    Parameters
    ----------
    method : {"gradxinput", "integrated_gradients"}
    network : ScoreNetwork
    x : tensor of shape (n, c, H, W)
        Normalised images on the network's device.
    target : ndarray of int or None
        Class index per image; ``None`` takes the highest score.
    preprocessing : Preprocessing
        For the black reference image.
    """
    reference = _reference(x, preprocessing)
    delta = x - reference
    grad, target = _score_gradient(network, x, target)
    if method == "integrated_gradients":
        grad = torch.zeros_like(x)
        for k in range(IG_STEPS):
            alpha = (k + 0.5) / IG_STEPS
            grad += _score_gradient(network, reference + alpha * delta, target)[0]
        grad /= IG_STEPS
    elif method != "gradxinput":
        raise ValueError(f"Unknown gradient method {method!r}.")
    maps = (delta * grad).sum(dim=1).float()
    return smooth(maps).cpu(), np.asarray(target)
