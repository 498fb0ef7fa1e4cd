"""Simulate the study's selection protocol: where validation labels make it optimistic.

Nine configurations of equal true AUC (five "hybrids" with a grid of head
settings, four "trained" approaches with early stopping over epochs) are scored
on a validation set the size of BreastMNIST's (21 malignant, 57 benign) and the
best is selected. Two protocols:

- ``validation-tuned`` (the study before #28): each hybrid keeps the grid value
  with the best *validation* AUC and each trained approach the epoch with the
  best *validation* AUC, then the nine tuned scores are compared on the same
  validation images. Validation labels are used three times.
- ``training-tuned`` (the study after #28): grid values and epochs are chosen
  inside the training data, so each configuration reaches validation as one
  fixed model; validation is used once, for the selection.

Every configuration has the same true AUC, so any preference of one family is
an artefact, and the selected configuration's validation AUC minus the true
AUC is the optimism. For each protocol the script prints the mean optimism, the
optimism disclosed by :func:`skmedtl.model_selection.selection_optimism`
(BBC) and how often a hybrid is selected (5/9 = .556 is fair).

Run: ``python benchmarks/protocol/simulate_selection.py --repeats 400``.

``--nested`` simulates the whole procedure on data sets of several sizes (the
prevalence of BreastMNIST's validation set), nine training-tuned configurations
of equal true AUC, each outer fold training new models (fresh scores, the image
effect shared): per outer fold (:func:`skmedtl.model_selection.make_cv`, 5
folds) the outer-training images are split 80/20 into training and validation
by the study's rule, the configuration with the best validation AUC is
selected and its outer-test AUC recorded; the nested estimate is the mean over
folds. Beside it, the single-split study (a 20% test hold-out, 20% of the rest
as validation): the selected configuration's validation AUC (the optimistic
number) and its test AUC. Every gap is to the true AUC.
"""

from __future__ import annotations

import argparse

import numpy as np
from scipy.stats import norm, rankdata

from skmedtl.metrics import weighted_auc
from skmedtl.model_selection import (
    make_cv,
    selection_optimism,
    train_test_split_by_group,
)

N_POS, N_NEG = 21, 57
TRUE_AUC = 0.85
N_HYBRID, N_TRAINED = 5, 4
GRID, EPOCHS = 5, 8  # candidates a hybrid / a trained approach tunes over
RHO_IMAGE = 0.5  # correlation between configurations through the image
RHO_CANDIDATE = 0.8  # correlation between one configuration's candidates


def _configuration(rng, y, image, n_candidates):
    d = np.sqrt(2) * norm.ppf(TRUE_AUC)
    own = rng.standard_normal(len(y))
    noise = rng.standard_normal((n_candidates, len(y)))
    latent = np.sqrt(RHO_IMAGE) * image + np.sqrt(1 - RHO_IMAGE) * (
        np.sqrt(RHO_CANDIDATE) * own + np.sqrt(1 - RHO_CANDIDATE) * noise
    )
    return d * y + latent  # every candidate: unit variance, AUC = TRUE_AUC


