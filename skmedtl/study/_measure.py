"""Measuring the cost of a cell: wall time, peak memory, device."""

from __future__ import annotations

import os
import resource
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields

__all__ = [
    "MEMORY_HELP",
    "CellTimes",
    "PeakMemory",
    "StageTimes",
    "StudyTimes",
    "cpu_threads",
    "describe_device",
]

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


@dataclass
class StageTimes:
    """Wall seconds of named stages: the study's profiler.

    Every stage is a field ending in ``_s`` (``None``: the stage did not run);
    the one way to fill it is ``with times.stage("field_s"): ...``, which adds
    the wall time of the block to the field (a stage entered twice accumulates).

    Examples
    --------
    >>> times = StudyTimes()
    >>> with times.stage("report_s"):
    ...     pass
    >>> times.report_s >= 0.0, times.statistics_s
    (True, None)
    """

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time the block and add its wall seconds to the field ``name``."""
        if not name.endswith("_s") or name not in {f.name for f in fields(self)}:
            raise AttributeError(f"{type(self).__name__} has no stage {name!r}.")
        with Stopwatch() as clock:
            yield
        setattr(self, name, (getattr(self, name) or 0.0) + clock.seconds)

    def to_dict(self) -> dict:
        """The stages as a JSON-ready dict (the records' ``timings``)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict | None):
        """Back from :meth:`to_dict` (fields it does not know are left out)."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in (values or {}).items() if k in known})


@dataclass
class CellTimes(StageTimes):
    """Where one cell's wall time went (its record's ``timings``).

    Attributes
    ----------
    extraction_s : float or None
        Frozen embeddings of the cell's batch, in this run (recorded on the
        first cell of the batch; the others share it).
    head_tuning_s : float or None
        Hybrids: the head's grid, every candidate cross-validated inside the
        training images.
    head_fit_s : float or None
        Hybrids: the selected candidate's refit on every training image.
    training_s : float or None
        Trained approaches: the epochs of every learning rate tried.
    cached_trunk : bool or None
        Trained approaches: whether the frozen trunk's activations were cached
        between epochs (``None``: not known).
    prediction_s : float or None
        Predicting the validation and test images with the finished model.
    evaluation_s : float or None
        Test metrics with their bootstrap intervals.
    calibration_s : float or None
        Recalibration, the operating point and the validation statistics.
    """

    extraction_s: float | None = None
    head_tuning_s: float | None = None
    head_fit_s: float | None = None
    training_s: float | None = None
    cached_trunk: bool | None = None
    prediction_s: float | None = None
    evaluation_s: float | None = None
    calibration_s: float | None = None


@dataclass
class StudyTimes(StageTimes):
    """Where a study run's wall time went (``study.json``'s ``timings``).

    Attributes
    ----------
    preparation_s : float or None
        Reading the data set, planning the grid (once per study object: in
        ``plan()`` when that came first).
    cells_s : float or None
        Running the unfinished cells (their split: the cells' ``timings``),
        saving each one's model included.
    cell_save_s : float or None
        Saving each finished cell's model to ``models/<key>/`` (part of
        ``cells_s``).
    statistics_s : float or None
        Pooling seeds, bootstrap intervals, the recommendation and the paired
        comparisons.
    model_save_s : float or None
        Writing the selected models and their model cards.
    saliency_s : float or None
        The report's saliency figure.
    localisation_s : float or None
        The localisation table and figure (``annotations``).
    report_s : float or None
        Tables, ``predictions.csv``, figures and the report.
    outputs_reused : bool
        The outputs were those of an earlier run with the same inputs (the
        four stages above did not run).
    """

    preparation_s: float | None = None
    cells_s: float | None = None
    cell_save_s: float | None = None
    statistics_s: float | None = None
    model_save_s: float | None = None
    saliency_s: float | None = None
    localisation_s: float | None = None
    report_s: float | None = None
    outputs_reused: bool = False


def cpu_threads(device) -> int | None:
    """PyTorch's CPU threads on a CPU device (``None`` on a GPU): a network
    trained on a CPU depends on them, as PyTorch splits its sums by thread."""
    import torch

    return torch.get_num_threads() if device.type == "cpu" else None


def describe_device(device) -> str:
    """``"cpu (2 threads)"`` or ``"cuda:0 (NVIDIA H100 80GB HBM3)"``."""
    import torch

    if device.type == "cuda":
        index = (
            device.index if device.index is not None else torch.cuda.current_device()
        )
        return f"cuda:{index} ({torch.cuda.get_device_name(index)})"
    threads = cpu_threads(device)
    return f"{device.type} ({threads} thread{'s' if threads != 1 else ''})"
