"""Bootstrap statistics: the old per-resample loop against the vectorised resampler.

Both run in the same process on the same data, so the ratio is what a study
gains. The baseline is the loop every copy used before ``skmedtl.metrics``
had one resampler: for each resample, ``rng.choice`` within each class, then
the metric recomputed on the resampled arrays (AUC by ``scipy.stats.rankdata``).
The new path draws the same indices (:func:`skmedtl.metrics.bootstrap_indices`)
and scores all resamples at once from resample counts. Each case also checks
that both give the same interval.

Run::

    python benchmarks/metrics/bench_bootstrap.py [--rounds 3] [--resamples 2000]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import numpy as np
from scipy.stats import rankdata
from sklearn.utils import check_random_state

from skmedtl.metrics import (
    bootstrap_indices,
    classification_report,
    multilabel_report,
    paired_bootstrap,
)


# -- the baseline: the loops the resampler replaced -----------------------------
def old_auc(positive, score):
    positive = np.asarray(positive, dtype=bool)
    n_pos = positive.sum()
    n_neg = len(positive) - n_pos
    if n_pos == 0 or n_neg == 0:
        return np.nan
    ranks = rankdata(score)
    return (ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def old_report_metrics(y, pred, score, proba, k=2):
    cm = np.bincount(y * k + pred, minlength=k * k).reshape(k, k)
    tp = np.diag(cm).astype(float)
    support, predicted = cm.sum(axis=1), cm.sum(axis=0)
    fn, fp = support - tp, predicted - tp
    tn = cm.sum() - tp - fn - fp
    sens, spec = tp / support, tn / (tn + fp)
    f1 = 2 * tp / (2 * tp + fp + fn)
    brier = ((proba - np.eye(k)[y]) ** 2).sum(axis=1).mean() / 2
    return np.array(
        [
            tp.sum() / cm.sum(),
            np.nanmean(sens),
            old_auc(y == 1, score),
            sens[1],
            spec[1],
            f1[1],
            brier,
        ]
    )


def old_loop(y, fn, n_resamples, seed=0, stratify=True):
    rng = check_random_state(seed)
    strata = (
        [np.flatnonzero(y == c) for c in np.unique(y)]
        if stratify
        else [np.arange(len(y))]
    )
    draws = []
    for _ in range(n_resamples):
        idx = np.concatenate([rng.choice(s, size=len(s)) for s in strata])
        draws.append(fn(idx))
    return np.nanquantile(np.array(draws, dtype=float), [0.025, 0.975], axis=0)


def old_multilabel_aucs(Y, S, idx):
    """Per-label AUCs and the micro AUC, as the old per-resample loop computed."""
    per_label = [old_auc(Y[idx, j] == 1, S[idx, j]) for j in range(Y.shape[1])]
    return per_label + [old_auc(Y[idx].ravel() == 1, S[idx].ravel())]


# -- cases ------------------------------------------------------------------------
def cases(n_resamples: int):
    rng = np.random.default_rng(0)

    # BreastMNIST-sized test set: 156 images, 42 malignant.
    y = np.repeat([0, 1], [114, 42])
    p = np.clip(0.35 * y + rng.normal(0.35, 0.2, len(y)), 0, 1)
    q = np.clip(0.25 * y + rng.normal(0.35, 0.2, len(y)), 0, 1)
    pred = (p >= 0.5).astype(int)
    proba = np.column_stack([1 - p, p])

    def old_report():
        return old_loop(
            y, lambda i: old_report_metrics(y[i], pred[i], p[i], proba[i]), n_resamples
        )[:, 2]

    def new_report():
        m = classification_report(y, p, n_bootstraps=n_resamples).metrics["auc"]
        return np.array(m[1:])

    yield "classification_report, n=156", old_report, new_report

    def old_paired():
        return old_loop(
            y,
            lambda i: old_auc(y[i] == 1, p[i]) - old_auc(y[i] == 1, q[i]),
            n_resamples,
        )

    def new_paired():
        r = paired_bootstrap(y, p, q, n_resamples=n_resamples)
        return np.array([r.ci_low, r.ci_high])

    yield "paired_bootstrap AUC, n=156", old_paired, new_paired

    # A larger binary test set (chest X-ray sized): 624 images.
    y2 = np.repeat([0, 1], [234, 390])
    a2 = y2 + rng.normal(0, 1, len(y2))
    b2 = y2 + rng.normal(0, 1.3, len(y2))

    def old_paired2():
        return old_loop(
            y2,
            lambda i: old_auc(y2[i] == 1, a2[i]) - old_auc(y2[i] == 1, b2[i]),
            n_resamples,
        )

    def new_paired2():
        r = paired_bootstrap(y2, a2, b2, n_resamples=n_resamples)
        return np.array([r.ci_low, r.ci_high])

    yield "paired_bootstrap AUC, n=624", old_paired2, new_paired2

    # Multi-label, ChestMNIST-like: 1,000 images, 14 labels (a subsample).
    Y = (rng.random((1000, 14)) < np.linspace(0.02, 0.3, 14)).astype(int)
    S = np.clip(0.3 * Y + rng.random(Y.shape) * 0.7, 0, 1)
    n_ml = max(10, n_resamples // 4)

    def old_ml():
        return old_loop(
            np.zeros(len(Y)),
            lambda i: old_multilabel_aucs(Y, S, i),
            n_ml,
            stratify=False,
        )[:, :14]

    def new_ml():
        r = multilabel_report(Y, S, n_bootstraps=n_ml)
        return np.array(
            [[r.per_label[str(j)]["auc"][k] for j in range(14)] for k in (1, 2)]
        )

    yield (
        f"multilabel_report, AUCs of 14 labels and micro, n=1000 ({n_ml} resamples)",
        old_ml,
        new_ml,
    )


def timed(fn, rounds: int):
    """Median CPU time (``time.process_time``: this process's cores, all
    threads) of ``rounds`` calls, and the last result. CPU time, not wall time,
    because the benchmark machine is shared."""
    times, out = [], None
    for _ in range(rounds):
        start = time.process_time()
        out = fn()
        times.append(time.process_time() - start)
    return statistics.median(times), out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--resamples", type=int, default=2000)
    args = parser.parse_args(argv)
    print(
        f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"load {os.getloadavg()[0]:.2f}; {args.resamples} resamples, "
        f"median CPU time of {args.rounds} rounds"
    )
    y = np.repeat([0, 1], [114, 42])
    t_idx, _ = timed(lambda: bootstrap_indices(y, args.resamples), args.rounds)
    print(f"# index matrix alone (n=156, stratified): {t_idx * 1e3:.1f} ms")
    print("| case | old loop (CPU s) | vectorised (CPU s) | speed-up | max CI diff |")
    print("|---|---:|---:|---:|---:|")
    for name, old, new in cases(args.resamples):
        t_old, r_old = timed(old, args.rounds)
        t_new, r_new = timed(new, args.rounds)
        diff = float(np.nanmax(np.abs(np.asarray(r_old) - np.asarray(r_new))))
        print(
            f"| {name} | {t_old:.3f} | {t_new:.3f} | {t_old / t_new:.1f}x | "
            f"{diff:.1e} |"
        )


if __name__ == "__main__":
    main()
