"""int8 extraction: static QDQ quantisation of the exported ONNX feature extractor.

``CNNFeatures(precision="int8")`` exports the float32 feature extractor to ONNX
(as the float32 ONNX Runtime engine does), then quantises it with ONNX
Runtime's static quantisation:

- **weights** int8, per output channel (symmetric); **activations** uint8,
  their ranges calibrated on a sample of the images seen in ``fit``;
- **QDQ format**, which ONNX Runtime fuses into integer convolutions and matrix
  products (VNNI / AVX-512 on x86 CPUs that have it);
- **kept in float32**: the first convolution (3 input channels: a negligible
  share of the arithmetic, and the layer that sees raw intensities) and, with
  ``exclude="auto"``, nothing else unless the calibration says so (see
  :func:`quantize_extractor`);
- **calibration** ``"percentile"`` by default, chosen by measurement
  (``benchmarks/speed/RESULTS.md``): min-max lets one outlier activation
  stretch a layer's range, entropy is slow and no better here.

The quantised model is stored next to the float32 export in
``$SKMEDTL_HOME/onnx`` under a name that fingerprints the float32 model, the
calibration sample's digest and the quantisation settings, and is written to a
temporary file and renamed into place, like the float32 export.

The fidelity of the quantised model is measured where it is built: the cosine
similarity of float32 and int8 embeddings of a held-back part of the
calibration sample (images not used to calibrate).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import math
import numbers
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..utils._files import atomic_path
from ..utils._naming import did_you_mean
from ..utils._validation import Interval, StrOptions, validate_params

logger = logging.getLogger(__name__)

__all__ = [
    "CALIBRATION_METHODS",
    "Int8Calibration",
    "calibration_digest",
    "embedding_fidelity",
    "quantize_extractor",
]

CALIBRATION_METHODS = ("minmax", "entropy", "percentile")
#: Version of the quantisation recipe: part of every quantised model's name and
#: of the embedding cache namespace.
QUANTIZE_VERSION = 1
# Calibration images per forward pass: the calibrators keep every intermediate
# output of a batch (about 0.1 GB per 224-px image for ResNet-50).
_CALIB_BATCH = 8
_DEFAULTS = {
    "size": 128,
    "holdout": 0.25,
    "method": "percentile",
    "percentile": 99.99,
    "exclude": "auto",
    "min_fidelity": 0.99,
}
_CONSTRAINTS = {
    f"int8_calibration[{name!r}]": allowed
    for name, allowed in {
        "size": [Interval(numbers.Integral, 4)],
        "holdout": [Interval(numbers.Real, 0, 1, closed="neither")],
        "method": [StrOptions(CALIBRATION_METHODS)],
        "percentile": [Interval(numbers.Real, 90, 100)],
        "exclude": [StrOptions(("auto", "first")), list, tuple],
        "min_fidelity": [Interval(numbers.Real, 0, 1)],
    }.items()
}


@dataclass(frozen=True)
class Int8Calibration:
    """Resolved ``int8_calibration`` settings of :class:`~skmedtl.CNNFeatures`.

    Parameters
    ----------
    size : int
        Images sampled (without replacement) from those seen in ``fit``.
    holdout : float
        Fraction of the sample kept out of calibration to measure fidelity.
    method : {"minmax", "entropy", "percentile"}
        How activation ranges are calibrated.
    percentile : float
        Percentile of |activation| kept by ``"percentile"``.
    exclude : "auto", "first" or tuple of str
        Nodes kept in float32: ``"first"`` the first convolution, ``"auto"``
        the first convolution and then, while the held-back cosine similarity
        stays below ``min_fidelity``, the last quantised node and the one
        before it (a sensitivity pass that stops after two rounds); or ONNX
        node names.
    min_fidelity : float
        Mean cosine similarity below which ``fit`` warns.
    """

    size: int = _DEFAULTS["size"]
    holdout: float = _DEFAULTS["holdout"]
    method: str = _DEFAULTS["method"]
    percentile: float = _DEFAULTS["percentile"]
    exclude: object = _DEFAULTS["exclude"]
    min_fidelity: float = _DEFAULTS["min_fidelity"]

    @classmethod
    def from_param(cls, value) -> Int8Calibration:
        """Validate the ``int8_calibration`` parameter (``None`` or a dict)."""
        if value is None:
            return cls()
        if not isinstance(value, dict):
            raise TypeError(
                "int8_calibration must be None or a dict such as "
                f"{{'size': 128, 'method': 'percentile'}}; got {type(value).__name__}."
            )
        unknown = sorted(set(value) - set(_DEFAULTS))
        if unknown:
            raise ValueError(
                f"Unknown int8_calibration key {unknown[0]!r}."
                f"{did_you_mean(unknown[0], list(_DEFAULTS))} Allowed keys: "
                f"{sorted(_DEFAULTS)}."
            )
        params = {**_DEFAULTS, **value}
        validate_params(
            {f"int8_calibration[{k!r}]": v for k, v in params.items()},
            _CONSTRAINTS,
        )
        size, holdout, pct, fid = (
            params[k] for k in ("size", "holdout", "percentile", "min_fidelity")
        )
        exclude = params["exclude"]
        if not isinstance(exclude, str):
            exclude = tuple(str(n) for n in exclude)
        return cls(
            int(size), float(holdout), params["method"], float(pct), exclude, float(fid)
        )

    def split(self, n: int) -> int:
        """How many of ``n`` sampled images calibrate (the rest are held back)."""
        n_hold = max(1, int(round(n * self.holdout)))
        return max(1, n - n_hold)

    def to_dict(self) -> dict:
        """What determines the quantised model (its name and the cache namespace)."""
        exclude = self.exclude if isinstance(self.exclude, str) else list(self.exclude)
        out = {
            "version": QUANTIZE_VERSION,
            "size": self.size,
            "holdout": self.holdout,
            "method": self.method,
            "percentile": self.percentile,
            "exclude": exclude,
        }
        if exclude == "auto":
            # The sensitivity pass keeps more nodes in float32 below this.
            out["min_fidelity"] = self.min_fidelity
        return out


def calibration_digest(sample: np.ndarray) -> str:
    """SHA-256 (first 16 hex digits) of a calibration sample's bytes and shape."""
    h = hashlib.sha256()
    h.update(str((sample.shape, str(sample.dtype))).encode())
    h.update(np.ascontiguousarray(sample).tobytes())
    return h.hexdigest()[:16]


