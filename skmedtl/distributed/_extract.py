"""Sharded extraction on a Dask cluster, with the client as the single cache writer.

The flow, for ``n`` images and an optional cache:

1. Keys: arrays are hashed here; files are hashed by the workers (the files are
   decoded where they are read, not shipped).
2. Lookup: the client asks the cache which keys it has, and keeps one position per
   missing key (duplicates are computed once).
3. Shards of the misses go to the workers, a few per worker thread at a time so
   neither the scheduler nor the workers ever hold the whole data set. Each worker
   builds the extractor once and reuses it; a task that raises is retried
   (``retries``), one whose worker dies is rerun elsewhere by the scheduler.
4. The client stores each shard's rows as it arrives (one journal record per
   shard, under the cache's file lock) and checkpoints at the end. Workers never
   write the cache, and only complete shards are stored, so a failure anywhere
   leaves a cache holding complete, correct rows only.
"""

from __future__ import annotations

import logging
import numbers
import os
import time
import uuid

import numpy as np
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted
from tqdm.auto import tqdm

from ..cache import config_fingerprint, image_keys
from ..cache._cache import shared_cache
from ..features import CNNFeatures
from ..features._embed import embed_through_cache
from ..io._sequence import ImageSequence
from ..utils._validation import Interval, validate_params
from ._client import check_client, connected, import_distributed
from ._worker import FeatureSpec, embed_shard, key_shard

__all__ = ["extract", "transform_on_cluster"]

logger = logging.getLogger(__name__)

#: Largest shard, in images; and in bytes of decoded input (shards travel inside
#: the task, and Dask warns about tasks over 10 MB).
_MAX_SHARD = 1024
_SHARD_BYTES = 8 << 20
#: Shards in flight per worker thread: one running, one queued behind it.
_IN_FLIGHT_PER_THREAD = 2
#: What :func:`extract`'s own parameters accept (``features`` and ``client`` are
#: checked by their types).
_EXTRACT_CONSTRAINTS = {
    "shard_size": [Interval(numbers.Integral, 1), None],
    "retries": [Interval(numbers.Integral, 0)],
    "verbose": [Interval(numbers.Integral), None],
    "cache_path": [None, "path"],
}


def extract(
    X,
    features: CNNFeatures | str = "efficientnet_lite0",
    *,
    client=None,
    cache_path: str | os.PathLike | None = None,
    shard_size: int | None = None,
    retries: int = 2,
    verbose: int | None = None,
) -> np.ndarray:
    """Embed images on a Dask cluster: shards to the workers, rows to one cache.

    The workers build the backbone once each and embed shards of the images; the
    calling process looks up the cache first, sends only the images it lacks,
    and stores the rows it gets back (it is the cache's only writer). The result
    equals ``features.transform(X)`` run locally, within float tolerance, in input
    order.

    Parameters
    ----------
    X : array-like or list
        Images as for :class:`skmedtl.CNNFeatures`: an array ``(n, h, w)``,
        ``(n, h, w, c)`` or ``(n, c, h, w)``, a list of arrays, or a list of file
        paths. Arrays are sent to the workers in shards; paths are sent as paths
        and decoded by the workers, so the workers must be able to read them
        (same machine or shared file system).
    features : CNNFeatures or str, default="efficientnet_lite0"
        The extractor: a :class:`skmedtl.CNNFeatures`, fitted or not (an unfitted
        one is fitted on a copy; the argument is never modified), or a backbone
        name, short for ``CNNFeatures(name)``. Every parameter of it applies (layer,
        pooling, input size, backend, device, ...), except ``client``. With
        ``weights=None``, ``random_state`` must be an integer so that every worker
        builds the same random weights.
    client : distributed.Client, str or None, default=None
        The cluster: a client, or a scheduler address such as
        ``"tcp://10.0.0.5:8786"``. ``None`` uses the default client (the last
        one created in this process).
    cache_path : str or path-like, default=None
        An HDF5 embedding cache (see :class:`skmedtl.EmbeddingCache`); default: the
        ``cache_path`` of ``features``. With a cache, only images it lacks are
        sent to the workers, and every computed row is stored in it.
    shard_size : int, default=None
        Images per task. ``None`` picks about four shards per worker thread, at
        least one batch each, at most 1024 images or 8 MiB of array input.
    retries : int, default=2
        How many times a shard whose task raises is retried. A shard whose
        worker dies is rerun elsewhere by the scheduler in any case (up to Dask's
        ``distributed.scheduler.allowed-failures``).
    verbose : int, default=None
        0 is silent, 1 shows a progress bar; ``None`` uses ``features.verbose``.

    Returns
    -------
    ndarray of shape (n_images, n_features), float32
        One row per image, in input order.

    Raises
    ------
    ImportError
        When dask and distributed are not installed.

    See Also
    --------
    skmedtl.CNNFeatures : Set its ``client`` parameter to extract on a cluster
        from a Pipeline.

    Examples
    --------
    >>> import numpy as np
    >>> from distributed import Client, LocalCluster  # doctest: +SKIP
    >>> from skmedtl import CNNFeatures
    >>> from skmedtl.distributed import extract
    >>> X = np.random.default_rng(0).integers(0, 256, (64, 28, 28), dtype=np.uint8)
    >>> features = CNNFeatures("resnet18", weights=None, random_state=0,
    ...                        input_size=64, verbose=0)
    >>> with LocalCluster(n_workers=2, threads_per_worker=1) as cluster, \\
    ...         Client(cluster) as client:  # doctest: +SKIP
    ...     Z = extract(X, features, client=client, cache_path="embeddings.h5")
    ...     Z.shape
    (64, 512)
    """
    check_client(client, allow_none=True)
    features = _as_features(features)
    validate_params(
        {
            "shard_size": shard_size,
            "retries": retries,
            "verbose": verbose,
            "cache_path": cache_path,
        },
        _EXTRACT_CONSTRAINTS,
    )
    _check_reproducible(features)
    images = ImageSequence(X)
    if not _is_fitted(features):
        features = type(features)(**features.get_params(deep=False)).fit(X)
    if cache_path is None:
        cache_path = features.cache_path
    return _extract_fitted(
        images,
        features,
        client=client,
        cache_path=cache_path,
        shard_size=shard_size,
        retries=retries,
        verbose=features.verbose if verbose is None else verbose,
    )


