"""Self-tuning hybrid heads: the regularisation path against the old grid search.

EfficientNet-Lite0 (shipped ImageNet weights) embeddings, computed once per data
set through an embedding cache in ``--work``, then ``StandardScaler`` + head in
these versions, fitted on the same embeddings:

- ``untuned``: ``hybrid_head(name)`` (``C=1``), what ``make_hybrid(tune=False)``
  builds, fitted as a user fits it (default BLAS / OpenMP threads);
- ``untuned-1t``: the same fit on one thread (``threadpool_limits(1)``): its
  compute cost without threads waiting on each other;
- ``tuned-new``: ``hybrid_head(name, tune=True)``, what ``make_hybrid`` builds
  by default: ``TunedClassifier(search="auto")``: approximate leave-one-out
  along C for the (binary) logistic regression, the K-fold path for the SVM;
- ``tuned-path``: ``search="path"``, the C values in increasing order on the
  5 folds with warm starts / a precomputed kernel, stopping past the optimum
  (the default before approximate leave-one-out; for the SVM, ``tuned-new``);
- ``tuned-old``: the same ``TunedClassifier`` with ``search="grid"``: the
  exhaustive ``GridSearchCV`` over the same folds and log-loss, the check;
- ``hand-tuned`` (``--hand``): a hand-written ``GridSearchCV`` scored by ROC AUC.

Every version is fitted ``--repeats`` times, interleaved (one round fits each
version once), except the slow grid searches, fitted ``--grid-repeats`` times
(they are deterministic; their time is the baseline). Fit time: the median;
test AUC of the last fit.

Data: BreastMNIST 28 px (official train 546, test 156; the issue's case) and a
stratified subset of the Kermany chest X-rays (``--xray-train`` training images
of 5,216, all 624 test images).

Usage::

    nice python benchmarks/heads/bench_heads.py --work /tmp/heads_bench
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

VERSIONS = (
    "untuned",
    "untuned-1t",
    "tuned-new",
    "tuned-path",
    "tuned-old",
    "hand-tuned",
)
GRIDS = ("tuned-old", "hand-tuned")


def embed(X_train, X_test, cache: Path):
    from skmedtl import CNNFeatures

    f = CNNFeatures("efficientnet_lite0", verbose=0, cache_path=cache).fit(X_train)
    return f.transform(X_train), f.transform(X_test)


def load_sets(data: Path, names, xray_train: int):
    sets = {}
    if "breastmnist" in names:
        d = np.load(data / "medmnist" / "breastmnist.npz")
        sets["breastmnist"] = (
            d["train_images"],
            d["train_labels"].ravel(),
            d["test_images"],
            d["test_labels"].ravel(),
        )
    if "chest_xray_224" in names:
        from bench_int8 import load_xray

        sets["chest_xray_224"] = load_xray(data, xray_train, 624)
    return sets


def models(head: str, hand: bool):
    from sklearn.base import clone
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    from skmedtl.hybrid import TUNE_GRIDS, hybrid_head

    def pipe(clf):
        return Pipeline([("scale", StandardScaler()), ("clf", clf)])

    tuned = hybrid_head(head, tune=True, random_state=0)
    out = {
        "untuned": pipe(hybrid_head(head)),
        "untuned-1t": pipe(hybrid_head(head)),
        "tuned-new": pipe(tuned),
        "tuned-path": pipe(clone(tuned).set_params(search="path")),
        "tuned-old": pipe(clone(tuned).set_params(search="grid")),
    }
    if hand:
        ((param, grid),) = TUNE_GRIDS[head].items()
        out["hand-tuned"] = GridSearchCV(
            pipe(hybrid_head(head)),
            {f"clf__{param}": grid},
            cv=StratifiedKFold(5, shuffle=True, random_state=0),
            scoring="roc_auc",
        )
    return out


def chosen(version: str, model) -> str:
    if version.startswith("tuned"):
        params = model.named_steps["clf"].best_params_
    elif version == "hand-tuned":
        params = model.best_params_
    else:
        return "1"
    return ", ".join(f"{float(v):g}" for v in params.values())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="/work/shared/data")
    parser.add_argument("--work", default="/tmp/skmedtl_heads_bench")
    parser.add_argument(
        "--datasets",
        nargs="+",
        choices=["breastmnist", "chest_xray_224"],
        default=["breastmnist", "chest_xray_224"],
    )
    parser.add_argument("--heads", nargs="+", default=["logreg", "svm"])
    parser.add_argument("--xray-train", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--grid-repeats", type=int, default=1)
    parser.add_argument("--hand", action="store_true", help="also the AUC grid")
    args = parser.parse_args(argv)

    from sklearn.base import clone
    from sklearn.metrics import roc_auc_score
    from threadpoolctl import threadpool_limits

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    print(f"# load average at start: {os.getloadavg()}", flush=True)
    rows = []
    for name, (Xtr, ytr, Xte, yte) in load_sets(
        Path(args.data), args.datasets, args.xray_train
    ).items():
        tic = time.perf_counter()
        Ztr, Zte = embed(Xtr, Xte, work / "embeddings.h5")
        embed_s = time.perf_counter() - tic
        for head in args.heads:
            versions = models(head, args.hand)
            times = {k: [] for k in versions}
            fitted = {}
            for r in range(max(args.repeats, args.grid_repeats)):
                for k, model in versions.items():
                    if r >= (args.grid_repeats if k in GRIDS else args.repeats):
                        continue
                    m = clone(model)
                    t = time.perf_counter()
                    if k == "untuned-1t":
                        with threadpool_limits(1):
                            m.fit(Ztr, ytr)
                    else:
                        m.fit(Ztr, ytr)
                    times[k].append(time.perf_counter() - t)
                    fitted[k] = m
            for k, m in fitted.items():
                row = {
                    "data": name,
                    "n_train": len(ytr),
                    "n_test": len(yte),
                    "head": head,
                    "version": k,
                    "fit_s": statistics.median(times[k]),
                    "fits": len(times[k]),
                    "auc": float(roc_auc_score(yte, m.predict_proba(Zte)[:, 1])),
                    "C": chosen(k, m),
                    "embed_s": embed_s,
                    "load": os.getloadavg()[0],
                }
                if k in ("tuned-new", "tuned-path"):
                    clf = m.named_steps["clf"]
                    row["search"] = clf.search_
                    row["path_values"] = clf.path_.values if clf.path_ else None
                rows.append(row)
                print(json.dumps(row), flush=True)
    print(f"# load average at end: {os.getloadavg()}")
    print(
        "\n| data (train / test) | head | version | C | fit (s) | fits | test AUC | "
        "Δ AUC vs old | time / untuned | time / untuned-1t | time / old |"
    )
    print("|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:

        def ref(version, r=r):
            return next(
                h
                for h in rows
                if h["data"] == r["data"]
                and h["head"] == r["head"]
                and h["version"] == version
            )

        old, un, un1 = ref("tuned-old"), ref("untuned"), ref("untuned-1t")
        print(
            f"| {r['data']} ({r['n_train']} / {r['n_test']}) | {r['head']} | "
            f"{r['version']} | {r['C']} | {r['fit_s']:.2f} | {r['fits']} | "
            f"{r['auc']:.4f} | {r['auc'] - old['auc']:+.4f} | "
            f"{r['fit_s'] / un['fit_s']:.2f} | {r['fit_s'] / un1['fit_s']:.2f} | "
            f"{r['fit_s'] / old['fit_s']:.2f} |"
        )


if __name__ == "__main__":
    main()
