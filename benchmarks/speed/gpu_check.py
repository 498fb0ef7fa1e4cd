"""GPU check for feature extraction: correctness of the CUDA paths, then speed.

Finishes within about five minutes on one CUDA GPU. It

1. checks that the CUDA paths agree with the CPU: ``CNNFeatures`` on CUDA in
   float32, float16 and bfloat16 (autocast), through the embedding cache, and
   ONNX Runtime's CUDA execution provider when ``onnxruntime-gpu`` is installed,
   against the CPU float32 embeddings of the same images;
2. reports what ``batch_size="auto"`` picks on the GPU;
3. measures images/s for resnet50, inception_v3 and densenet121 at their native
   size with both backends, at batch 64, 128 and 256 in half precision (ONNX
   Runtime in float32: its exported models are float32):

   - ``model only``: the network on a batch already on the GPU, the ceiling;
   - ``uint8 arrays``: ``CNNFeatures.transform`` from a uint8 array in host
     memory (pinned copies, preprocessing on the GPU);
   - ``JPEG files, PIL``: ``CNNFeatures.transform`` on file paths (decoded by
     Pillow on a prefetch thread);
   - ``JPEG files, nvjpeg``: the same files decoded in batches on the GPU by
     ``torchvision.io.decode_jpeg(device="cuda")`` where torchvision has it,
     then the same preprocessing and network.

It prints one markdown table (and writes it, with a JSON copy, to ``$OUT`` when
that is set). ``--device cpu --quick`` runs every code path on a CPU in seconds,
for testing the script itself.

Usage::

    python benchmarks/speed/gpu_check.py                # on a CUDA machine
    python benchmarks/speed/gpu_check.py --device cpu --quick
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run from a checkout

from skmedtl import CNNFeatures  # noqa: E402
from skmedtl.backbones import get_backbone  # noqa: E402

BACKBONES = ["resnet50", "inception_v3", "densenet121"]
BATCHES = [64, 128, 256]
HALF = "float16"


def _images(n: int, size: int, seed: int = 0) -> np.ndarray:
    """Smooth random images (JPEG-friendly, unlike white noise)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (n, size // 8, size // 8, 3), dtype=np.uint8)
    big = torch.from_numpy(small).permute(0, 3, 1, 2).float()
    big = torch.nn.functional.interpolate(big, size=(size, size), mode="bilinear")
    return big.round().clamp(0, 255).byte().permute(0, 2, 3, 1).numpy()


def _features(backbone, device, **kwargs) -> CNNFeatures:
    params = dict(weights=None, random_state=0, verbose=0, device=device)
    params.update(kwargs)
    return CNNFeatures(backbone, **params)


def _rel_diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-12))


def check_agreement(device: str, backbone: str, n: int, size: int) -> list[dict]:
    """CUDA paths against CPU float32; returns one row per path."""
    X = _images(n, size, seed=1)
    common = dict(input_size=size, batch_size=16)
    reference = _features(backbone, "cpu", backend="torch", **common).fit_transform(X)
    rows = []

    def row(path, out, tolerance):
        diff = _rel_diff(out, reference)
        rows.append({"path": path, "max_rel_diff": diff, "ok": diff <= tolerance})

    # TF32 convolutions (PyTorch's CUDA default) differ from CPU float32 ~1e-3.
    for precision, tolerance in (
        ("float32", 1e-2),
        ("float16", 1e-2),
        ("bfloat16", 5e-2),
    ):
        f = _features(backbone, device, backend="torch", precision=precision, **common)
        row(f"torch {precision}", f.fit_transform(X), tolerance)
    with tempfile.TemporaryDirectory() as tmp:
        cached = _features(
            backbone, device, backend="torch", cache_path=Path(tmp) / "c.h5", **common
        ).fit(X)
        first, again = cached.transform(X), cached.transform(X)
        row("torch float32, cache (computed)", first, 1e-2)
        row("torch float32, cache (read back)", again, 1e-2)
        rows[-1]["ok"] &= bool(np.array_equal(first, again))
    try:
        import onnxruntime as ort

        if "CUDAExecutionProvider" in ort.get_available_providers() or device == "cpu":
            f = _features(backbone, device, backend="onnxruntime", **common)
            out = f.fit_transform(X)
            providers = f._engine().session.get_providers()
            row(f"onnxruntime ({providers[0]})", out, 1e-2)
        else:
            rows.append({"path": "onnxruntime CUDA", "note": "onnxruntime-gpu missing"})
    except ImportError:
        rows.append({"path": "onnxruntime", "note": "onnxruntime not installed"})
    return rows


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _timed(fn, device: str, n_images: int, min_seconds: float) -> float:
    """Images/s of ``fn`` (one call = ``n_images``), after one warm-up call."""
    fn()
    _sync(device)
    calls, start = 0, time.perf_counter()
    while True:
        fn()
        calls += 1
        _sync(device)
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            return calls * n_images / elapsed


def _decode_nvjpeg(paths: list[str], device: str) -> list[np.ndarray] | None:
    try:
        from torchvision.io import decode_jpeg, read_file
    except ImportError:
        return None
    data = [read_file(p) for p in paths]
    try:
        return decode_jpeg(data, device=device)
    except (RuntimeError, TypeError):
        return None