def transform_on_cluster(features: CNNFeatures, X) -> np.ndarray:
    """``features.transform(X)`` on ``features.client`` (fitted ``features``)."""
    _check_reproducible(features)
    return _extract_fitted(
        ImageSequence(X),
        features,
        client=features.client,
        cache_path=features.cache_path,
        shard_size=None,
        retries=2,
        verbose=features.verbose,
    )


# -- validation ---------------------------------------------------------------------
def _as_features(features) -> CNNFeatures:
    if isinstance(features, str):
        return CNNFeatures(features)
    if not isinstance(features, CNNFeatures):
        raise TypeError(
            "features must be a CNNFeatures (fitted or not) or a backbone name such "
            f"as 'resnet50'; got {type(features).__name__}."
        )
    return features


def _check_reproducible(features: CNNFeatures) -> None:
    if features.weights is None and not Interval(numbers.Integral).is_satisfied_by(
        features.random_state
    ):
        raise ValueError(
            "With weights=None every worker initialises the backbone from "
            "random_state, so distributed extraction needs an integer random_state "
            f"(got {features.random_state!r}); set e.g. random_state=0."
        )


def _is_fitted(features: CNNFeatures) -> bool:
    try:
        check_is_fitted(features, "feature_config_")
    except NotFittedError:
        return False
    return True


# -- the extraction -------------------------------------------------------------------
def _extract_fitted(
    images: ImageSequence,
    features: CNNFeatures,
    *,
    client,
    cache_path,
    shard_size,
    retries,
    verbose,
) -> np.ndarray:
    import_distributed()
    start = time.perf_counter()
    n = len(images)
    out = np.empty((n, features.n_features_out_), dtype=np.float32)
    spec = _spec(features)
    bar = tqdm(
        total=n,
        desc=f"{features.backbone} features (dask)",
        unit="img",
        disable=verbose <= 0,
        leave=False,
    )
    with connected(client) as client, bar:
        runner = _Runner(client, retries)
        if cache_path is None:
            keys, namespace = None, None
        else:
            namespace = features.cache_namespace(
                shared_cache(cache_path, mode=features.cache_mode)
            )
            keys = _keys(images, runner)
        with_keys = namespace is not None and images.kind == "paths"
        shards: list[list[int]] = []
        engines: set[str] = set()

        def compute(todo: list[int], fill) -> str:
            size = _shard_size(images, todo, features, runner.threads, shard_size)
            shards.extend(todo[a : a + size] for a in range(0, len(todo), size))

            def task(pos):
                return embed_shard, spec, _payload(images, pos), images.kind, with_keys

            def done(i, result):
                got_keys, rows, engine = result
                engines.add(engine)
                pos = shards[i]
                if rows.shape != (len(pos), features.n_features_out_):
                    raise RuntimeError(
                        f"A worker returned rows of shape {rows.shape} for a shard "
                        f"of {len(pos)} images; expected ({len(pos)}, "
                        f"{features.n_features_out_})."
                    )
                if got_keys is not None and got_keys != [keys[j] for j in pos]:
                    logger.warning(
                        "Some image files changed during extraction; their rows are "
                        "stored under their new content."
                    )
                else:
                    got_keys = None
                fill.store(pos, rows, keys=got_keys)

            runner.run(
                (task(pos) for pos in shards),
                done,
                "skmedtl-embed",
                describe=lambda i: _describe(images, shards[i], "embedding"),
            )
            return "+".join(sorted(engines)) or None

        stats = embed_through_cache(keys, namespace, compute, out, progress=bar.update)
    logger.info(
        "%s: %d images, %d embedded on the cluster in %d shards, %d from the cache "
        "(%.1fs)",
        features.backbone,
        n,
        stats.n_computed,
        len(shards),
        stats.n_cached,
        time.perf_counter() - start,
    )
    features.transform_stats_ = stats.to_dict()
    return out