def embedding_fidelity(reference: np.ndarray, other: np.ndarray) -> dict:
    """How close ``other``'s embeddings are to ``reference``'s, row by row.

    Returns
    -------
    dict
        ``mean_cosine``, ``min_cosine``: cosine similarity of the raw rows.
        ``standardised_cosine``: mean cosine similarity after standardising each
        feature with the reference rows' mean and standard deviation, i.e. as a
        head behind a ``StandardScaler`` sees them. Raw cosines are dominated by
        the mean embedding, which all images share (after ReLU and pooling every
        feature is positive): a random-weight ResNet-50 quantised to int8 keeps
        a raw cosine of 0.9998 while its standardised one is 0.93
        (``benchmarks/speed/RESULTS.md``). NaN for a single row (nothing to
        standardise by), with ``standardised_cosine_reason`` saying so.
    """
    a = np.asarray(reference, dtype=np.float64)
    b = np.asarray(other, dtype=np.float64)
    fid = _row_cosines(a, b)
    out = {"mean_cosine": float(fid.mean()), "min_cosine": float(fid.min())}
    if len(a) < 2:  # one row: standardised, it is all zeros; no cosine exists
        out["standardised_cosine"] = math.nan
        out["standardised_cosine_reason"] = (
            f"undefined on {len(a)} held-back image(s): standardising needs the "
            "spread of at least 2"
        )
        return out
    scale = a.std(axis=0)
    scale[scale == 0] = 1.0  # as StandardScaler: constant features keep their scale
    mean = a.mean(axis=0)
    out["standardised_cosine"] = float(
        _row_cosines((a - mean) / scale, (b - mean) / scale).mean()
    )
    return out


