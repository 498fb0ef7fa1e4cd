"""Measuring the cost of a cell: wall time, peak memory, device."""

from __future__ import annotations

import os
import resource
import sys
import threading
import time

__all__ = ["MEMORY_HELP", "PeakMemory", "describe_device"]

#: What ``peak_memory_mb`` means, for the report.
MEMORY_HELP = (
    "peak memory: the largest increase of the process's resident memory (RSS) "
    "over its value when the step started, sampled every 10 ms from "
    "/proc/self/statm (where /proc is missing: the increase of the process's "
    "lifetime peak, ru_maxrss, which only counts new peaks). It covers Python, "
    "NumPy and PyTorch CPU tensors alike. On CUDA, peak_gpu_memory_mb is "
    "torch.cuda.max_memory_allocated() over the step."
)

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_STATM = "/proc/self/statm"


def _rss_bytes() -> int | None:
    try:
        with open(_STATM) as f:
            return int(f.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return None


def _maxrss_bytes() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


class PeakMemory:
    """Context manager: peak RSS increase (and CUDA peak) while it is open.

    Examples
    --------
    >>> with PeakMemory() as memory:
    ...     block = bytearray(64 * 2**20)
    >>> memory.peak_mb >= 0
    True
    """

    def __init__(self, device=None, interval: float = 0.01):
        self.device = device
        self.interval = interval
        self.peak_mb = 0.0
        self.peak_gpu_mb: float | None = None

    def __enter__(self) -> PeakMemory:
        self._start = _rss_bytes()
        self._maxrss = _maxrss_bytes()
        self._peak = self._start or 0
        self._stop = threading.Event()
        if self._start is not None:
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        if self.device is not None and self.device.type == "cuda":
            import torch

            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self._gpu_start = torch.cuda.memory_allocated(self.device)
        return self

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            rss = _rss_bytes()
            if rss is not None and rss > self._peak:
                self._peak = rss

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._start is not None:
            self._thread.join()
            rss = _rss_bytes() or 0
            self._peak = max(self._peak, rss)
            self.peak_mb = max(0.0, (self._peak - self._start) / 2**20)
        else:
            self.peak_mb = max(0.0, (_maxrss_bytes() - self._maxrss) / 2**20)
        if self.device is not None and self.device.type == "cuda":
            import torch

            torch.cuda.synchronize(self.device)
            peak = torch.cuda.max_memory_allocated(self.device) - self._gpu_start
            self.peak_gpu_mb = max(0.0, peak / 2**20)


class Stopwatch:
    """``with Stopwatch() as t: ...``; then ``t.seconds``."""

    def __enter__(self) -> Stopwatch:
        self._start = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self._start


def describe_device(device) -> str:
    """``"cpu (2 threads)"`` or ``"cuda:0 (NVIDIA H100 80GB HBM3)"``."""
    import torch

    if device.type == "cuda":
        index = (
            device.index if device.index is not None else torch.cuda.current_device()
        )
        return f"cuda:{index} ({torch.cuda.get_device_name(index)})"
    threads = torch.get_num_threads()
    return f"{device.type} ({threads} thread{'s' if threads != 1 else ''})"
