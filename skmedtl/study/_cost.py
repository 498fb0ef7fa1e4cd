"""What a study's cells cost: frozen embeddings timed through the cache, threads.

Frozen approaches share one extraction per backbone (and seed, with random
weights); its time and memory are measured once and logged as an
``"extraction"`` record, so a resumed study reports the cost of the run that
computed the embeddings, not of a cache hit. When most embeddings came from the
cache, the time per image is estimated from a sample embedded without it.
"""

from __future__ import annotations

import contextlib
import logging
import os

import numpy as np

from ..utils._validation import validate_params
from ._cells import Cell, CellContext, Embeddings
from ._measure import PeakMemory, Stopwatch
from ._records import ResultStore, settings_key
from ._run import now

__all__ = [
    "embedding_settings",
    "extract_embeddings",
    "resolve_threads",
    "torch_threads",
]

logger = logging.getLogger(__name__)

#: Images timed without the cache when every embedding was already cached.
TIMING_SAMPLE = 32
#: Cost fields an extraction record carries into :class:`Embeddings`.
_COST_FIELDS = (
    "extract_time_s",
    "seconds_per_image",
    "peak_memory_mb",
    "peak_gpu_memory_mb",
    "method",
)


def embedding_settings(ctx: CellContext, cell: Cell, fingerprint: str) -> dict:
    """What a frozen cell's embeddings depend on (hashed into their key)."""
    return {
        "dataset": fingerprint,
        "backbone": cell.backbone,
        "weights": cell.settings["weights"],
        "input_size": ctx.profile.input_size,
        "seed": cell.seed if ctx.weights is None else None,
    }


def extract_embeddings(
    ctx: CellContext, cell: Cell, store: ResultStore, fingerprint: str, client=None
) -> Embeddings:
    """Frozen embeddings of dev + test images, through the cache, with cost.

    ``client`` (a Dask client or scheduler address): the images are embedded
    in shards on that cluster (``CNNFeatures(client=...)``), this process
    storing the rows in the cache. The features kept with the embeddings (and
    saved with hybrid cells) never carry the client.
    """
    from ..features import CNNFeatures
    from ..utils._devices import resolve_device

    settings = embedding_settings(ctx, cell, fingerprint)
    key = settings_key(settings)
    index = np.concatenate([ctx.dev, ctx.test])
    images = ctx.data.take(index)
    features = CNNFeatures(
        cell.backbone,
        weights=ctx.weights,
        input_size=ctx.profile.input_size,
        batch_size=ctx.batch_size,
        device=ctx.device,
        verbose=ctx.verbose,
        random_state=cell.seed,
        cache_path=ctx.cache_path,
        client=client,
    )
    device = resolve_device(ctx.device)
    with PeakMemory(device) as memory, Stopwatch() as clock:
        features.fit(images[:1])
        E = features.transform(images)
    features.set_params(client=None)  # a run-time setting: never kept
    stats = features.transform_stats_  # what ran, not what was asked for
    engine = stats["engine"] or features.build_engine()
    earlier = store.latest("extraction").get(key)
    if earlier is not None:
        cost = {k: earlier[k] for k in _COST_FIELDS}
        cost["method"] = f"{earlier['method']} (earlier run {earlier['run_id']})"
    else:
        cost = _measured_cost(features, images, device, memory, clock, stats)
        store.append(
            {
                "type": "extraction",
                "key": key,
                "run_id": ctx.run_id,
                "settings": settings,
                "engine": engine,
                "n_images": len(index),
                "n_computed": stats["n_computed"],
                "wall_time_s": clock.seconds,
                "time": now(),
                **cost,
            }
        )
    return Embeddings(
        engine=engine,
        dev=E[: len(ctx.dev)],
        test=E[len(ctx.dev) :],
        input_size=list(features.preprocessing_.input_size),
        features=features,
        **cost,
    )


