"""What runs on the Dask workers: decode, hash and embed shards of images.

Each worker process builds a feature extractor once per feature configuration and
reuses it for every shard it is given (the first shard pays for loading the
weights, later ones do not). Workers never open the embedding cache: they return
rows, and the client, the single writer, stores them.

Nothing here imports Dask at module level; the functions run on any process.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections import Counter, OrderedDict
from dataclasses import dataclass

import numpy as np

from ..cache import config_fingerprint, image_keys
from ..io._sequence import ImageSequence

__all__ = ["FeatureSpec", "embed_shard", "key_shard", "stats"]

logger = logging.getLogger(__name__)

#: Extractors kept per worker. Two, so a search alternating between two
#: configurations does not rebuild; more would hold several models in memory.
MAX_MODELS = 2


@dataclass(frozen=True)
class FeatureSpec:
    """How a worker rebuilds the client's extractor, and what it must match.

    Attributes
    ----------
    estimator_class : type
        ``CNNFeatures`` or a subclass.
    params : dict
        Its parameters, without client, cache and progress bar.
    fingerprint : str
        ``config_fingerprint(feature_config_)`` of the client's fitted extractor.
    n_features : int
        Width of the client's embeddings.
    """

    estimator_class: type
    params: dict
    fingerprint: str
    n_features: int

    @property
    def key(self) -> str:
        # Parameters outside feature_config_ (backend, device, batch size) change
        # how a worker runs, not what it returns: they are part of the key too.
        params = sorted((k, repr(v)) for k, v in self.params.items())
        return config_fingerprint(
            {
                "fingerprint": self.fingerprint,
                "params": params,
                "class": self.estimator_class.__qualname__,
            }
        )


class _WorkerState:
    def __init__(self):
        self.lock = threading.Lock()
        self.models: OrderedDict[str, object] = OrderedDict()
        self.builds: Counter[str] = Counter()
        self.images = 0
        self.shards = 0
        self.keyed = 0


class _Local:
    """Stands for "not in a Dask worker" (tasks run inline, e.g. in tests)."""


_LOCAL = _Local()
_STATES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_STATES_LOCK = threading.Lock()


def _state(worker=None) -> _WorkerState:
    if worker is None:
        try:
            from distributed import get_worker

            worker = get_worker()
        except (ImportError, ValueError):  # not running inside a Dask worker
            worker = _LOCAL
    with _STATES_LOCK:
        state = _STATES.get(worker)
        if state is None:
            state = _STATES[worker] = _WorkerState()
        return state


def _features(spec: FeatureSpec, images):
    """This worker's extractor for ``spec``, built on first use."""
    state = _state()
    key = spec.key
    # One lock per worker: threads of one worker wait for the first build
    # instead of building the same model several times.
    with state.lock:
        features = state.models.get(key)
        if features is not None:
            state.models.move_to_end(key)
            return features
        features = spec.estimator_class(**spec.params).fit(images)
        got = config_fingerprint(features.feature_config_)
        if got != spec.fingerprint or features.n_features_out_ != spec.n_features:
            raise RuntimeError(
                f"This Dask worker built a different feature extractor for backbone "
                f"{spec.params.get('backbone')!r} than the client (configuration "
                f"{got[:12]} instead of {spec.fingerprint[:12]}): its weights file, "
                "its library versions (skmedtl, torch, torchvision, timm) or its "
                "weights cache differ from the client's. Give the workers the same "
                "environment and the same weights as the client."
            )
        features.build_engine()  # now, once, under the lock
        state.models[key] = features
        state.builds[spec.fingerprint] += 1
        while len(state.models) > MAX_MODELS:
            state.models.popitem(last=False)
        logger.info("Built %s on this worker", spec.params.get("backbone"))
        return features


def embed_shard(spec: FeatureSpec, images, kind: str, with_keys: bool):
    """Embed one shard.

    Parameters
    ----------
    spec : FeatureSpec
    images : ndarray, list of ndarray or list of str
        The shard: an array batch, a list of images, or file paths (decoded here).
    kind : {"array", "list", "paths"}
    with_keys : bool
        Also return the cache keys of what was embedded (paths only: the client
        has the arrays otherwise).

    Returns
    -------
    keys : list of str or None
    rows : ndarray of float32, shape (len(images), spec.n_features)
    engine : str
        The inference engine that ran on this worker.
    """
    if kind == "paths":
        sequence = ImageSequence(images)
        images = [sequence[i] for i in range(len(sequence))]  # decoded once
    features = _features(spec, images)
    rows = np.asarray(features.transform(images), dtype=np.float32)
    keys = image_keys(images) if with_keys else None
    state = _state()
    with state.lock:
        state.images += len(rows)
        state.shards += 1
    return keys, rows, features.transform_stats_["engine"]


def key_shard(paths: list[str]) -> list[str]:
    """Cache keys of image files (decoded here, where the files are)."""
    sequence = ImageSequence(paths)
    keys = image_keys([sequence[i] for i in range(len(sequence))])
    state = _state()
    with state.lock:
        state.keyed += len(keys)
    return keys


def stats(dask_worker=None) -> dict:
    """What this worker did: models built, images embedded, shards, files keyed.

    Run it on every worker with ``client.run(stats)``.
    """
    import torch

    state = _state(dask_worker)
    with state.lock:
        return {
            "builds": dict(state.builds),
            "models": len(state.models),
            "images": state.images,
            "shards": state.shards,
            "keyed": state.keyed,
            "torch_threads": torch.get_num_threads(),
        }