def _row_cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    na = np.linalg.norm(a, axis=1)
    nb = np.linalg.norm(b, axis=1)
    cos = np.sum(a * b, axis=1) / np.maximum(na * nb, 1e-30)
    cos[(na == 0) & (nb == 0)] = 1.0
    return cos


class _Reader:
    """ONNX Runtime's calibration reader over batches of a float32 array."""

    def __init__(self, name: str, data: np.ndarray, batch_size: int = _CALIB_BATCH):
        self.name = name
        self.batches = [
            np.ascontiguousarray(data[i : i + batch_size], dtype=np.float32)
            for i in range(0, len(data), batch_size)
        ]
        self.set_range(0, len(self.batches))

    def __len__(self) -> int:
        return len(self.batches)

    def set_range(self, start_index: int, end_index: int) -> None:
        # ONNX Runtime collects one range at a time (``CalibStridedMinMax``):
        # the calibrators hold every intermediate output of what they are given,
        # so one small batch at a time bounds their memory.
        self.position, self.end = start_index, min(end_index, len(self.batches))

    def get_next(self):
        if self.position >= self.end:
            return None
        self.position += 1
        return {self.name: self.batches[self.position - 1]}

    def rewind(self):
        self.position = 0


def _import_quantization():
    try:
        import onnx  # noqa: F401
        from onnxruntime import quantization
    except ImportError as e:
        raise ImportError(
            'precision="int8" needs ONNX Runtime and onnx: pip install "skmedtl[onnx]"'
        ) from e
    return quantization


def _preprocessed(float_path: Path, directory: Path) -> Path:
    """The float32 model after ONNX Runtime's quantisation pre-processing."""
    quantization = _import_quantization()
    path = directory / (float_path.stem + ".pre.onnx")
    if path.is_file():
        return path
    from onnxruntime.quantization.shape_inference import quant_pre_process

    try:
        with atomic_path(path, suffix=".tmp.onnx") as tmp:
            quant_pre_process(str(float_path), tmp, skip_symbolic_shape=True)
    except Exception:
        logger.debug("quant_pre_process failed; quantising the export as is")
        return float_path
    del quantization
    return path


def _quantizable_nodes(model_path: Path) -> list[str]:
    """Names of the Conv / MatMul / Gemm nodes, in graph (topological) order."""
    import onnx

    model = onnx.load(str(model_path), load_external_data=False)
    return [n.name for n in model.graph.node if n.op_type in ("Conv", "MatMul", "Gemm")]


