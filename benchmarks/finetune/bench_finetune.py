"""How long each FineTuneClassifier strategy takes to fit on BreastMNIST.

Fits every strategy of the review's Fig. 2 on the bundled BreastMNIST images
(train + val: 624 greyscale 28x28 images, 2 classes) with the shipped
EfficientNet-Lite0 ImageNet weights, and reports the fit time, the epochs run,
the time per epoch and the trainable parameters. Test-set accuracy and ROC AUC
(156 images) are printed for orientation only: they are from one seed, one
validation split and no tuning.

The validation split is FineTuneClassifier's own (stratified, 12.5 %, the size
of the official val split), not the official one.

Usage::

    python benchmarks/finetune/bench_finetune.py                 # all strategies
    python benchmarks/finetune/bench_finetune.py --input-size 128 --threads 1
    python benchmarks/finetune/bench_finetune.py --strategies full gradual

The results are printed as Markdown and appended to ``RESULTS.md`` next to this
script (``--output`` to change, ``--no-record`` to skip).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from skmedtl.datasets import load_breastmnist
from skmedtl.finetune import STRATEGIES, FineTuneClassifier

#: Per strategy: the learning rate of the head and the strategy's own settings.
SETTINGS = {
    "feature_extractor": dict(lr=1e-3),
    "fine_tune": dict(lr=1e-3, trainable_blocks=2),
    "gradual": dict(lr=1e-3, lr_decay=0.5, patience=3),
    "full": dict(lr=1e-3),
    "random_init": dict(lr=1e-3),
}


def run(strategy: str, args, data) -> dict:
    X, y, X_test, y_test = data
    params = dict(
        input_size=args.input_size,
        max_epochs=args.max_epochs,
        batch_size=args.batch_size,
        patience=5,
        validation_fraction=0.125,
        random_state=0,
        verbose=0,
        device="cpu",
    )
    params.update(SETTINGS[strategy])
    clf = FineTuneClassifier("efficientnet_lite0", strategy=strategy, **params)
    load = os.getloadavg()[0]
    start = time.perf_counter()
    clf.fit(X, y)
    wall = time.perf_counter() - start
    proba = clf.predict_proba(X_test)[:, 1]
    groups = [g for e in clf.history_ for g in e["trainable"]]
    return {
        "strategy": strategy,
        "settings": ", ".join(f"{k}={v}" for k, v in SETTINGS[strategy].items()),
        "fit_s": wall,
        "epochs": clf.n_epochs_,
        "best": clf.best_epoch_,
        "s_per_epoch": clf.training_time_ / clf.n_epochs_,
        "setup_s": clf.fit_time_ - clf.training_time_,
        "trainable": clf.n_trainable_params_,
        "deepest": groups[-1] if groups else "-",
        "acc": float(np.mean(clf.predict(X_test) == y_test)),
        "auc": float(roc_auc_score(y_test, proba)),
        "load": load,
    }


def markdown(rows: list[dict], args) -> str:
    cpu = platform.processor() or platform.machine()
    lines = [
        f"### {datetime.date.today()}: input {args.input_size}px, batch "
        f"{args.batch_size}, max {args.max_epochs} epochs, patience 5, "
        f"{torch.get_num_threads()} torch thread(s)",
        "",
        f"{os.cpu_count()} CPU cores ({cpu}), torch {torch.__version__}, "
        "CPU only. `load` is the 1-minute load average when the fit started "
        "(other processes on the machine slow the fits down).",
        "",
        "| strategy | settings | fit (s) | epochs (best) | s/epoch | setup (s) | "
        "trainable params | deepest group trained | test acc | test AUC | load |",
        "|---|---|---:|---:|---:|---:|---:|---|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['strategy']} | {r['settings']} | {r['fit_s']:.1f} | "
            f"{r['epochs']} ({r['best']}) | {r['s_per_epoch']:.2f} | "
            f"{r['setup_s']:.1f} | {r['trainable']:,} | {r['deepest']} | "
            f"{r['acc']:.3f} | "
            f"{r['auc']:.3f} | {r['load']:.1f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--strategies", nargs="+", default=list(STRATEGIES))
    parser.add_argument("--input-size", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-epochs", type=int, default=30)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument(
        "--output", type=Path, default=Path(__file__).with_name("RESULTS.md")
    )
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    X_train, y_train = load_breastmnist("train")
    X_val, y_val = load_breastmnist("val")
    X_test, y_test = load_breastmnist("test")
    data = (np.concatenate([X_train, X_val]), np.concatenate([y_train, y_val]))
    data += (X_test, y_test)
    # Warm-up: the first convolutions of a process are slow (kernel selection).
    FineTuneClassifier(
        strategy="full",
        input_size=args.input_size,
        max_epochs=1,
        verbose=0,
        validation_fraction=None,
        early_stopping=False,
        device="cpu",
    ).fit(data[0][:64], data[1][:64])
    rows = []
    for strategy in args.strategies:
        rows.append(run(strategy, args, data))
        print(
            f"{strategy}: {rows[-1]['fit_s']:.1f}s, {rows[-1]['epochs']} epochs",
            flush=True,
        )
    table = markdown(rows, args)
    print(table)
    if not args.no_record:
        with open(args.output, "a") as f:
            f.write("\n" + table)


if __name__ == "__main__":
    main()
