"""Choosing the torch device, and the CPU cores this process may use."""

from __future__ import annotations

import math
import os
from pathlib import Path

import torch

#: cgroup v2 and v1 files holding a container's CPU quota.
_CGROUP_V2_MAX = Path("/sys/fs/cgroup/cpu.max")
_CGROUP_V1_QUOTA = Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us")
_CGROUP_V1_PERIOD = Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us")


def _cgroup_cpu_quota() -> float | None:
    """Cores a container's CPU quota allows (``None``: no quota, or unreadable)."""
    try:
        if _CGROUP_V2_MAX.exists():
            quota, period = _CGROUP_V2_MAX.read_text().split()[:2]
            return None if quota == "max" else int(quota) / int(period)
        if _CGROUP_V1_QUOTA.exists():
            quota = int(_CGROUP_V1_QUOTA.read_text())
            period = int(_CGROUP_V1_PERIOD.read_text())
            return None if quota <= 0 else quota / period
    except (OSError, ValueError):
        return None
    return None


def usable_cpus() -> int:
    """The CPU cores this process may use: its affinity, within a container's quota.

    ``os.cpu_count()`` counts the machine's cores; a cluster job or a container
    is often given fewer (an affinity mask, a cgroup quota), and threads beyond
    them only wait for each other.
    """
    if hasattr(os, "sched_getaffinity"):
        cores = len(os.sched_getaffinity(0))
    else:  # macOS, Windows
        cores = os.cpu_count() or 1
    quota = _cgroup_cpu_quota()
    if quota is not None:
        cores = min(cores, max(1, math.ceil(quota)))
    return max(1, cores)


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