def measure(backbone: str, device: str, n: int, batches, min_seconds: float) -> list:
    spec = get_backbone(backbone)
    size = spec.input_size[0]
    X = _images(n, size)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        from PIL import Image

        paths = []
        for i, img in enumerate(X):
            paths.append(os.path.join(tmp, f"{i}.jpg"))
            Image.fromarray(img).save(paths[-1], quality=90)
        for batch in batches:
            for backend, precision in (("torch", HALF), ("onnxruntime", "float32")):
                if device == "cpu" and precision != "float32":
                    precision = "float32"  # CPU half precision is not a target
                try:
                    f = _features(
                        backbone,
                        device,
                        backend=backend,
                        precision=precision,
                        batch_size=batch,
                    ).fit(X[:1])
                    engine = f._engine()
                except (ImportError, RuntimeError, ValueError) as e:
                    rows.append(
                        {"backbone": backbone, "backend": backend, "note": str(e)}
                    )
                    continue
                result = {
                    "backbone": backbone,
                    "backend": f"{backend} {precision}",
                    "batch": batch,
                    **_speeds(f, engine, X, paths, device, min_seconds),
                }
                rows.append(result)
                print(json.dumps(result), flush=True)
    return rows


def _speeds(f, engine, X, paths, device, min_seconds) -> dict:
    """Images/s of one fitted CNNFeatures along the four input paths."""
    n, batch = len(X), f.batch_size_
    x = f.preprocessing_(X[:batch], engine.input_device)
    mean = torch.tensor(f.preprocessing_.mean, device=device).view(1, 3, 1, 1)
    std = torch.tensor(f.preprocessing_.std, device=device).view(1, 3, 1, 1)

    def nvjpeg():
        # The files are at the input size already: no resize needed.
        for a in range(0, n, batch):
            images = _decode_nvjpeg(paths[a : a + batch], device)
            if images is None:
                raise RuntimeError("torchvision.io.decode_jpeg is not available")
            x = torch.stack(images).float().div_(255)  # (n, 3, h, w) on the device
            engine((x - mean) / std)

    speeds = {
        "model only": _timed(lambda: engine(x), device, batch, min_seconds),
        "uint8 arrays": _timed(lambda: f.transform(X), device, n, min_seconds),
        "JPEG files, PIL": _timed(lambda: f.transform(paths), device, n, min_seconds),
    }
    try:
        speeds["JPEG files, nvjpeg"] = _timed(nvjpeg, device, n, min_seconds)
    except RuntimeError:
        speeds["JPEG files, nvjpeg"] = None
    return speeds


def _markdown(env: dict, agreement: list, speed: list) -> str:
    lines = [f"{k}: {v}" for k, v in env.items()]
    lines += ["", "| CUDA path | max rel. diff vs CPU float32 | ok |", "|---|---:|---|"]
    for r in agreement:
        if "note" in r:
            lines.append(f"| {r['path']} | {r['note']} | |")
        else:
            lines.append(f"| {r['path']} | {r['max_rel_diff']:.1e} | {r['ok']} |")
    cols = ["model only", "uint8 arrays", "JPEG files, PIL", "JPEG files, nvjpeg"]
    lines += [
        "",
        "| backbone | backend | batch | " + " | ".join(cols) + " |",
        "|---|---|---:|" + "---:|" * len(cols),
    ]
    for r in speed:
        if "note" in r:
            lines.append(f"| {r['backbone']} | {r['backend']} | | {r['note']} |")
            continue
        cells = [f"{r[c]:.0f}" if r.get(c) else "n/a" for c in cols]
        lines.append(
            f"| {r['backbone']} | {r['backend']} | {r['batch']} | "
            + " | ".join(cells)
            + " |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument(
        "--quick", action="store_true", help="tiny run (CPU smoke test)"
    )
    parser.add_argument(
        "--seconds",
        type=float,
        default=1.5,
        help="time each measurement at least this long (default 1.5)",
    )
    args = parser.parse_args(argv)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error("no CUDA device here; use --device cpu --quick to test the script")
    quick = args.quick
    backbones = ["resnet18"] if quick else BACKBONES
    batches = [8] if quick else BATCHES
    n, seconds = (16, 0.2) if quick else (1024, args.seconds)

    env = {
        "device": torch.cuda.get_device_name()
        if args.device.startswith("cuda")
        else "cpu",
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
    }
    if args.device.startswith("cuda"):
        # The library leaves global flags alone; a benchmark may let cuDNN pick
        # its fastest kernels for the fixed shapes it runs.
        torch.backends.cudnn.benchmark = True
        probe = _features("resnet50", args.device, precision=HALF).fit(_images(1, 224))
        env["batch_size='auto' (resnet50, float16)"] = probe.batch_size_
    start = time.perf_counter()
    agreement = check_agreement(
        args.device, backbones[0], 8 if quick else 64, 64 if quick else 224
    )
    print(json.dumps(agreement), flush=True)
    speed = []
    for backbone in backbones:
        speed += measure(backbone, args.device, n, batches, seconds)
    env["check time (s)"] = round(time.perf_counter() - start, 1)
    table = _markdown(env, agreement, speed)
    print(table)
    out = os.environ.get("OUT")
    if out:
        Path(out, "gpu_check.md").write_text(table)
        Path(out, "gpu_check.json").write_text(
            json.dumps({"env": env, "agreement": agreement, "speed": speed}, indent=1)
        )
    return 0 if all(r.get("ok", True) for r in agreement) else 1


if __name__ == "__main__":
    raise SystemExit(main())
