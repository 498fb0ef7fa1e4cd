"""Choosing the torch device."""

from __future__ import annotations

import torch


def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"`` → CUDA when available, else CPU; other values as torch devices.

    Raises a clear ``ValueError`` for unknown strings and for CUDA devices that
    this machine does not have.
    """
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as e:
        raise ValueError(
            f"Unknown device {device!r}: use 'auto', 'cpu', 'cuda' or 'cuda:<index>'."
        ) from e
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} but CUDA is not available on this machine; use "
            "device='auto' or 'cpu'."
        )
    return resolved