def _spec(features: CNNFeatures) -> FeatureSpec:
    params = features.get_params(deep=False)
    # Workers embed and return rows: no cluster of their own, no cache (the
    # client is the only writer), no progress bars in worker logs.
    params.update(client=None, cache_path=None, verbose=0)
    weights = params.get("weights")
    if isinstance(weights, (str, os.PathLike)) and os.path.isfile(weights):
        # Workers may run elsewhere: a relative path would not name the same
        # file there. (The weights' digest, not their path, is in the config.)
        params["weights"] = os.path.abspath(weights)
    return FeatureSpec(
        estimator_class=type(features),
        params=params,
        fingerprint=config_fingerprint(features.feature_config_),
        n_features=int(features.n_features_out_),
    )


def _keys(images: ImageSequence, runner: _Runner) -> list[str]:
    """Cache keys in input order: arrays hashed here, files by the workers."""
    n = len(images)
    if images.kind != "paths":
        return image_keys([images[i] for i in range(n)])
    keys: list[str | None] = [None] * n
    size = min(_MAX_SHARD, max(1, -(-n // (4 * runner.threads))))
    spans = [(a, min(a + size, n)) for a in range(0, n, size)]

    def done(i, shard_keys):
        a, b = spans[i]
        keys[a:b] = shard_keys

    paths = images._items
    runner.run(
        ((key_shard, paths[a:b]) for a, b in spans),
        done,
        "skmedtl-keys",
        describe=lambda i: _describe(images, range(*spans[i]), "hashing"),
    )
    return keys


def _shard_size(images, todo, features, threads: int, shard_size) -> int:
    if shard_size is not None:
        return int(shard_size)
    if not todo:
        return 1
    # The client's batch size ("auto" resolves per process: GPU workers may pick
    # larger ones); a shard holds at least one batch.
    size = min(_MAX_SHARD, max(features.batch_size_, -(-len(todo) // (4 * threads))))
    if images.kind != "paths":
        per_image = max(images[j].nbytes for j in todo[:16])
        size = min(size, max(1, _SHARD_BYTES // max(1, per_image)))
    return size


def _describe(images: ImageSequence, pos, what: str) -> str:
    """Which images a failed shard held, in the caller's numbering."""
    pos = list(pos)
    shown = ", ".join(str(j) for j in pos[:8]) + (", ..." if len(pos) > 8 else "")
    return (
        f"{what} images {shown} of X; the worker numbers images within its shard, "
        "from 0"
    )


def _payload(images: ImageSequence, pos: list[int]):
    if images.kind == "array":
        return np.stack([images[j] for j in pos])
    if images.kind == "paths":
        return [images._items[j] for j in pos]
    return [images[j] for j in pos]


class _Runner:
    """Submit tasks with a bounded number in flight; handle results as they come.

    Bounded so that shards of a large array are not all serialised to the
    scheduler at once; a few per worker thread keep every worker busy.
    """

    def __init__(self, client, retries: int):
        self.client = client
        self.retries = retries
        self.threads = max(1, sum(client.nthreads().values()))

    def run(self, tasks, done, prefix: str, describe=None) -> None:
        """Run ``tasks`` (an iterable of ``(function, *args)``, consumed lazily)
        and call ``done(i, result)`` for each, in completion order.

        ``describe(i)`` names task ``i`` in a note added to its error.
        """
        distributed = import_distributed()
        token = uuid.uuid4().hex[:12]
        window = max(2, _IN_FLIGHT_PER_THREAD * self.threads)
        queue = enumerate(tasks)
        live = {}  # key -> (task index, future)
        # The client's loop: without it as_completed wants a default client.
        completed = distributed.as_completed(loop=self.client.loop)

        def submit_next() -> None:
            item = next(queue, None)
            if item is None:
                return
            i, (fn, *args) = item
            future = self.client.submit(
                fn,
                *args,
                key=f"{prefix}-{token}-{i}",
                retries=self.retries,
                pure=False,
            )
            live[future.key] = (i, future)
            completed.add(future)

        for _ in range(window):
            submit_next()
        try:
            for future in completed:
                i, _ = live.pop(future.key)
                try:
                    result = future.result()  # re-raises the task's error
                except Exception as e:
                    if describe is not None and hasattr(e, "add_note"):
                        e.add_note(f"(on a Dask worker, {describe(i)})")
                    raise
                future.release()
                submit_next()
                done(i, result)
        except BaseException:
            if live:  # stop the rest: nothing they return would be stored
                self.client.cancel([f for _, f in live.values()])
            raise