def _measured_cost(features, images, device, memory, clock, stats) -> dict:
    """Time and memory of an extraction, estimated when the cache answered."""
    n, n_computed = len(images), stats["n_computed"]
    cost = {"peak_memory_mb": memory.peak_mb, "peak_gpu_memory_mb": memory.peak_gpu_mb}
    if n_computed is None or n_computed >= max(1, n // 2):
        per_image = clock.seconds / max(1, n_computed or n)
        cost["method"] = (
            f"measured ({n_computed if n_computed is not None else n} of {n} "
            "images computed)"
        )
    else:
        per_image, sample_memory = _time_uncached(features, images, device)
        cost["peak_memory_mb"] = max(memory.peak_mb, sample_memory)
        cost["method"] = (
            f"estimated from {min(n, TIMING_SAMPLE)} images embedded without "
            f"the cache ({n - n_computed} of {n} were cached)"
        )
    cost.update(seconds_per_image=per_image, extract_time_s=per_image * n)
    return cost


def _time_uncached(features, images, device) -> tuple[float, float]:
    """Seconds per image (and peak MB) embedding a sample without the cache."""
    sample = images[:TIMING_SAMPLE]
    saved = features.cache_path
    features.set_params(cache_path=None)
    try:
        features.transform(sample[:1])  # warm-up: first-call overheads
        with PeakMemory(device) as memory, Stopwatch() as clock:
            features.transform(sample)
    finally:
        features.set_params(cache_path=saved)
    return clock.seconds / len(sample), memory.peak_mb


def resolve_threads(n_threads, default: int, device_type: str, constraint) -> int:
    """PyTorch threads for ``n_threads``.

    ``None``: PyTorch's ``default``, within the cores this process may use
    (:func:`~skmedtl.utils._devices.usable_cpus`), the same count on every run
    on this machine. ``"auto"``: only the cores other processes leave idle, by
    the 1-minute load average (at least one).
    """
    from ..utils._devices import usable_cpus

    if n_threads is None:
        return default if device_type != "cpu" else max(1, min(default, usable_cpus()))
    if n_threads == "auto":
        if device_type != "cpu" or not hasattr(os, "getloadavg"):
            return default
        idle = usable_cpus() - os.getloadavg()[0]
        return max(1, min(default, round(idle)))
    validate_params({"n_threads": n_threads}, {"n_threads": constraint})
    return int(n_threads)


def busy_cpu_warning(n_threads, threads: int, device_type: str) -> str | None:
    """A warning when the default thread count meets a CPU others keep busy."""
    from ..utils._devices import usable_cpus

    if n_threads is not None or device_type != "cpu" or threads < 2:
        return None
    if not hasattr(os, "getloadavg"):
        return None
    load, cores = os.getloadavg()[0], usable_cpus()
    if load < cores:
        return None
    return (
        f"The CPU is busy (1-minute load {load:.1f} on {cores} cores): training on "
        f"{threads} threads may run several times slower while other processes "
        "compute. n_threads=1 (--threads 1) keeps the run reproducible; "
        "n_threads='auto' (--threads auto) uses only idle cores, but then the "
        "trained approaches' results depend on the load."
    )


@contextlib.contextmanager
def torch_threads(study):
    """PyTorch's CPU threads set by a prepared study's ``n_threads``, then restored."""
    import torch

    previous = torch.get_num_threads()
    threads = resolve_threads(
        study.n_threads,
        previous,
        study.device_.type,
        study._parameter_constraints["n_threads"],
    )
    warning = busy_cpu_warning(study.n_threads, threads, study.device_.type)
    if warning:
        logger.warning(warning)
    try:
        if threads != previous:
            logger.info(
                "Using %d PyTorch thread(s) instead of %d (n_threads=%r).",
                threads,
                previous,
                study.n_threads,
            )
            torch.set_num_threads(threads)
        yield threads
    finally:
        torch.set_num_threads(previous)
