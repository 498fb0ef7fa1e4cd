"""CNNFeatures: a frozen ImageNet CNN as a scikit-learn transformer."""

from __future__ import annotations

import contextlib
import copy
import logging
import numbers
import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import ClassVar

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted
from tqdm.auto import tqdm

from .._constants import (
    BACKENDS,
    CACHE_DTYPES,
    CACHE_MODES,
    FEATURE_POOLINGS,
    PRECISIONS,
    RESIZE_MODES,
)
from ..backbones import get_backbone
from ..backbones._weights import build_with_weights
from ..cache import image_keys, state_dict_digest
from ..cache._cache import shared_cache
from ..io._intensity import IntensityPolicy
from ..io._sequence import ImageSequence
from ..utils._devices import resolve_device
from ..utils._prefetch import prefetched
from ..utils._transient import persistent_state, transient_attributes
from ..utils._validation import (
    Check,
    Interval,
    InvalidParameterError,
    StrOptions,
    check_params,
    check_seed,
)
from ._batching import auto_batch_size, probe
from ._embed import TransformStats, embed_through_cache
from ._engines import (
    OnnxEngine,
    TorchEngine,
    exported_model,
    resolve_backend,
)
from ._extractor import FeatureExtractor, resolve_layer
from ._preprocess import Preprocessing, resolve_input_size

__all__ = ["CNNFeatures"]

logger = logging.getLogger(__name__)

#: Version of the feature-extraction code (preprocessing, extraction, pooling).
#: Bump it with any change that can alter an embedding: it is part of every
#: cache namespace, so embeddings cached by older code are then never reused.
FEATURE_CODE_VERSION = 1
# Images hashed and looked up together: a whole number of batches.
_LOOKUP_CHUNK = 256
# Threads decoding image files for one transform.
_MAX_READERS = 8


def _check_input_size(value) -> None:
    resolve_input_size(value, (224, 224))


def _check_client(client) -> None:
    from ..distributed._client import check_client

    check_client(client)