def _quantize(
    source: Path,
    target: Path,
    calibration: np.ndarray,
    settings: Int8Calibration,
    exclude: list[str],
) -> None:
    quantization = _import_quantization()
    import onnxruntime as ort

    methods = {
        "minmax": quantization.CalibrationMethod.MinMax,
        "entropy": quantization.CalibrationMethod.Entropy,
        "percentile": quantization.CalibrationMethod.Percentile,
    }
    session = ort.InferenceSession(str(source), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    del session
    extra = {
        "CalibPercentile": settings.percentile,
        "WeightSymmetric": True,
        "CalibStridedMinMax": 1,  # one batch per collection (any method)
    }
    # The calibrators print progress to stdout; keep it out of users' output.
    with atomic_path(target, suffix=".tmp.onnx") as tmp:
        with contextlib.redirect_stdout(io.StringIO()), _quiet_root_logger():
            quantization.quantize_static(
                str(source),
                tmp,
                _Reader(name, calibration),
                quant_format=quantization.QuantFormat.QDQ,
                per_channel=True,
                activation_type=quantization.QuantType.QUInt8,
                weight_type=quantization.QuantType.QInt8,
                nodes_to_exclude=exclude,
                calibrate_method=methods[settings.method],
                extra_options=extra,
            )


def quantize_extractor(
    float_path: Path,
    sample: np.ndarray,
    settings: Int8Calibration,
    run_float,
    run_int8,
    *,
    directory: Path | None = None,
) -> tuple[Path, dict]:
    """Quantise an exported feature extractor, or reuse the stored result.

    Parameters
    ----------
    float_path : Path
        The float32 ONNX export.
    sample : ndarray of shape (n, 3, h, w), float32
        Preprocessed calibration images; the last ``holdout`` share is held back.
    settings : Int8Calibration
    run_float, run_int8 : callable
        ``run_float(batch)`` embeds with the float32 model; ``run_int8(path,
        batch)`` with the quantised model at ``path``.
    directory : Path, optional
        Where to store the model (default: next to ``float_path``).

    Returns
    -------
    path : Path
        The quantised model.
    info : dict
        ``mean_cosine``, ``min_cosine`` (held-back images), ``excluded`` (nodes
        kept in float32), ``seconds`` (0 when reused), ``calibration_digest``.
    """
    directory = Path(directory) if directory is not None else float_path.parent
    directory.mkdir(parents=True, exist_ok=True)
    n_cal = settings.split(len(sample))
    calibration, held = sample[:n_cal], sample[n_cal:]
    digest = calibration_digest(sample)
    recipe = hashlib.sha256(repr(settings.to_dict()).encode()).hexdigest()[:8]
    stem = f"{float_path.stem}-int8-{digest}-{recipe}"
    start = time.perf_counter()
    source = _preprocessed(float_path, directory)
    nodes = _quantizable_nodes(source)
    reference = run_float(held)

    def build(exclude: list[str], tag: str) -> tuple[Path, dict]:
        path = directory / f"{stem}{tag}.onnx"
        if not path.is_file():
            _quantize(source, path, calibration, settings, exclude)
        return path, embedding_fidelity(reference, run_int8(path, held))

    if isinstance(settings.exclude, tuple):
        exclude = list(settings.exclude)
        path, fid = build(exclude, "")
    else:
        exclude = nodes[:1]  # the first convolution stays float32
        path, fid = build(exclude, "")
        if settings.exclude == "auto":
            # Sensitivity pass: keep the last quantised layers in float32 while
            # the held-back fidelity is below the threshold (two rounds at most;
            # the cost of the top layers is small in most backbones).
            for k in (1, 2):
                if fid["mean_cosine"] >= settings.min_fidelity or len(nodes) <= k + 1:
                    break
                trial = nodes[:1] + nodes[-k:]
                trial_path, trial_fid = build(trial, f"-top{k}")
                if trial_fid["mean_cosine"] > fid["mean_cosine"]:
                    path, fid, exclude = trial_path, trial_fid, trial
    seconds = time.perf_counter() - start
    info = {
        **fid,
        "excluded": exclude,
        "seconds": seconds,
        "calibration_digest": digest,
        "n_calibration": int(n_cal),
        "n_holdout": int(len(held)),
        "method": settings.method,
    }
    return path, info


def calibration_sample(preprocessing, images, settings: Int8Calibration) -> np.ndarray:
    """Preprocessed calibration images, float16, in a fixed pseudo-random order.

    ``settings.size`` images (all when fewer) drawn with a fixed seed, so the
    same training images give the same sample, the same digest and the same
    quantised model. The last ``holdout`` share is held back from calibration.
    Stored as float16 (half the memory and pickle size; rounding the inputs of
    a range calibration by 5e-4 does not matter).
    """
    n = len(images)
    if n < 2:
        raise ValueError(
            "precision='int8' calibrates on the images given to fit: it needs at "
            f"least 2 images; got {n}. Fit on more images or use precision='float32'."
        )
    order = np.random.RandomState(0).permutation(n)[: settings.size]
    parts = []
    for a in range(0, len(order), 32):
        idx = order[a : a + 32]
        batch = [images[int(i)] for i in idx]
        names = [images.describe(int(i)) for i in idx]
        parts.append(preprocessing(batch, "cpu", names).numpy())
    return np.concatenate(parts).astype(np.float16)


def int8_feature_config(config: dict, settings: Int8Calibration, sample) -> dict:
    """``feature_config_`` of an int8 model: the recipe and the calibration
    digest, so that the embedding cache never mixes models calibrated
    differently."""
    return {
        **config,
        "int8": {
            **settings.to_dict(),
            "calibration_digest": calibration_digest(sample),
        },
    }


@dataclass(frozen=True)
class Int8Engine:
    """A quantised inference engine and how faithful it is to float32.

    Attributes
    ----------
    engine : OnnxEngine
        The engine over the quantised model.
    fidelity : dict
        :func:`quantize_extractor`'s information: cosine similarities to the
        float32 embeddings on the held-back images (:func:`embedding_fidelity`),
        the calibration method, the nodes kept in float32, the time taken.
    """

    engine: object
    fidelity: dict


def int8_engine(
    float_path: Path, sample: np.ndarray, settings: Int8Calibration, device
) -> Int8Engine:
    """Quantise the exported float32 model on ``sample``; a pure function.

    Parameters
    ----------
    float_path : Path
        The float32 ONNX export.
    sample : ndarray
        The preprocessed calibration images (:func:`calibration_sample`); its
        digest names the quantised model.
    settings : Int8Calibration
    device : torch.device

    Returns
    -------
    Int8Engine
    """
    from ._engines import OnnxEngine

    float_engine = OnnxEngine(float_path, device)

    def run(engine, x):
        return np.concatenate(
            [engine(_tensor(x[i : i + 32])) for i in range(0, len(x), 32)]
        )

    path, info = quantize_extractor(
        float_path,
        sample,
        settings,
        lambda x: run(float_engine, x),
        lambda p, x: run(OnnxEngine(p, device), x),
    )
    return Int8Engine(OnnxEngine(path, device), dict(info))


def report_int8_fidelity(name: str, info: dict, settings: Int8Calibration) -> None:
    """Log an int8 model's fidelity; warn when it is below ``min_fidelity``."""
    logger.info(
        "%s int8: cosine similarity to float32 on %d held-back images: mean %.5f, "
        "min %.5f, standardised %.4f (%d calibration images, %s; float32 nodes: %s)",
        name,
        info["n_holdout"],
        info["mean_cosine"],
        info["min_cosine"],
        info["standardised_cosine"],
        info["n_calibration"],
        info["method"],
        info["excluded"],
    )
    if info["mean_cosine"] < settings.min_fidelity:
        import warnings

        warnings.warn(
            f"{name} quantised to int8 keeps a mean cosine similarity "
            f"of only {info['mean_cosine']:.4f} (min {info['min_cosine']:.4f}) to "
            f"its float32 embeddings on {info['n_holdout']} held-back images, below "
            f"int8_calibration['min_fidelity']={settings.min_fidelity}. Downstream "
            "accuracy may drop: calibrate on more images (int8_calibration="
            "{'size': 256}), try another method, or use precision='float32'.",
            UserWarning,
            stacklevel=4,
        )


def _tensor(x: np.ndarray):
    import torch

    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))


@contextlib.contextmanager
def _quiet_root_logger():
    """Keep ONNX Runtime's quantiser off the root logger below ERROR.

    It logs every bias copy at INFO, and a WARNING per BatchNorm it cannot
    quantise per channel (DenseNet's pre-activation BatchNorms: over a hundred
    lines). What matters to a user, the embeddings' fidelity, is measured after
    quantisation and warned about by us.
    """
    root = logging.getLogger()
    level = root.level
    if level < logging.ERROR:
        root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)
