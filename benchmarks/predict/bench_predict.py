"""``skmedtl predict`` against bare extraction: images per second.

Writes ``--n`` real chest X-rays (Kermany test set) as 256-px grey PNGs to a
work folder, fits and saves (``skmedtl.save``) two small models on ``--n-train``
other images:

- a hybrid: ``make_hybrid("efficientnet_lite0", "logreg", tune=False)``;
- a fine-tuned EfficientNet-Lite0 (``FineTuneClassifier``, one epoch, head only:
  what is timed is prediction, not training);

then times, interleaved over ``--rounds`` rounds (median):

- ``transform``: ``CNNFeatures("efficientnet_lite0").transform`` on the images
  already in memory (engine built before timing): bare extraction;
- ``model (memory)``: the loaded model's ``predict_proba`` on the same arrays;
- ``cli``: ``skmedtl.cli.main(["predict", "--model", M, "--images", DIR,
  "--out", CSV, "-q"])`` in this process: loading the model, reading, checking,
  predicting, writing;
- ``subprocess``: the same command as ``python -m skmedtl.cli`` (adds Python
  and import start-up).

Overhead: ``cli / transform - 1`` and ``cli / model (memory) - 1``. ``--profile``
prints a cProfile of one in-process CLI call per model.

Usage::

    nice python benchmarks/predict/bench_predict.py --work /tmp/predict_bench
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import json
import os
import pstats
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np


def write_pngs(data: Path, folder: Path, n: int, offset: int = 0):
    """``n`` Kermany test X-rays (both classes, sorted names) as 256-px PNGs."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    files, labels = [], []
    for label, cls in enumerate(("NORMAL", "PNEUMONIA")):
        names = sorted((data / "chest_xray_kermany_224" / "test" / cls).iterdir())
        half = n // 2 if label == 0 else n - n // 2
        files += names[offset : offset + half]
        labels += [label] * half
    paths = []
    for i, f in enumerate(files):
        out = folder / f"img{i:04d}.png"
        if not out.exists():
            Image.open(f).convert("L").resize((256, 256), Image.BILINEAR).save(out)
        paths.append(out)
    arrays = np.stack([np.asarray(Image.open(p)) for p in paths])
    return paths, arrays, np.asarray(labels)


def timed(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="/work/shared/data")
    parser.add_argument("--work", default="/tmp/skmedtl_predict_bench")
    parser.add_argument("--n", type=int, default=128)
    parser.add_argument("--n-train", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--models", nargs="+", default=["hybrid", "finetuned"])
    parser.add_argument("--no-subprocess", action="store_true")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args(argv)

    import skmedtl
    from skmedtl import CNNFeatures, make_hybrid
    from skmedtl.cli import main as cli

    work = Path(args.work)
    print(f"# load average at start: {os.getloadavg()}", flush=True)
    _, Xtr, ytr = write_pngs(Path(args.data), work / "train", args.n_train, 100)
    paths, X, _ = write_pngs(Path(args.data), work / "images", args.n)
    folders = {}
    for kind in args.models:
        folder = work / kind
        if not folder.exists():  # fitted once per work folder
            t = time.perf_counter()
            if kind == "hybrid":
                model = make_hybrid("efficientnet_lite0", "logreg", tune=False)
                model.set_params(features__verbose=0)
            else:
                from skmedtl.finetune import FineTuneClassifier

                model = FineTuneClassifier(
                    "efficientnet_lite0",
                    strategy="fine_tune",
                    trainable_blocks=1,
                    max_epochs=1,
                    validation_fraction=None,
                    early_stopping=False,
                    batch_size=16,
                    random_state=0,
                    verbose=0,
                )
            model.fit(Xtr, ytr)
            skmedtl.save(model, folder)
            print(f"# fitted and saved {kind} in {time.perf_counter() - t:.1f} s")
        folders[kind] = folder

    features = CNNFeatures("efficientnet_lite0", verbose=0).fit(X[:1])
    features.transform(X[:2])  # build the engine before timing
    loaded = {k: skmedtl.load(f) for k, f in folders.items()}
    for m in loaded.values():
        m.predict_proba(X[:2])  # warm

    def run_cli(kind):
        out = work / f"pred_{kind}.csv"
        with contextlib.suppress(FileNotFoundError):
            out.unlink()
        argv = ["predict", "--model", str(folders[kind]), "--images"]
        argv += [str(work / "images"), "--out", str(out), "-q"]
        with contextlib.redirect_stderr(io.StringIO()):
            code = cli(argv)
        assert code == 0, code
        return argv

    def run_subprocess(kind):
        argv = argvs[kind]
        env = dict(os.environ, SKMEDTL_OFFLINE="1")
        subprocess.run(
            [sys.executable, "-m", "skmedtl.cli", *argv],
            check=True,
            env=env,
            capture_output=True,
        )

    argvs = {k: run_cli(k) for k in folders}  # also warms up
    times: dict[str, list] = {"transform": []}
    for _ in range(args.rounds):
        times["transform"].append(timed(lambda: features.transform(X)))
        for kind in folders:
            m = loaded[kind]
            times.setdefault(f"{kind}: model (memory)", []).append(
                timed(lambda m=m: m.predict_proba(X))
            )
            times.setdefault(f"{kind}: cli", []).append(
                timed(lambda k=kind: run_cli(k))
            )
            if not args.no_subprocess:
                times.setdefault(f"{kind}: subprocess", []).append(
                    timed(lambda k=kind: run_subprocess(k))
                )
        print(json.dumps({k: v[-1] for k, v in times.items()}), flush=True)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"# load average at end: {os.getloadavg()}")
    print(f"\n{args.n} images, 256-px PNG; median of {args.rounds} rounds\n")
    print("| what | s | images/s | vs transform | vs model (memory) |")
    print("|---|---:|---:|---:|---:|")
    for k, v in med.items():
        kind = k.split(":")[0]
        mem = med.get(f"{kind}: model (memory)")
        print(
            f"| {k} | {v:.2f} | {args.n / v:.1f} | {v / med['transform']:.2f} | "
            + (f"{v / mem:.2f} |" if mem and k != "transform" else "— |")
        )
    if args.profile:
        for kind in folders:
            prof = cProfile.Profile()
            prof.runcall(run_cli, kind)
            s = io.StringIO()
            pstats.Stats(prof, stream=s).sort_stats("cumtime").print_stats(40)
            print(f"\n## cProfile of `skmedtl predict` ({kind})\n")
            print(s.getvalue())


if __name__ == "__main__":
    main()