class CNNFeatures(TransformerMixin, BaseEstimator):
    """Embeddings from a frozen, pretrained CNN: images in, ``(n, d)`` float32 out.

    The backbone runs in eval mode under ``torch.inference_mode()``: no gradients,
    BatchNorm statistics untouched. It is built in :meth:`fit` (never in
    ``__init__``), so the transformer can be cloned, pickled and grid-searched
    over ``backbone`` like any scikit-learn estimator.

    Parameters
    ----------
    backbone : str, default="efficientnet_lite0"
        A registered backbone (:func:`skmedtl.list_backbones`) or a scheme name:
        ``"timm:<model>"``, ``"hf-hub:<repo>"``, ``"open_clip:<model>"``,
        ``"hf:<repo>"``, ``"txrv:<weights>"`` (see
        :func:`skmedtl.backbones.list_schemes`). The default's ImageNet weights
        install with skmedtl, so it works offline.
    weights : {"imagenet", "pretrained"}, path, WeightsFile or None, \
default="imagenet"
        ``"imagenet"`` (or ``"pretrained"``) loads the backbone's default
        pretrained weights from the local cache (see
        :func:`skmedtl.create_backbone`); a path loads a ``.pth`` /
        ``.safetensors`` checkpoint (a head of another size, or none, is
        ignored); a :class:`~skmedtl.backbones.WeightsFile` also sets its
        mean/std/channels; ``None`` keeps random initialisation (seeded by
        ``random_state``).
    layer : str, default=None
        Where to take the features: ``None`` for the last feature map, a block
        group of the backbone (``"layer3"`` for ResNets, ``"blocks.5"`` for a
        timm ViT; see ``get_backbone(name).block_group_names``) or any module
        name.
    pooling : {"avg", "max", "gem", "cls", "mean", "cls+mean"}, default="avg"
        Global pooling of the feature map: average, maximum, or generalised mean
        (p=3). Vision transformers give tokens of width ``d``: ``"avg"`` is the
        model's own pooling, ``"cls"`` the class token (``d`` features),
        ``"mean"`` the mean of the patch tokens (``d``), ``"cls+mean"`` both
        (``2d``); see :doc:`/user_guide/backbones`.
    input_size : int or (int, int), default=None
        Network input size; ``None`` uses the size of the weights' own config.
    resize : {"stretch", "crop", "pad"}, default="stretch"
        ``"stretch"`` resizes whole images to ``input_size`` (nothing at the
        border is lost, which matters for medical images); ``"crop"`` is the
        ImageNet evaluation transform (resize, then centre crop with the weights'
        ``crop_pct``); ``"pad"`` keeps the aspect ratio and pads with black.
    intensity : str, tuple or IntensityPolicy, default="auto"
        How raw values become ``[0, 1]``, in the vocabulary of
        :func:`skmedtl.io.read_image` (one :class:`~skmedtl.io.IntensityPolicy`).
        ``"auto"``: ``uint8`` / 255, booleans as 0/1, other integers (16-bit,
        signed) min-max scaled per image so their full range is kept, floats
        must already be in ``[0, 1]``. ``"minmax"``: every image scaled by its
        own range. ``"dtype"``: integers divided by their dtype's maximum.
        ``"percentile"``, a CT window (``"lung"``, ``(40, 400)``, ...): applied
        per image. Greyscale is repeated to three channels in all cases.
    batch_size : int or "auto", default="auto"
        Images per forward pass. ``"auto"`` takes the largest power of two that
        fits in half the free memory, up to 256 on a GPU (measured with a probe
        batch) and 32 on the CPU (where larger batches run no faster); the value
        used is ``batch_size_``. Results do not depend on it.
    device : str, default="auto"
        ``"auto"`` uses CUDA when available, else the CPU; or any torch device
        string (``"cpu"``, ``"cuda:1"``).
    verbose : int, default=1
        0 is silent; 1 shows a progress bar during :meth:`transform`.
    random_state : int, RandomState instance or None, default=None
        Seeds random initialisation when ``weights=None``. The same integer gives
        the same weights as ``create_backbone(..., random_state=...)``.
    cache_path : str or path-like, default=None
        An HDF5 :class:`~skmedtl.cache.EmbeddingCache` file. :meth:`transform`
        then embeds each image only once, ever: across calls, folds, grid-search
        candidates, processes and crashes. Images are keyed by their decoded
        content, within a namespace that fingerprints ``feature_config_``, so a
        change of backbone, weights, layer, pooling or preprocessing never reuses
        old rows. A damaged file is moved aside with a warning and rebuilt.
        Inspect it with ``skmedtl cache info PATH``.
    backend : {"auto", "torch", "onnxruntime"}, default="auto"
        The inference engine. ``"torch"``: eager PyTorch (channels_last,
        ``inference_mode``). ``"onnxruntime"``: the feature extractor exported
        once to ONNX (kept in ``$SKMEDTL_HOME/onnx`` or ``~/.cache/skmedtl/onnx``
        and reused by later processes) and run by ONNX Runtime, 2-6x faster on
        CPUs. ``"auto"``: ONNX Runtime on the CPU when it is installed
        (``pip install "skmedtl[onnx]"``), else PyTorch. Engines agree within
        float tolerance; the choice is not part of the cache key. Half
        precision always runs on PyTorch.
    precision : {"float32", "float16", "bfloat16", "int8"}, default="float32"
        Arithmetic of the forward pass. ``"int8"`` runs a statically quantised
        copy of the ONNX export on ONNX Runtime (CPU; up to 2-3x float32 on
        CPUs with VNNI), calibrated in :meth:`fit` on a sample of its images (see
        ``int8_calibration``); its fidelity is ``int8_fidelity_``. The half
        precisions run under
        ``torch.autocast`` and are meant for GPUs (2-3x the throughput of float32
        on tensor cores); on CPUs without native half support they are slower.
        Embeddings are returned as float32 either way, but differ from float32
        ones (about 1e-3 relative for float16, 1e-2 for bfloat16), so the
        precision is part of ``feature_config_`` and of the cache key.
    cache_dtype : {"float32", "float16"}, default="float32"
        How the cache stores embeddings. float32 returns exactly what the network
        computed; float16 halves the file, and every embedding (cached or fresh)
        is then rounded through float16 so results do not depend on the cache.
    cache_mode : {"a", "r"}, default="a"
        ``"a"`` reads and writes the cache (it needs a writable folder for its
        lock file). ``"r"`` only reads it, without a lock: for a complete cache
        shared read-only (a read-only folder or medium); images it lacks are
        computed but not stored.
    int8_calibration : dict, default=None
        Settings of ``precision="int8"`` (ignored otherwise); any of ``"size"``
        (images sampled from those given to :meth:`fit`, default 128),
        ``"holdout"`` (share held back to measure fidelity, 0.25), ``"method"``
        (``"minmax"``, ``"entropy"`` or ``"percentile"``, the default, chosen by
        measurement), ``"percentile"`` (99.99), ``"exclude"`` (nodes kept in
        float32: ``"auto"``, ``"first"`` or ONNX node names) and
        ``"min_fidelity"`` (mean cosine similarity below which :meth:`fit` warns,
        0.99). The recipe and the sample's digest are part of ``feature_config_``.
    client : distributed.Client or str, default=None
        A Dask cluster to embed on: a client, or a scheduler address such as
        ``"tcp://10.0.0.5:8786"`` (``pip install "skmedtl[distributed]"``).
        :meth:`transform` then sends shards of the images (paths as paths) to the
        workers, each of which builds the backbone once, and stores the returned
        rows in ``cache_path`` itself (see :func:`skmedtl.distributed.extract`).
        ``None`` embeds in this process. Clones share the client; pickling
        keeps its scheduler address; :func:`skmedtl.save` does not (a loaded
        model has ``client=None``, like ``device="auto"`` and
        ``cache_path=None``: it runs where it is loaded).

    Attributes
    ----------
    backbone_spec_ : BackboneSpec
        The registry entry of the backbone.
    model_ : torch.nn.Module
        The frozen backbone (on the CPU; copied to the device when used).
    preprocessing_ : Preprocessing
        The complete preprocessing (input size, interpolation, mean/std, resize,
        intensity and channel policies).
    n_features_out_ : int
        Width of the embeddings.
    batch_size_ : int
        The batch size used: ``batch_size``, or the one ``"auto"`` chose.
    feature_config_ : dict
        Everything that determines an embedding: backbone, digest of the loaded
        weights, layer, pooling, preprocessing, precision and
        ``FEATURE_CODE_VERSION``. Its fingerprint names the cache namespace
        (:meth:`cache_namespace`).
    transform_stats_ : dict
        What the last :meth:`transform` did: ``n_images``, ``n_computed`` (rows
        the network computed), ``n_cached`` (rows from the cache) and
        ``engine``, the inference engine that actually ran (``"torch"`` or
        ``"onnxruntime"``; ``None`` when every row came from the cache).
    int8_fidelity_ : dict
        Only with ``precision="int8"``: how close the int8 embeddings of the
        held-back calibration images are to the float32 ones:
        ``mean_cosine``, ``min_cosine`` (raw rows; :meth:`fit` warns when the
        mean is below ``min_fidelity``), ``standardised_cosine`` (after
        standardising each feature, as a head behind a ``StandardScaler``
        sees them), ``excluded`` (nodes kept in float32), ``n_calibration``,
        ``n_holdout``, ``method`` and ``calibration_digest``.

    See Also
    --------
    skmedtl.backbones.list_backbones : The registered backbones.

    Examples
    --------
    >>> import numpy as np
    >>> from skmedtl import CNNFeatures
    >>> X = np.random.default_rng(0).integers(0, 256, (4, 28, 28), dtype=np.uint8)
    >>> features = CNNFeatures("resnet18", weights=None, random_state=0,
    ...                        input_size=64, verbose=0)
    >>> features.fit_transform(X).shape
    (4, 512)
    """

    #: Runtime state (see :mod:`skmedtl.utils._transient`): the device copy of
    #: the network and the inference engine, rebuilt on first use; never pickled
    #: nor saved.
    _transient_attributes: ClassVar[dict] = {"_runtime": None, "_engine_state": None}
    #: Looked up again by name after loading.
    _derived_attributes: ClassVar[tuple] = ("backbone_spec_",)

    _parameter_constraints: dict = {
        "backbone": [str],
        "weights": [None, "path"],
        "layer": [None, str],
        "pooling": [StrOptions(FEATURE_POOLINGS)],
        "input_size": [None, Check(_check_input_size, "an int or (height, width)")],
        "resize": [StrOptions(RESIZE_MODES)],
        "intensity": [Check(IntensityPolicy.from_spec, "an intensity policy")],
        "batch_size": [Interval(numbers.Integral, 1), StrOptions(("auto",))],
        "device": [Check(resolve_device, "a torch device")],
        "verbose": [Interval(numbers.Integral)],
        "random_state": ["random_state"],
        "cache_path": [None, "path"],
        "cache_dtype": [StrOptions(CACHE_DTYPES)],
        "cache_mode": [StrOptions(CACHE_MODES)],
        "backend": [StrOptions(BACKENDS)],
        "precision": [StrOptions(PRECISIONS)],
        "client": [None, Check(_check_client, "a distributed.Client or address")],
        "int8_calibration": [None, dict],
    }

    def __init__(
        self,
        backbone: str = "efficientnet_lite0",
        *,
        weights: str | os.PathLike | None = "imagenet",
        layer: str | None = None,
        pooling: str = "avg",
        input_size: int | tuple[int, int] | None = None,
        resize: str = "stretch",
        intensity: str = "auto",
        batch_size: int | str = "auto",
        device: str = "auto",
        verbose: int = 1,
        random_state=None,
        cache_path: str | os.PathLike | None = None,
        cache_dtype: str = "float32",
        cache_mode: str = "a",
        backend: str = "auto",
        precision: str = "float32",
        client=None,
        int8_calibration: dict | None = None,
    ):
        self.backbone = backbone
        self.weights = weights
        self.layer = layer
        self.pooling = pooling
        self.input_size = input_size
        self.resize = resize
        self.intensity = intensity
        self.batch_size = batch_size
        self.device = device
        self.verbose = verbose
        self.random_state = random_state
        self.cache_path = cache_path
        self.cache_dtype = cache_dtype
        self.cache_mode = cache_mode
        self.backend = backend
        self.precision = precision
        self.client = client
        self.int8_calibration = int8_calibration

    # -- scikit-learn API ----------------------------------------------------------
    def fit(self, X, y=None):
        """Load the backbone and its preprocessing.

        Parameters
        ----------
        X : array-like or list
            Images: an array ``(n, h, w)``, ``(n, h, w, c)`` or ``(n, c, h, w)``
            (uint8, uint16 or float), a list of arrays, or a list of file paths.
            Only checked here; nothing is learned from the images.
        y : ignored

        Returns
        -------
        self
        """
        self._check_params()
        images = ImageSequence(X)
        spec = get_backbone(self.backbone)
        seed = check_seed(self.random_state) if self.weights is None else None
        start = time.perf_counter()
        model, tag = build_with_weights(
            spec, self.weights, random_state=seed, progress=self.verbose > 0
        )
        model.eval().requires_grad_(False)
        self.backbone_spec_ = spec
        self.model_ = model
        self.preprocessing_ = Preprocessing.from_config(
            spec.data_config(tag),
            input_size=self.input_size,
            resize=self.resize,
            intensity=self.intensity,
        )
        # A ViT at another size than its own: position embeddings resampled once.
        spec.adapter.fix_input_size(model, self.preprocessing_.input_size)
        self.__dict__.update(transient_attributes(type(self)))
        self.feature_config_ = self._feature_config(model)
        self.n_features_out_, largest_activation = self._probe()
        self.batch_size_ = self._resolve_batch_size(largest_activation)
        if self.precision == "int8":  # calibrate on the images seen here
            self._fit_int8(images)
        half = self.precision in ("float16", "bfloat16")
        if half and resolve_device(self.device).type == "cpu":
            logger.warning(
                "precision=%r on the CPU: usually slower than float32 unless the CPU "
                "has native %s support; it is meant for GPUs.",
                self.precision,
                self.precision,
            )
        logger.info(
            "Loaded %s (weights=%r) in %.2fs: %d features",
            self.backbone,
            self.weights,
            time.perf_counter() - start,
            self.n_features_out_,
        )
        return self

    def transform(self, X) -> np.ndarray:
        """Embed images.

        Parameters
        ----------
        X : array-like or list
            Images, as for :meth:`fit`.

        Returns
        -------
        ndarray of shape ``(n_images, n_features_out_)``, float32
            One row per image, in input order.
        """
        check_is_fitted(self, "model_")
        if self.client is not None:  # on a Dask cluster: skmedtl.distributed
            from ..distributed._extract import transform_on_cluster

            return transform_on_cluster(self, X)
        images = ImageSequence(X)
        if self.cache_path is not None:
            return self._transform_cached(images)
        engine = self._engine()
        self.transform_stats_ = TransformStats(
            n_images=len(images), n_computed=len(images), engine=engine.name
        ).to_dict()
        out = np.empty((len(images), self.n_features_out_), dtype=np.float32)
        starts = range(0, len(images), self.batch_size_)
        bar = tqdm(
            total=len(images),
            desc=f"{self.backbone} features",
            unit="img",
            disable=self.verbose <= 0,
            leave=False,
        )
        spans = [(a, min(a + self.batch_size_, len(images))) for a in starts]

        def prepare(span):
            a, b = span
            names = [images.describe(i) for i in range(a, b)]
            batch = images.batch(a, b, readers)
            with torch.inference_mode():
                return self.preprocessing_(batch, engine.input_device, names)

        # Decode and preprocess batch i + 1 on a thread while the network runs
        # batch i (decoding, resizing and the engines release the GIL); files
        # are decoded by several threads, so a GPU is not starved by one decoder.
        with (
            bar,
            _file_readers(images) as readers,
            # closed (its thread joined) before the readers, even on an error
            contextlib.closing(prefetched(prepare, spans)) as batches,
        ):
            for (a, b), x in zip(spans, batches, strict=True):
                out[a:b] = engine(x)
                bar.update(b - a)
        return out

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """Output names ``<backbone>_<i>``."""
        check_is_fitted(self, "n_features_out_")
        prefix = self.backbone.replace(":", "_").replace(".", "_")
        return np.asarray(
            [f"{prefix}_{i}" for i in range(self.n_features_out_)], dtype=object
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.three_d_array = True
        tags.requires_fit = True
        return tags

    # -- internals -------------------------------------------------------------------
    def _check_params(self) -> None:
        check_params(self)
        if self.precision == "int8":
            from ._quantize import Int8Calibration

            resolve_backend(self.backend, torch.device("cpu"), "int8")
            Int8Calibration.from_param(self.int8_calibration)
        elif self.backend == "onnxruntime" and self.precision != "float32":
            raise InvalidParameterError(
                f"precision={self.precision!r} needs backend='torch' (or 'auto'): "
                "the ONNX Runtime backend runs float32 models only."
            )

    def _cache_mode(self) -> str:
        return getattr(self, "cache_mode", "a")  # pickles from before cache_mode

    def build_engine(self) -> str:
        """Build the inference engine now (device copy, ONNX export) and name it.

        :meth:`transform` builds it on first use anyway; Dask workers call this
        once per model so that the first shard is not slower than the others.

        Returns
        -------
        str
            ``"torch"`` or ``"onnxruntime"``: the engine that will run (an ONNX
            export that failed under ``backend="auto"`` falls back to
            ``"torch"``).
        """
        check_is_fitted(self, "model_")
        return self._engine().name

    def _extractor(self) -> tuple[FeatureExtractor, torch.device]:
        device = resolve_device(self.device)
        runtime = getattr(self, "_runtime", None)
        if runtime is None or runtime[1] != device:
            model = self.model_ if device.type == "cpu" else copy.deepcopy(self.model_)
            # channels_last is 1.3-1.8x faster for convolutions on CPU and GPU.
            model = model.to(device, memory_format=torch.channels_last).eval()
            extractor = FeatureExtractor(
                self.backbone_spec_, model, self.layer, self.pooling
            )
            self._runtime = runtime = (extractor, device)
        return runtime

    def _engine(self) -> TorchEngine | OnnxEngine:
        """The inference engine for the current device and backend (built once)."""
        device = resolve_device(self.device)
        backend = resolve_backend(self.backend, device, self.precision)
        state = getattr(self, "_engine_state", None)
        if state is not None and state[0] == (backend, device):
            return state[1]
        engine, fidelity = None, None
        if backend == "onnxruntime":
            try:
                engine, fidelity = self._onnx_engine(device)
            except Exception as e:  # export can fail for exotic architectures
                if self.backend == "onnxruntime" or self.precision == "int8":
                    raise RuntimeError(
                        f"Could not run {self.backend!r} for backbone "
                        f"{self.backbone!r}: {e}. Use backend='torch'."
                    ) from e
                logger.warning(
                    "ONNX export of %s failed (%s); using PyTorch.", self.backbone, e
                )
        if engine is None:
            extractor, device = self._extractor()
            engine = TorchEngine(extractor, device, self.precision)
        self._engine_state = ((backend, device), engine, fidelity)
        return engine

    def _onnx_engine(self, device: torch.device) -> tuple[OnnxEngine, dict | None]:
        """The ONNX Runtime engine, and for int8 its fidelity to float32."""
        from ..cache import config_fingerprint

        cpu_extractor = FeatureExtractor(
            self.backbone_spec_, self.model_.eval(), self.layer, self.pooling
        )
        config = self.feature_config_
        if self.precision == "int8":  # quantise the float32 export
            config = {**config, "precision": "float32"}
            config.pop("int8", None)
        fingerprint = (
            f"{self.backbone.replace(':', '_').replace('/', '_')}-"
            f"{config_fingerprint(config)}-torch{torch.__version__}"
        )
        path, seconds = exported_model(
            cpu_extractor, self.preprocessing_.input_size, fingerprint
        )
        if seconds:
            logger.info("Exported %s to ONNX in %.1fs", self.backbone, seconds)
        if self.precision == "int8":
            from ._quantize import Int8Calibration, int8_engine

            settings = Int8Calibration.from_param(self.int8_calibration)
            quantised = int8_engine(path, self._int8_sample, settings, device)
            if quantised.fidelity["seconds"] > 0.5:
                logger.info(
                    "Quantised %s to int8 in %.1fs",
                    self.backbone,
                    quantised.fidelity["seconds"],
                )
            engine, fidelity = quantised.engine, quantised.fidelity
        else:
            engine, fidelity = OnnxEngine(path, device), None
        engine.export_seconds = seconds
        return engine, fidelity

    def _fit_int8(self, images) -> None:
        """``fit`` for ``precision="int8"``: calibrate, quantise, report fidelity.

        Keeps the calibration sample (``_int8_sample``: fitted state, saved with
        the model, from which the engine is rebuilt after loading), puts its
        digest in ``feature_config_``, builds the engine and sets
        ``int8_fidelity_``.
        """
        from ._quantize import (
            Int8Calibration,
            calibration_sample,
            int8_feature_config,
            report_int8_fidelity,
        )

        settings = Int8Calibration.from_param(self.int8_calibration)
        self._int8_sample = calibration_sample(self.preprocessing_, images, settings)
        self.feature_config_ = int8_feature_config(
            self.feature_config_, settings, self._int8_sample
        )
        self.__dict__.update(transient_attributes(type(self)))
        self._engine()  # quantises once; the engine is kept for transform
        self.int8_fidelity_ = dict(self._engine_state[2])
        report_int8_fidelity(self.backbone, self.int8_fidelity_, settings)

    def _embed(self, batch, names, engine) -> np.ndarray:
        """Embeddings of one batch (an array of one shape, or a list of images)."""
        return engine(self.preprocessing_(batch, engine.input_device, names))

    def _feature_config(self, model: torch.nn.Module) -> dict:
        """What determines an embedding; hashed into the cache namespace."""
        return {
            "feature_code_version": FEATURE_CODE_VERSION,
            "backbone": self.backbone,
            "weights_digest": state_dict_digest(model.state_dict()),
            "layer": self.layer,
            "layer_module": resolve_layer(self.backbone_spec_, model, self.layer),
            "pooling": self.pooling,
            "preprocessing": self.preprocessing_.to_dict(),
            "precision": self.precision,
        }

    def cache_namespace(self, cache=None):
        """This transformer's namespace in an embedding cache.

        The namespace hashes everything that determines an embedding (backbone,
        weights digest, layer, pooling, preprocessing, precision, feature code
        version), so two transformers share rows exactly when they would
        compute the same ones.

        Parameters
        ----------
        cache : EmbeddingCache, optional
            Default: the cache at ``cache_path`` (opened read-only when
            ``cache_mode="r"``).

        Returns
        -------
        Namespace
            Supports ``len``, ``lookup(keys)`` and ``store(keys, rows)``; its
            ``name`` identifies it in ``skmedtl cache info``.
        """
        from .. import __version__

        check_is_fitted(self, "feature_config_")
        if cache is None:
            if self.cache_path is None:
                raise ValueError(
                    "cache_namespace() needs a cache: set cache_path, or pass an "
                    "EmbeddingCache."
                )
            cache = shared_cache(self.cache_path, mode=self._cache_mode())

        weights = self.weights if self.weights is None else str(self.weights)
        return cache.namespace(
            self.feature_config_,
            dtype=self.cache_dtype,
            label=self.backbone,
            provenance={
                "weights": weights,
                "random_state": check_seed(self.random_state)
                if self.weights is None
                else None,
                "n_features": self.n_features_out_,
                "skmedtl": __version__,
                "torch": torch.__version__,
            },
        )

    def _transform_cached(self, images: ImageSequence) -> np.ndarray:
        """:meth:`transform` through the cache: compute only the misses."""
        cache = shared_cache(self.cache_path, mode=self._cache_mode())
        namespace = self.cache_namespace(cache)
        n = len(images)
        out = np.empty((n, self.n_features_out_), dtype=np.float32)
        # Whole batches per lookup: files are decoded once, and when every image is
        # missing the network sees the same batches as without a cache.
        step = self.batch_size_ * max(1, -(-_LOOKUP_CHUNK // self.batch_size_))
        stats = TransformStats(n_images=0)
        bar = tqdm(
            total=n,
            desc=f"{self.backbone} features",
            unit="img",
            disable=self.verbose <= 0,
            leave=False,
        )
        with bar, torch.inference_mode(), _file_readers(images) as readers:
            for start in range(0, n, step):
                chunk = images.batch(start, min(start + step, n), readers)
                if images.kind == "array":
                    chunk = list(chunk)

                def compute(todo, fill, chunk=chunk, start=start):
                    engine = self._engine()
                    for b in range(0, len(todo), self.batch_size_):
                        pos = todo[b : b + self.batch_size_]
                        if b:  # take rows that other processes stored meanwhile
                            pos = fill.still_missing(pos)
                            if not pos:
                                continue
                        parts = [chunk[j] for j in pos]
                        batch = np.stack(parts) if images.kind == "array" else parts
                        names = [images.describe(start + j) for j in pos]
                        fill.store(pos, self._embed(batch, names, engine))
                    return engine.name

                stats.add(
                    embed_through_cache(
                        image_keys(chunk),
                        namespace,
                        compute,
                        out[start : start + len(chunk)],
                        progress=bar.update,
                        flush=False,
                    )
                )
        if namespace.cache.mode != "r":
            cache.flush()
        self.transform_stats_ = stats.to_dict()
        logger.info(
            "%s: %d images embedded, %d from the cache %s",
            self.backbone,
            stats.n_computed,
            stats.n_cached,
            cache.path,
        )
        return out

    def _probe(self) -> tuple[int, int]:
        """Embedding width and largest activation (bytes) of one image.

        Found on the ``meta`` device: shapes only, no arithmetic (a real
        forward pass of ResNet-50 costs ~1 s the first time, in kernel setup).
        """
        x = torch.empty(
            (1, len(self.preprocessing_.mean), *self.preprocessing_.input_size),
            device="meta",
        )
        try:
            meta = FeatureExtractor(
                self.backbone_spec_,
                # A copy: the shared meta model must not carry our hooks.
                copy.deepcopy(self.backbone_spec_._meta_model).eval(),
                self.layer,
                self.pooling,
            )
            out, largest = probe(meta, x)
        except Exception:  # an operation without a meta kernel: compute for real
            extractor, device = self._extractor()
            out, largest = probe(extractor, torch.zeros(x.shape, device=device))
        return int(out.shape[1]), largest

    def _resolve_batch_size(self, largest_activation: int) -> int:
        if self.batch_size != "auto":
            return int(self.batch_size)
        device = resolve_device(self.device)
        # Only a GPU measures memory with a real forward pass.
        extractor = self._extractor()[0] if device.type == "cuda" else None
        return auto_batch_size(
            extractor,
            self.preprocessing_.input_size,
            device,
            "float32" if self.precision == "int8" else self.precision,
            largest_activation,
        )

    def __getstate__(self):
        state = persistent_state(self)
        if hasattr(state.get("client"), "scheduler"):
            # A dask Client does not pickle; its scheduler address reconnects.
            state["client"] = state["client"].scheduler.address
        return state

    def __sklearn_clone__(self):
        # A dask Client can be neither deep-copied nor pickled: clones share it.
        if not hasattr(self.client, "scheduler"):
            return super().__sklearn_clone__()
        shallow = copy.copy(self)
        shallow.client = None
        new = super(CNNFeatures, shallow).__sklearn_clone__()
        new.client = self.client
        return new

    def __setstate__(self, state):
        self.__dict__.update(state)
        if "model_" in state:
            self.backbone_spec_ = get_backbone(self.backbone)


@contextlib.contextmanager
def _file_readers(images: ImageSequence):
    """Threads that decode files in parallel (``None`` for in-memory images)."""
    if images.kind != "paths":
        yield None
        return
    with ThreadPoolExecutor(min(_MAX_READERS, os.cpu_count() or 1)) as pool:
        yield pool
