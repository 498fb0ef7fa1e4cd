"""Feature-extraction speed: skmedtl's engines against the usual baselines.

Every figure in one table comes from the same run on the same machine:

- ``naive-embetter``: one image at a time exactly as embetter's ``TimmEncoder``
  does it: a PIL image through the torchvision eval transform (resize, centre
  crop, ``ToTensor``, normalise), ``model(x[None])`` with autograd left on, then
  ``.detach()``; timed on a subset and reported per image;
- ``naive``: one image at a time, eager PyTorch, NCHW, ``torch.no_grad`` and the
  tensor preprocessing (img2vec's loop, minus PIL); timed on the same subset;
- ``eager``: plain batched eager PyTorch, NCHW, ``torch.no_grad`` (what most
  libraries do);
- ``skmedtl torch``: ``CNNFeatures(backend="torch")`` (channels_last,
  ``inference_mode``, prefetching);
- ``skmedtl onnxruntime``: ``CNNFeatures(backend="onnxruntime")`` with the
  exported model already on disk (the export time is reported separately).

All four include the same preprocessing (resize to the native input size and
normalisation) of uint8 arrays. Each measurement runs in a fresh subprocess, so
the peak resident memory reported is that method's own. The machine's fp32
matmul throughput is the ceiling; "of ceiling" is achieved GFLOP/s (model FLOPs
counted by ``torch.utils.flop_counter``) divided by it.

Usage::

    python benchmarks/speed/bench_speed.py                       # default set
    python benchmarks/speed/bench_speed.py --backbones resnet50 --n 256
    python benchmarks/speed/bench_speed.py --write benchmarks/speed/RESULTS.md
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time

DEFAULT_BACKBONES = [
    "resnet50",
    "inception_v3",
    "densenet121",
    "efficientnet_lite0",
    "mobilenet_v3_large",
]
METHODS = ["naive-embetter", "naive", "eager", "skmedtl-torch", "skmedtl-onnxruntime"]


def _images(n: int, size: int):
    import numpy as np

    return np.random.default_rng(0).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


def _measure(backbone: str, method: str, n: int, n_naive: int, batch: int) -> dict:
    """Runs inside a fresh subprocess."""
    import numpy as np
    import torch

    from skmedtl import CNNFeatures
    from skmedtl.backbones import create_backbone, get_backbone
    from skmedtl.features import Preprocessing
    from skmedtl.features._extractor import FeatureExtractor

    spec = get_backbone(backbone)
    size = spec.input_size[0]
    X = _images(n, size)
    result = {"backbone": backbone, "method": method}
    if method.startswith("skmedtl"):
        engine = method.split("-", 1)[1]
        features = CNNFeatures(
            backbone,
            weights=None,
            random_state=0,
            verbose=0,
            backend=engine,
            batch_size=batch,
        )
        features.fit(X[:1])
        start = time.perf_counter()
        features.transform(X[:batch])  # warm-up; exports the ONNX model if needed
        result["first_call_s"] = time.perf_counter() - start
        start = time.perf_counter()
        out = features.fit_transform(X)
        seconds = time.perf_counter() - start
        result["images_per_s"] = n / seconds
    elif method == "naive-embetter":
        from PIL import Image
        from torchvision import transforms

        model = create_backbone(backbone, weights=None, random_state=0)
        module = FeatureExtractor(spec, model, None, "avg").eval()
        config = spec.data_config(None)
        pipeline = transforms.Compose(
            [
                transforms.Resize(size),
                transforms.CenterCrop(size),
                transforms.ToTensor(),
                transforms.Normalize(config.mean, config.std),
            ]
        )

        def embed(i):
            x = pipeline(Image.fromarray(X[i])).unsqueeze(0)
            return module(x).squeeze(0).detach().numpy()

        embed(0)  # warm-up
        start = time.perf_counter()
        out = np.array([embed(i) for i in range(n_naive)])
        result["images_per_s"] = n_naive / (time.perf_counter() - start)
    else:
        model = create_backbone(backbone, weights=None, random_state=0)
        module = FeatureExtractor(spec, model, None, "avg").eval()
        pre = Preprocessing.from_config(spec.data_config(None))
        with torch.no_grad():
            module(pre(X[:1]))  # warm-up for both batch shapes
            module(pre(X[:batch]))
            if method == "naive":
                start = time.perf_counter()
                rows = [module(pre(X[i : i + 1])).numpy() for i in range(n_naive)]
                seconds = time.perf_counter() - start
                result["images_per_s"] = n_naive / seconds
                out = np.vstack(rows)
            else:
                start = time.perf_counter()
                out = np.vstack(
                    [module(pre(X[i : i + batch])).numpy() for i in range(0, n, batch)]
                )
                result["images_per_s"] = n / (time.perf_counter() - start)
    np.save(os.environ["BENCH_OUT"], out[:n_naive])
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def _gflops_per_image(backbone: str) -> float:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from skmedtl.backbones import create_backbone, get_backbone
    from skmedtl.features._extractor import FeatureExtractor

    spec = get_backbone(backbone)
    module = FeatureExtractor(
        spec, create_backbone(backbone, weights=None), None, "avg"
    )
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        module(torch.zeros(1, 3, *spec.input_size))
    return counter.get_total_flops() / 1e9


def _matmul_ceiling(size: int = 2048, repeats: int = 10) -> float:
    import torch

    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backbones", nargs="+", default=DEFAULT_BACKBONES)
    parser.add_argument("--methods", nargs="+", default=METHODS, choices=METHODS)
    parser.add_argument("--n", type=int, default=256, help="images per measurement")
    parser.add_argument(
        "--n-naive", type=int, default=32, help="images for the one-at-a-time baseline"
    )
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--write", help="write the Markdown table to this file")
    parser.add_argument("--_child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args._child:  # measurement subprocess
        backbone, method = args._child.split("|")
        result = _measure(backbone, method, args.n, args.n_naive, args.batch_size)
        print("RESULT " + json.dumps(result))
        return 0

    import numpy as np
    import torch

    ceiling = _matmul_ceiling()
    threads = torch.get_num_threads()
    print(f"fp32 matmul ceiling: {ceiling:.0f} GFLOP/s ({threads} threads)")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, SKMEDTL_HOME=os.path.join(tmp, "home"))
        for backbone in args.backbones:
            gflops = _gflops_per_image(backbone)
            outputs, results = {}, {}
            for method in args.methods:
                env["BENCH_OUT"] = os.path.join(tmp, f"{backbone}-{method}.npy")
                proc = subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "--_child",
                        f"{backbone}|{method}",
                        "--n",
                        str(args.n),
                        "--n-naive",
                        str(args.n_naive),
                        "--batch-size",
                        str(args.batch_size),
                    ],
                    env=env,
                    capture_output=True,
                    text=True,
                    check=True,
                )
                line = next(
                    li for li in proc.stdout.splitlines() if li.startswith("RESULT")
                )
                results[method] = json.loads(line[len("RESULT ") :])
                outputs[method] = np.load(env["BENCH_OUT"])
                r = results[method]
                print(
                    f"{backbone:<20} {method:<20} {r['images_per_s']:8.1f} img/s "
                    f"peak {r['peak_rss_mb']:.0f} MB",
                    flush=True,
                )
            base = results.get("eager", {}).get("images_per_s")
            for method, r in results.items():
                ref = outputs.get("eager")
                err = (
                    float(np.abs(outputs[method] - ref).max() / np.abs(ref).max())
                    if ref is not None
                    else float("nan")
                )
                rows.append(
                    {
                        **r,
                        "gflops": gflops,
                        "vs_eager": r["images_per_s"] / base if base else float("nan"),
                        "vs_naive": _ratio(r, results.get("naive")),
                        "vs_embetter": _ratio(r, results.get("naive-embetter")),
                        "of_ceiling": r["images_per_s"] * gflops / ceiling,
                        "max_rel_err": err,
                    }
                )
    table = _markdown(rows, ceiling, args)
    print(table)
    if args.write:
        with open(args.write, "w") as fh:
            fh.write(table)
    return 0


def _ratio(result: dict, baseline: dict | None) -> float:
    if not baseline:
        return float("nan")
    return result["images_per_s"] / baseline["images_per_s"]


def _markdown(rows, ceiling, args) -> str:
    import torch

    lines = [
        f"Machine: {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, "
        f"torch {torch.__version__} ({torch.get_num_threads()} threads); fp32 matmul "
        f"ceiling {ceiling:.0f} GFLOP/s. {args.n} random uint8 RGB images at each "
        f"backbone's native size, batch {args.batch_size}; naive on {args.n_naive}.",
        "",
        "| backbone | method | images/s | × eager | × naive | × embetter-style "
        "| GFLOP/img | of ceiling | peak RSS (MB) | max rel. diff vs eager "
        "| first call (s) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        first = f"{r['first_call_s']:.1f}" if "first_call_s" in r else ""
        lines.append(
            f"| {r['backbone']} | {r['method']} | {r['images_per_s']:.1f} | "
            f"{r['vs_eager']:.2f} | {r['vs_naive']:.2f} | {r['vs_embetter']:.2f} | "
            f"{r['gflops']:.1f} | "
            f"{r['of_ceiling']:.2f} | {r['peak_rss_mb']:.0f} | {r['max_rel_err']:.1e} "
            f"| {first} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
