"""``batch_size="auto"``: the largest batch that fits in memory, within a cap.

On a GPU the peak memory of a forward pass is measured (a batch of
``_PROBE`` images, ``torch.cuda.max_memory_allocated``) and the batch fills half
of the free device memory, up to 256 images. On the CPU the peak is estimated
from the largest activation of a one-image forward pass (times a safety factor
for the tensors alive around it; :func:`probe` finds it on the ``meta`` device,
without computing anything) against half of the available RAM, up to 32 images:
larger CPU batches run no faster (measured: ONNX Runtime gives the same images/s
at 8 and 32 on ResNet-50) and only cost memory.
"""

from __future__ import annotations

import logging
import math
import os

import torch
from torch import nn

logger = logging.getLogger(__name__)

#: Upper bound of the automatic batch size per device type.
AUTO_BATCH_LIMITS = {"cpu": 32, "cuda": 256}
_MEMORY_FRACTION = 0.5  # of free memory; the rest is for everything else
_ACTIVATION_FACTOR = 4  # live tensors around the largest one (input, skip, out)
_PROBE = 8


def auto_batch_size(
    module: nn.Module | None,
    input_size: tuple[int, int],
    device: torch.device,
    precision: str = "float32",
    largest_activation: int | None = None,
) -> int:
    """The batch size for ``module`` on ``device`` (a power of two).

    Parameters
    ----------
    module : nn.Module or None
        The feature extractor, already on ``device``; only needed on a GPU or
        when ``largest_activation`` is not given.
    input_size : (int, int)
        Network input ``(height, width)``.
    device : torch.device
    precision : str
        ``"float32"``, ``"float16"`` or ``"bfloat16"``.
    largest_activation : int, optional
        Bytes of the largest activation of one image, from :func:`probe`;
        measured here when ``None``. Used on the CPU only.

    Returns
    -------
    int
    """
    limit = AUTO_BATCH_LIMITS.get(device.type, AUTO_BATCH_LIMITS["cpu"])
    if device.type == "cuda":
        per_image = _cuda_bytes_per_image(module, input_size, device, precision)
        free, _ = torch.cuda.mem_get_info(device)
    else:
        if largest_activation is None:
            x = torch.zeros((1, getattr(module, "in_chans", 3), *input_size))
            largest_activation = probe(module, x)[1]
        x_bytes = 3 * input_size[0] * input_size[1] * 4
        per_image = float(_ACTIVATION_FACTOR * max(largest_activation, x_bytes))
        free = available_memory()
    size = fit_batch(per_image, free, limit)
    logger.info(
        "batch_size='auto': %d (%.1f MB per image, %.0f MB free on %s)",
        size,
        per_image / 2**20,
        free / 2**20,
        device,
    )
    return size


def fit_batch(bytes_per_image: float, free_bytes: float, limit: int) -> int:
    """Largest power of two ``<= limit`` whose batch uses at most half of free."""
    fits = int(_MEMORY_FRACTION * free_bytes // max(bytes_per_image, 1.0))
    n = max(1, min(fits, limit))
    return 2 ** int(math.log2(n))


def available_memory() -> float:
    """Bytes of RAM available to this process (Linux ``MemAvailable``)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return float(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return 4.0 * 2**30  # unknown platform: assume a modest 4 GiB


def probe(module: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Run ``module`` on ``x``; return its output and the largest activation's bytes.

    With ``module`` and ``x`` on the ``meta`` device this computes shapes only:
    no arithmetic, no memory.
    """
    largest = 0

    def hook(mod, inputs, output):
        nonlocal largest
        if isinstance(output, torch.Tensor):
            largest = max(largest, output.numel() * output.element_size())

    leaves = [m for m in module.modules() if not list(m.children())]
    handles = [m.register_forward_hook(hook) for m in leaves]
    try:
        with torch.inference_mode():
            out = module(x)
    finally:
        for h in handles:
            h.remove()
    return out, largest


def _cuda_bytes_per_image(module, input_size, device, precision) -> float:
    dtype = getattr(torch, precision)
    torch.cuda.synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
    before = torch.cuda.memory_allocated(device)
    x = torch.zeros(
        (_PROBE, getattr(module, "in_chans", 3), *input_size), device=device
    )
    with (
        torch.inference_mode(),
        torch.autocast("cuda", dtype=dtype, enabled=precision != "float32"),
    ):
        module(x.contiguous(memory_format=torch.channels_last))
    torch.cuda.synchronize(device)
    peak = torch.cuda.max_memory_allocated(device) - before
    return float(peak) / _PROBE