def simulate(repeats: int, n_resamples: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    y = np.r_[np.ones(N_POS), np.zeros(N_NEG)].astype(int)
    sizes = [GRID] * N_HYBRID + [EPOCHS] * N_TRAINED
    out = {p: {"optimism": [], "disclosed": [], "hybrid": []} for p in ("v", "t")}
    for rep in range(repeats):
        image = rng.standard_normal(len(y))
        configs = [_configuration(rng, y, image, k) for k in sizes]
        tuned_on_val, tuned_inside = [], []
        for candidates in configs:
            aucs = np.array([weighted_auc(y == 1, c) for c in candidates])
            tuned_on_val.append(candidates[int(aucs.argmax())])
            # Chosen inside training: independent of these validation labels.
            tuned_inside.append(candidates[int(rng.integers(len(candidates)))])
        for key, chosen in (("v", tuned_on_val), ("t", tuned_inside)):
            result = selection_optimism(
                y, chosen, n_resamples=n_resamples, random_state=rep
            )
            out[key]["optimism"].append(result.observed - TRUE_AUC)
            out[key]["disclosed"].append(result.optimism)
            out[key]["hybrid"].append(result.selected < N_HYBRID)
    return out


def _aucs(y, scores) -> np.ndarray:
    """AUC of each row of ``scores`` (Mann-Whitney, ties averaged)."""
    ranks = rankdata(scores, axis=1)
    n_pos = y.sum()
    n_neg = len(y) - n_pos
    return (ranks[:, y == 1].sum(axis=1) - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def _fold_scores(rng, y, image, n_configs) -> np.ndarray:
    """Scores of ``n_configs`` models of equal true AUC (one fold's training)."""
    d = np.sqrt(2) * norm.ppf(TRUE_AUC)
    own = rng.standard_normal((n_configs, len(y)))
    return d * y + np.sqrt(RHO_IMAGE) * image + np.sqrt(1 - RHO_IMAGE) * own


def _select(y, scores, val, test) -> tuple[float, float]:
    """Validation and test AUC of the configuration best on ``val``."""
    best = int(_aucs(y[val], scores[:, val]).argmax())
    return _aucs(y[val], scores[best : best + 1, val])[0], _aucs(
        y[test], scores[best : best + 1, test]
    )[0]


def _validation(y, dev, seed) -> np.ndarray:
    """The study's rule: a stratified 20% of the development images."""
    _, val = train_test_split_by_group(y[dev], test_size=0.2, random_state=seed)
    return dev[val]


def simulate_nested(repeats: int, n_images: int, k: int, seed: int) -> dict:
    """Gaps to the true AUC: nested estimate, single-split validation and test."""
    rng = np.random.default_rng(seed)
    n_pos = int(round(n_images * N_POS / (N_POS + N_NEG)))
    y = np.r_[np.ones(n_pos), np.zeros(n_images - n_pos)].astype(int)
    n_configs = N_HYBRID + N_TRAINED
    out = {"nested": [], "single_val": [], "single_test": []}
    for rep in range(repeats):
        image = rng.standard_normal(len(y))
        per_fold = []
        for dev, test in make_cv(k, random_state=rep).split(y, y):
            val = _validation(y, dev, rep)
            scores = _fold_scores(rng, y, image, n_configs)
            per_fold.append(_select(y, scores, val, test)[1])
        out["nested"].append(np.mean(per_fold) - TRUE_AUC)
        dev, test = train_test_split_by_group(y, test_size=0.2, random_state=rep)
        val = _validation(y, dev, rep)
        v, t = _select(y, _fold_scores(rng, y, image, n_configs), val, test)
        out["single_val"].append(v - TRUE_AUC)
        out["single_test"].append(t - TRUE_AUC)
    return {key: np.asarray(v) for key, v in out.items()}


def main_nested(args) -> None:
    print(
        f"{args.repeats} repeats per size, {N_HYBRID + N_TRAINED} configurations of "
        f"true AUC {TRUE_AUC}, prevalence {N_POS}/{N_POS + N_NEG}, K={args.k} outer "
        "folds; gap = estimate - true AUC: mean [MC 95% CI] (SD over repeats)"
    )
    print(
        "| images | nested (--cv) | single split: selected's validation | "
        "single split: selected's test |"
    )
    print("|---:|---|---|---|")
    for n in args.sizes:
        out = simulate_nested(args.repeats, n, args.k, args.seed)
        cells = []
        for key in ("nested", "single_val", "single_test"):
            gap = out[key]
            mean, sd = gap.mean(), gap.std(ddof=1)
            half = 1.96 * sd / np.sqrt(len(gap))
            cells.append(
                f"{mean:+.4f} [{mean - half:+.4f}, {mean + half:+.4f}] (SD {sd:.3f})"
            )
        print(f"| {n} | " + " | ".join(cells) + " |")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=400)
    parser.add_argument("--resamples", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--nested", action="store_true", help="simulate --cv")
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument(
        "--sizes",
        type=lambda s: [int(x) for x in s.split(",")],
        default=[100, 200, 400, 1000, 2000],
    )
    args = parser.parse_args(argv)
    if args.nested:
        main_nested(args)
        return
    out = simulate(args.repeats, args.resamples, args.seed)
    fair = N_HYBRID / (N_HYBRID + N_TRAINED)
    print(
        f"{args.repeats} repeats, {N_HYBRID} hybrids (grid of {GRID}) and "
        f"{N_TRAINED} trained approaches ({EPOCHS} epochs), true AUC {TRUE_AUC} "
        f"for all, validation {N_POS}+{N_NEG} images; a fair rule selects a "
        f"hybrid {fair:.3f} of the time."
    )
    print(
        "| protocol | mean optimism of the selected | disclosed (BBC) | hybrid "
        "selected [95% CI] |"
    )
    print("|---|---:|---:|---|")
    for key, name in (
        ("v", "validation-tuned (before)"),
        ("t", "training-tuned (after)"),
    ):
        rate = np.mean(out[key]["hybrid"])
        half = 1.96 * np.sqrt(rate * (1 - rate) / args.repeats)
        print(
            f"| {name} | {np.mean(out[key]['optimism']):+.3f} | "
            f"{np.mean(out[key]['disclosed']):+.3f} | {rate:.3f} "
            f"[{rate - half:.3f}, {rate + half:.3f}] |"
        )


if __name__ == "__main__":
    main()
