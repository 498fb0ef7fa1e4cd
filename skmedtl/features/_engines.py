"""Inference engines behind CNNFeatures: eager PyTorch and ONNX Runtime.

Both take a preprocessed ``(n, 3, h, w)`` float32 batch and return pooled
``(n, d)`` float32 features; they agree within float tolerance.

ONNX Runtime is the fastest CPU engine measured here for every backbone tried
(1.9-5.8x plain eager PyTorch). The exported model is stored once per feature
configuration (``<fingerprint>.onnx``) and reused by later processes; it is
written to a temporary file and renamed into place, so an interrupted export
never leaves a broken model behind.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import warnings
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..utils._files import atomic_path

logger = logging.getLogger(__name__)

_OPSET = 17
# ONNX Runtime sessions kept per process. Creating one optimises the graph
# (0.3-0.5 s for ResNet-50), and a grid search refits the same extractor for
# every fold and candidate; sessions are safe to share (``run`` is thread-safe)
# and an exported file never changes, since its name fingerprints its content.
_MAX_SESSIONS = 2
_SESSIONS: OrderedDict = OrderedDict()
_SESSIONS_LOCK = threading.Lock()


def onnxruntime_available() -> bool:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def resolve_backend(
    backend: str, device: torch.device, precision: str = "float32"
) -> str:
    """``"auto"``: ONNX Runtime for float32 on the CPU when installed, else PyTorch.

    Half precision runs through PyTorch autocast only: the exported ONNX models
    are float32. ``int8`` runs on ONNX Runtime only (a statically quantised
    export, see :mod:`skmedtl.features._quantize`).
    """
    if precision == "int8":
        if backend == "torch":
            raise ValueError(
                "precision='int8' needs backend='onnxruntime' (or 'auto'): int8 "
                "extraction runs a quantised ONNX model."
            )
        if not onnxruntime_available():
            raise ImportError(
                "precision='int8' needs ONNX Runtime: pip install \"skmedtl[onnx]\", "
                "or use precision='float32'."
            )
        return "onnxruntime"
    if backend == "auto":
        if device.type == "cpu" and precision == "float32" and onnxruntime_available():
            return "onnxruntime"
        return "torch"
    if backend == "onnxruntime":
        if precision != "float32":
            raise ValueError(
                f"precision={precision!r} needs backend='torch' (CUDA autocast); "
                "the ONNX Runtime backend runs float32 and int8 models only."
            )
        if not onnxruntime_available():
            raise ImportError(
                "backend='onnxruntime' needs ONNX Runtime: pip install "
                '"skmedtl[onnx]" (or "skmedtl[gpu]" for onnxruntime-gpu), or '
                "use backend='torch'."
            )
    return backend


def default_onnx_dir() -> Path:
    """Where exported models live: ``$SKMEDTL_HOME/onnx`` or the user cache dir."""
    home = os.environ.get("SKMEDTL_HOME")
    if home:
        return Path(home) / "onnx"
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(base) / "skmedtl" / "onnx"


class TorchEngine:
    """Eager PyTorch: eval mode, ``inference_mode``, channels_last, optional AMP.

    Parameters
    ----------
    module : nn.Module
        Maps a normalised batch to pooled features; already on ``device``.
    device : torch.device
    precision : {"float32", "float16", "bfloat16"}, default="float32"
        Half precisions run under ``torch.autocast`` (convolutions and matmuls
        in half, reductions in float32); the features come back as float32.
    """

    name = "torch"

    def __init__(
        self, module: nn.Module, device: torch.device, precision: str = "float32"
    ):
        self.module = module.eval()
        self.device = device
        self.precision = precision
        self.input_device = device  # preprocess where the network runs

    def __call__(self, x: torch.Tensor) -> np.ndarray:
        half = self.precision != "float32"
        dtype = getattr(torch, self.precision)
        with (
            torch.inference_mode(),
            torch.autocast(self.device.type, dtype=dtype, enabled=half),
        ):
            x = x.to(self.device, non_blocking=True)
            x = x.contiguous(memory_format=torch.channels_last)
            return self.module(x).float().cpu().numpy()


class OnnxEngine:
    """ONNX Runtime session over an exported feature extractor.

    Parameters
    ----------
    path : Path
        The ``.onnx`` file.
    device : torch.device
        ``cuda`` uses the CUDA execution provider when onnxruntime-gpu offers it.
    """

    name = "onnxruntime"

    def __init__(self, path: Path, device: torch.device):
        import onnxruntime as ort

        self.input_device = torch.device("cpu")  # ONNX Runtime takes numpy input
        providers = ["CPUExecutionProvider"]
        available = ort.get_available_providers()
        if device.type == "cuda" and "CUDAExecutionProvider" in available:
            cuda = ("CUDAExecutionProvider", {"device_id": device.index or 0})
            providers.insert(0, cuda)
        # As many threads as torch uses (which honours torch.set_num_threads and
        # OMP_NUM_THREADS), not one per core: Dask workers and joblib jobs that
        # limit torch's threads then limit ONNX Runtime's too.
        threads = torch.get_num_threads()
        key = (str(path), repr(providers), threads)
        with _SESSIONS_LOCK:
            session = _SESSIONS.get(key)
            if session is None:
                options = ort.SessionOptions()
                level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
                options.graph_optimization_level = level
                options.log_severity_level = 3
                options.intra_op_num_threads = threads
                session = ort.InferenceSession(str(path), options, providers=providers)
                _SESSIONS[key] = session
                while len(_SESSIONS) > _MAX_SESSIONS:
                    _SESSIONS.popitem(last=False)
            _SESSIONS.move_to_end(key)
        self.session = session
        self.input_name = self.session.get_inputs()[0].name
        self.path = path
        self.export_seconds = 0.0  # set by whoever exported it

    def __call__(self, x: torch.Tensor) -> np.ndarray:
        batch = np.ascontiguousarray(x.detach().cpu().numpy(), dtype=np.float32)
        return self.session.run(None, {self.input_name: batch})[0]


def exported_model(
    module: nn.Module,
    input_size: tuple[int, int],
    fingerprint: str,
    directory: Path | None = None,
) -> tuple[Path, float]:
    """The ONNX export of ``module`` for ``fingerprint``, exporting only if missing.

    Returns
    -------
    path : Path
    seconds : float
        Time spent exporting now (0 when the file was already there).
    """
    directory = Path(directory) if directory is not None else default_onnx_dir()
    path = directory / f"{fingerprint}.onnx"
    if path.is_file():
        return path, 0.0
    directory.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    module = module.eval()  # on the CPU: export traces there
    example = torch.zeros((2, getattr(module, "in_chans", 3), *input_size))
    with atomic_path(path) as tmp, warnings.catch_warnings():
        # The TorchScript-based exporter is deprecated but gives faster ONNX
        # Runtime graphs here than the dynamo exporter (15 vs 12 images/s on
        # ResNet-50), and needs no onnxscript.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            (example,),
            tmp,
            input_names=["images"],
            output_names=["features"],
            dynamic_axes={"images": {0: "batch"}, "features": {0: "batch"}},
            opset_version=_OPSET,
            dynamo=False,
        )
    seconds = time.perf_counter() - start
    logger.info("Exported %s in %.1fs", path, seconds)
    return path, seconds
