"""A study hybrid head's inner-CV tuning on one thread and on two, interleaved.

The study's own path (``head_pipeline``, the ``small`` grid of
``skmedtl.hybrid.HEAD_GRIDS``, 5 stratified inner folds, ``tune_by_cv``) on
embeddings read from an embedding cache (``--cache``, the ``embeddings.h5`` of a
finished demo: 779 x 1,280 EfficientNet-Lite0 features), the first ``--n``
rows, labels drawn from one feature (plus 20% flipped), so the fits have the
demo's size. Prints wall and CPU seconds (``time.process_time``: all threads)
per head and thread count, and checks that both choose the same value with the
same inner score.

Usage::

    nice python benchmarks/study/bench_head_threads.py --cache DEMO/embeddings.h5 \\
        --heads logreg svm --rounds 2
"""

from __future__ import annotations

import argparse
import subprocess
import time

import numpy as np


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cache", required=True)
    p.add_argument("--heads", nargs="+", default=["svm", "logreg", "rf", "xgboost"])
    p.add_argument("--n", type=int, default=437)  # the demo's training images
    p.add_argument("--rounds", type=int, default=2)
    args = p.parse_args(argv)
    import h5py
    from sklearn.base import clone
    from sklearn.model_selection import ParameterGrid

    from skmedtl.hybrid import head_pipeline
    from skmedtl.study._heads import head_grid
    from skmedtl.study._stats import score
    from skmedtl.study._tuning import inner_folds, tune_by_cv

    with h5py.File(args.cache, "r") as f:
        X = np.asarray(f[next(iter(f))]["embeddings"][: args.n], dtype=np.float32)
    rng = np.random.RandomState(0)
    y = (X[:, 0] > np.median(X[:, 0])).astype(int)
    y[rng.rand(len(y)) < 0.2] ^= 1
    folds = inner_folds(y, seed=0)
    print(subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    print("| head | threads | wall (s) | CPU (s) | choice | inner AUC |")
    print("|---|---:|---:|---:|---|---:|")
    for head in args.heads:
        pipe = head_pipeline(head, class_weight="balanced", random_state=0, n_jobs=1)
        grid = list(ParameterGrid(head_grid(head, "small")))

        def fit(params, index, pipe=pipe):
            return clone(pipe).set_params(**params).fit(X[index], y[index])

        def inner(model, held):
            return score("auc", y[held], model.predict_proba(X[held]))

        found = {}
        for r in range(args.rounds):
            for jobs in (1, 2) if r % 2 == 0 else (2, 1):
                wall, cpu = time.perf_counter(), time.process_time()
                chosen = tune_by_cv(grid, fit, inner, folds, n_jobs=jobs)
                wall = time.perf_counter() - wall
                cpu = time.process_time() - cpu
                found.setdefault(jobs, []).append(chosen)
                print(
                    f"| {head} | {jobs} | {wall:.2f} | {cpu:.2f} | {chosen[0]} "
                    f"| {chosen[1]:.6f} |",
                    flush=True,
                )
        same = all(c == found[1][0] for c in found[1] + found[2])
        print(f"| {head} | same choice and score: {same} | | | | |")


if __name__ == "__main__":
    main()
