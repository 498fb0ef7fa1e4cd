"""Frozen-trunk caching: epoch time of ``fine_tune`` with and without it.

``FineTuneClassifier(strategy="fine_tune", trainable_blocks=1)`` at 224 px on
a stratified subset of the Kermany chest X-rays (``/work/shared/data``), no
augmentation, a fixed number of epochs (no early stopping), trained twice with
the same seed: with frozen-trunk caching (the default) and without it
(``skmedtl.finetune._training.CACHE_TRUNK = False``). The two fits alternate per
backbone in one process. Reported: the first epoch (which includes computing
the trunk once), the median of the later epochs, their ratio, and the largest
differences of the validation losses and of the predicted probabilities.

EfficientNet-Lite0 runs with its shipped ImageNet weights; ResNet-50 with random
weights (no ImageNet weights offline), which does not change the arithmetic.

Usage::

    nice python benchmarks/finetune/bench_trunk.py --n 160 --epochs 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "speed"))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--backbones", nargs="+", default=["efficientnet_lite0", "resnet50"]
    )
    parser.add_argument("--n", type=int, default=160, help="training images")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--data", default="/work/shared/data")
    args = parser.parse_args(argv)

    import torch
    from bench_int8 import load_xray

    import skmedtl.finetune._training as training
    from skmedtl.finetune import FineTuneClassifier

    torch.set_num_threads(args.threads)
    X, y, Xte, _ = load_xray(Path(args.data), args.n, 64)
    rows = []
    for backbone in args.backbones:
        runs = {}
        for cached in (True, False):
            training.CACHE_TRUNK = cached
            clf = FineTuneClassifier(
                backbone,
                weights="imagenet" if backbone == "efficientnet_lite0" else None,
                strategy="fine_tune",
                trainable_blocks=1,
                input_size=224,
                max_epochs=args.epochs,
                batch_size=args.batch_size,
                early_stopping=False,
                validation_fraction=0.2,
                random_state=0,
                verbose=0,
                device="cpu",
            )
            load = os.getloadavg()[0]
            tic = time.perf_counter()
            clf.fit(X, y)
            fit_s = time.perf_counter() - tic
            durations = [h["duration"] for h in clf.history_]
            runs[cached] = {
                "fit_s": fit_s,
                "first_s": durations[0],
                "later_s": statistics.median(durations[1:]),
                "durations": durations,
                "valid_loss": [h["valid_loss"] for h in clf.history_],
                "proba": clf.predict_proba(Xte),
                "load": load,
            }
            print(
                json.dumps(
                    {
                        "backbone": backbone,
                        "cached": cached,
                        **{k: v for k, v in runs[cached].items() if k != "proba"},
                    }
                ),
                flush=True,
            )
        on, off = runs[True], runs[False]
        rows.append(
            {
                "backbone": backbone,
                "first_on": on["first_s"],
                "first_off": off["first_s"],
                "later_on": on["later_s"],
                "later_off": off["later_s"],
                "speedup": off["later_s"] / on["later_s"],
                "loss_diff": float(
                    np.max(np.abs(np.subtract(on["valid_loss"], off["valid_loss"])))
                ),
                "proba_diff": float(np.max(np.abs(on["proba"] - off["proba"]))),
                "load": (on["load"] + off["load"]) / 2,
            }
        )
    n_valid = int(round(args.n * 0.2))
    print(
        f"\n{args.n - n_valid} training + {n_valid} validation images at 224 px, "
        f"{args.epochs} epochs, batch {args.batch_size}, {args.threads} torch "
        "threads.\n"
    )
    print(
        "| backbone | epoch 1 cached / uncached (s) | later epochs cached (s) | "
        "later epochs uncached (s) | speed-up | max Δ valid loss | max Δ proba | "
        "load |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['backbone']} | {r['first_on']:.1f} / {r['first_off']:.1f} | "
            f"{r['later_on']:.2f} | {r['later_off']:.2f} | **{r['speedup']:.1f}x** | "
            f"{r['loss_diff']:.1e} | {r['proba_diff']:.1e} | {r['load']:.1f} |"
        )


if __name__ == "__main__":
    main()
