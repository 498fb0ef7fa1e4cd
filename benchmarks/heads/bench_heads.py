"""Self-tuning hybrid heads against untuned and hand-tuned ones.

EfficientNet-Lite0 (shipped ImageNet weights) embeddings, computed once per data
set, then three versions of each head (``StandardScaler`` + head):

- ``untuned``: ``hybrid_head(name)`` (``C=1``), what ``make_hybrid(tune=False)``
  builds;
- ``self-tuned``: ``hybrid_head(name, tune=True)``, what ``make_hybrid`` builds by
  default (internal stratified 5-fold CV over ``TUNE_GRIDS[name]``, log-loss);
- ``hand-tuned``: a hand-written ``GridSearchCV`` over the same C values, 5-fold
  ``StratifiedKFold(shuffle=True, random_state=0)``, scored by ROC AUC.

Fit times are the median of ``--repeats`` fits, interleaved; AUC on the test set.

Data: BreastMNIST 64 px (train + val = 624 training images, 156 test) and a
stratified subset of the Kermany chest X-rays (``--xray-train`` training images
of 5,216, all 624 test images).

Usage::

    nice python benchmarks/heads/bench_heads.py
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


def embed(X_train, X_test, cache: str):
    from skmedtl import CNNFeatures

    f = CNNFeatures("efficientnet_lite0", verbose=0, cache_path=cache).fit(X_train)
    return f.transform(X_train), f.transform(X_test)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="/work/shared/data")
    parser.add_argument(
        "--datasets",
        nargs="+",
        choices=["breastmnist_64", "chest_xray_224"],
        default=["breastmnist_64", "chest_xray_224"],
    )
    parser.add_argument("--xray-train", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cache", default="/tmp/skmedtl_heads_bench.h5")
    args = parser.parse_args(argv)

    from bench_int8 import load_xray
    from sklearn.base import clone
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    from skmedtl.hybrid import TUNE_GRIDS, hybrid_head

    data = Path(args.data)
    sets = {}
    if "breastmnist_64" in args.datasets:
        d = np.load(data / "medmnist" / "breastmnist_64.npz")
        sets["breastmnist_64"] = (
            np.concatenate([d["train_images"], d["val_images"]]),
            np.concatenate([d["train_labels"].ravel(), d["val_labels"].ravel()]),
            d["test_images"],
            d["test_labels"].ravel(),
        )
    if "chest_xray_224" in args.datasets:
        Xtr, ytr, Xte, yte = load_xray(data, args.xray_train, 624)
        sets["chest_xray_224"] = (Xtr, ytr, Xte, yte)
    rows = []
    for name, (Xtr, ytr, Xte, yte) in sets.items():
        tic = time.perf_counter()
        Ztr, Zte = embed(Xtr, Xte, args.cache)
        embed_s = time.perf_counter() - tic
        for head in ("logreg", "svm"):
            param = next(iter(TUNE_GRIDS[head]))
            grid = TUNE_GRIDS[head][param]
            models = {
                "untuned": Pipeline(
                    [("scale", StandardScaler()), ("clf", hybrid_head(head))]
                ),
                "self-tuned": Pipeline(
                    [
                        ("scale", StandardScaler()),
                        ("clf", hybrid_head(head, tune=True, random_state=0)),
                    ]
                ),
                "hand-tuned": GridSearchCV(
                    Pipeline([("scale", StandardScaler()), ("clf", hybrid_head(head))]),
                    {f"clf__{param}": grid},
                    cv=StratifiedKFold(5, shuffle=True, random_state=0),
                    scoring="roc_auc",
                ),
            }
            times = {k: [] for k in models}
            fitted = {}
            for _ in range(args.repeats):
                for k, model in models.items():
                    m = clone(model)
                    t = time.perf_counter()
                    m.fit(Ztr, ytr)
                    times[k].append(time.perf_counter() - t)
                    fitted[k] = m
            for k, m in fitted.items():
                auc = roc_auc_score(yte, m.predict_proba(Zte)[:, 1])
                if k == "self-tuned":
                    chosen = m.named_steps["clf"].best_params_
                elif k == "hand-tuned":
                    chosen = m.best_params_
                else:
                    chosen = {}
                row = {
                    "data": name,
                    "n_train": len(ytr),
                    "n_test": len(yte),
                    "head": head,
                    "version": k,
                    "fit_s": statistics.median(times[k]),
                    "auc": float(auc),
                    "chosen": {
                        kk.split("__")[-1]: float(v) for kk, v in chosen.items()
                    },
                    "embed_s": embed_s,
                    "load": os.getloadavg()[0],
                }
                rows.append(row)
                print(json.dumps(row), flush=True)
    print(
        "\n| data (train / test) | head | version | C | fit (s) | test AUC | "
        "Δ AUC vs hand | fit time / hand |"
    )
    print("|---|---|---|---|---:|---:|---:|---:|")
    for r in rows:
        hand = next(
            h
            for h in rows
            if h["data"] == r["data"]
            and h["head"] == r["head"]
            and h["version"] == "hand-tuned"
        )
        c = ", ".join(f"{v:g}" for v in r["chosen"].values()) or "1"
        print(
            f"| {r['data']} ({r['n_train']} / {r['n_test']}) | {r['head']} | "
            f"{r['version']} | {c} | {r['fit_s']:.2f} | {r['auc']:.4f} | "
            f"{r['auc'] - hand['auc']:+.4f} | {r['fit_s'] / hand['fit_s']:.2f} |"
        )


if __name__ == "__main__":
    main()
