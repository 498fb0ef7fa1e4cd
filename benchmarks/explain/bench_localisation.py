"""Which saliency method points at the lesion? A planted-lesion benchmark.

Lesion-like blobs (Gaussian, several sizes and contrasts) are planted into
real images: the bundled BreastMNIST (28 px, upsampled) and, with
``--data-dir``, chest X-rays (``chest_xray_kermany_224``). Half the images get a
blob, and the blob alone decides the label. On the test images with a blob,
every method (and CAM layer) explains the positive class; the pointing game
(15 px), the energy share inside the lesion (within two sigma of its centre)
and the time per image are reported for:

- a fine-tuned EfficientNet-Lite0 (``FineTuneClassifier``, ImageNet weights);
- hybrids on frozen EfficientNet-Lite0 features: logistic regression (the
  gradient methods and occlusion), SVM (RBF), random forest and XGBoost
  (occlusion only: no gradient through the head).

``default`` is ``saliency(model, X)`` as a user calls it (no method, no
layer); ``default (traced)`` the same with ``placement="traced"`` (the cells
at their traced receptive-field centres, not moved to where the network
responds: the default before the measured placement); ``gradcam (uniform
grid)`` is Grad-CAM placed on the uniform cell grid, the geometry before issue
#32, for comparison. The first map of each model also pays for measuring its
cell placement (once per layer and input size). Each row also gives the pointing
game on the blobs the model detects (classifies positive) and on the others,
and per blob size: a map cannot point at a lesion the model does not see.

Run (the deciding run of RESULTS.md, chest X-rays; ``--methods`` and
``--models`` restrict the run, ``--input-size`` sets the networks' input while
the images, maps and scores stay at ``--size``)::

    python benchmarks/explain/bench_localisation.py --sets chest_xray \
        --data-dir /work/shared/data/chest_xray_kermany_224 --size 128 \
        --input-size 224 --n-train 2000 --n-test 160 --models logreg \
        --methods default,gradcam --out results.csv
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from skmedtl import make_hybrid
from skmedtl.explain import _saliency as saliency_module
from skmedtl.explain import localisation_scores, saliency

SIGMAS = (5.0, 8.0, 12.0)  # blob sizes, px (the mask: within 2 sigma)
CONTRASTS = (0.6, 0.9)  # added intensity, on images in [0, 1]

LITE0_STAGES = {"final": None, "stride16": "blocks.4", "stride8": "blocks.2"}


def backgrounds(
    name: str, n_train: int, n_test: int, size: int, data_dir, rng
) -> np.ndarray:
    """``n_train`` training then ``n_test`` test backgrounds, resized to ``size``.

    When the set has fewer than ``n_train + n_test`` images (BreastMNIST: 546),
    the test backgrounds are drawn first, and the training ones repeat the
    others, mirrored left-right on repetition (each copy gets its own blob).
    """
    n = n_train + n_test
    if name == "breastmnist":
        from skmedtl.datasets import load_breastmnist

        loaded = load_breastmnist()
        pool = np.asarray(loaded[0] if isinstance(loaded, tuple) else loaded.X)
        read = lambda chosen: pool[chosen].astype(np.float32) / 255  # noqa: E731
        n_available = len(pool)
    else:
        from PIL import Image

        files = sorted(Path(data_dir, "train", "NORMAL").glob("*.jpeg"))
        files += sorted(Path(data_dir, "train", "PNEUMONIA").glob("*.jpeg"))

        def read(chosen):
            return np.stack(
                [
                    np.asarray(Image.open(files[i]).convert("L"), np.float32) / 255
                    for i in chosen
                ]
            )

        n_available = len(files)
    if n <= n_available:
        X = read(rng.choice(n_available, n, replace=False))
    else:
        if n_test >= n_available:
            raise SystemExit(f"--n-test must be below {n_available} for {name}.")
        order = rng.permutation(n_available)
        test, rest = order[:n_test], order[n_test:]
        extra = rng.choice(rest, n_train - len(rest), replace=True)
        mirrored = read(extra)[:, :, ::-1]
        X = np.concatenate([read(rest), mirrored, read(test)])
        print(f"{name}: {len(rest)} training backgrounds, {len(extra)} repeated")
    t = torch.as_tensor(np.ascontiguousarray(X))[:, None]
    t = F.interpolate(t, size=(size, size), mode="bilinear", antialias=True)
    return t[:, 0].numpy().clip(0, 1)


def plant(X: np.ndarray, rng):
    """Blobs into half the images: images (uint8), labels, masks (None: no blob),
    sigmas (0: no blob)."""
    n, h, w = X.shape
    y = np.zeros(n, dtype=int)
    y[rng.permutation(n)[: n // 2]] = 1
    masks = []
    sigmas = np.zeros(n)
    yy, xx = np.mgrid[0:h, 0:w] + 0.5
    out = X.copy()
    for i in range(n):
        if not y[i]:
            masks.append(None)
            continue
        sigma = sigmas[i] = rng.choice(SIGMAS)
        contrast = rng.choice(CONTRASTS)
        margin = 2 * sigma
        cy, cx = rng.uniform(margin, h - margin), rng.uniform(margin, w - margin)
        d2 = (yy - cy) ** 2 + (xx - cx) ** 2
        out[i] = out[i] + contrast * np.exp(-d2 / (2 * sigma**2))
        masks.append(d2 <= (2 * sigma) ** 2)
    return (out.clip(0, 1) * 255).astype(np.uint8), y, masks, sigmas


#: The maps measured: label -> (method, layer). ``"default"`` is
#: ``saliency(model, X)`` with no method or layer given (what a user gets).
METHODS = {
    "default": (None, None),
    "default (traced)": ("default (traced)", None),
    "gradcam": ("gradcam", None),
    "gradcam (uniform grid)": ("gradcam (uniform grid)", None),
    "gradcam++": ("gradcam++", None),
    "hirescam": ("hirescam", None),
    "gradcam / 16": ("gradcam", "stride16"),
    "layercam / 16": ("layercam", "stride16"),
    "layercam / 8+16+final": ("layercam", "stride8+stride16+final"),
    "gradxinput": ("gradxinput", None),
    "integrated_gradients": ("integrated_gradients", None),
    "occlusion": ("occlusion", None),
}
#: The models: --models name -> label in the table.
MODELS = {
    "logreg": "hybrid logreg",
    "svm": "hybrid svm",
    "rf": "hybrid rf",
    "xgboost": "hybrid xgboost",
    "finetuned": "fine-tuned",
}
#: Methods that cost many passes per image: measured on --occlusion-images.
EXPENSIVE = ("occlusion", "integrated_gradients")


def methods_for(differentiable: bool, chosen: list[str]) -> list[str]:
    if not differentiable:  # no gradient through the head: occlusion only
        return [m for m in chosen if m == "occlusion"]
    return chosen


def layer_arg(stage):
    if stage is None:
        return None
    if "+" in stage:
        return [LITE0_STAGES[s] for s in stage.split("+")]
    return LITE0_STAGES[stage]


def explain(model, X, method, stage):
    kwargs = {}
    if method == "occlusion":
        kwargs = {"patch_size": X.shape[1] // 8, "stride": X.shape[1] // 16}
    elif stage is not None:
        kwargs = {"layer": layer_arg(stage)}
    args = () if _is_default(method) else (method.split(" ")[0],)
    if method is not None and "traced" in method:
        kwargs["placement"] = "traced"
    original = saliency_module.cell_grid
    if method is not None and "uniform" in method:  # the geometry before #32
        saliency_module.cell_grid = lambda *args, **kwargs: None
    try:
        start = time.perf_counter()
        maps = saliency(model, X, *args, target=1, batch_size=8, **kwargs)
        seconds = (time.perf_counter() - start) / len(X)
    finally:
        saliency_module.cell_grid = original
    return maps, seconds


def _is_default(method) -> bool:
    return method is None or method.startswith("default")


def models(X, y, size, epochs, seed, names, n_finetune=None, pooling="avg"):
    """The fitted models, ``size`` their input (the images are resized to it)."""
    from sklearn.pipeline import Pipeline

    from skmedtl.features import CNNFeatures
    from skmedtl.finetune import FineTuneClassifier

    heads = [n for n in names if n != "finetuned"]
    if heads:
        start = time.perf_counter()
        features = CNNFeatures(
            "efficientnet_lite0", input_size=size, pooling=pooling, verbose=0
        ).fit(X)
        Z = features.transform(X)
        print(f"features: {time.perf_counter() - start:.0f} s", flush=True)
    for head in heads:
        start = time.perf_counter()
        hybrid = make_hybrid("efficientnet_lite0", head, random_state=seed, verbose=0)
        rest = Pipeline(hybrid.steps[1:]).fit(Z, y)
        # The head's own choice of C: cross-validated on the training images.
        cv = getattr(rest.steps[-1][1], "best_score_", float("nan"))
        print(
            f"{head} ({pooling} pooling): fitted in "
            f"{time.perf_counter() - start:.0f} s, internal CV score {cv:.3f}",
            flush=True,
        )
        yield MODELS[head], Pipeline([("features", features), *rest.steps])
    if "finetuned" in names:
        start = time.perf_counter()
        net = FineTuneClassifier(
            "efficientnet_lite0",
            input_size=size,
            strategy="full",
            max_epochs=epochs,
            batch_size=16,
            validation_fraction=None,
            early_stopping=False,
            random_state=seed,
            verbose=0,
        ).fit(X[:n_finetune], y[:n_finetune])
        print(f"fine-tuned in {time.perf_counter() - start:.0f} s", flush=True)
        yield MODELS["finetuned"], net


def _choices(flag: str, value: str, known) -> list[str]:
    chosen = [v.strip() for v in value.split(",") if v.strip()]
    unknown = [v for v in chosen if v not in known]
    if unknown or not chosen:
        raise SystemExit(
            f"{flag}: unknown {unknown or value!r}; choose from {', '.join(known)} "
            "(comma-separated)."
        )
    return chosen


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=None, help="chest_xray_kermany_224")
    parser.add_argument("--n-train", type=int, default=64)
    parser.add_argument("--n-test", type=int, default=24)
    parser.add_argument("--size", type=int, default=160, help="image size, px")
    parser.add_argument(
        "--input-size",
        type=int,
        default=None,
        help="the networks' input, px (default: --size; maps and scores stay in "
        "the images' pixels)",
    )
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument(
        "--n-train-finetune",
        type=int,
        default=None,
        help="the first N training images fine-tune the network (default: all; "
        "fine-tuning costs far more per image than fitting a hybrid's head)",
    )
    parser.add_argument("--occlusion-images", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--pooling",
        default="avg",
        help="the hybrids' CNNFeatures pooling (avg, max, gem)",
    )
    parser.add_argument(
        "--n-boot", type=int, default=2000, help="bootstrap resamples of the images"
    )
    parser.add_argument(
        "--sets", default="breastmnist,chest_xray", help="comma-separated"
    )
    parser.add_argument(
        "--methods",
        default=",".join(METHODS),
        help="comma-separated, of: " + ", ".join(METHODS),
    )
    parser.add_argument(
        "--models",
        default=",".join(MODELS),
        help="comma-separated, of: " + ", ".join(MODELS),
    )
    parser.add_argument("--out", default=None, help="CSV of the results")
    args = parser.parse_args(argv)
    chosen_methods = _choices("--methods", args.methods, METHODS)
    chosen_models = _choices("--models", args.models, MODELS)
    torch.manual_seed(args.seed)
    sets = [s for s in args.sets.split(",") if s != "chest_xray" or args.data_dir]
    rows = []
    print(
        f"load: {os.getloadavg()}; n_train={args.n_train} (fine-tuning: "
        f"{args.n_train_finetune or args.n_train}), n_test={args.n_test}, "
        f"threads={torch.get_num_threads()}"
    )
    for data in sets:
        rng = np.random.default_rng(args.seed)
        X = backgrounds(data, args.n_train, args.n_test, args.size, args.data_dir, rng)
        # Planted per split: half of the test images (n_test // 2) have a blob.
        X_train, y_train, masks_train, _ = plant(X[: args.n_train], rng)
        X_test, y_test, masks_test, sigma_test = plant(X[args.n_train :], rng)
        X = np.concatenate([X_train, X_test])
        y = np.concatenate([y_train, y_test])
        masks = masks_train + masks_test
        sigmas = np.concatenate([np.zeros(args.n_train), sigma_test])
        train, test = slice(0, args.n_train), slice(args.n_train, None)
        positive = [i for i in range(args.n_train, len(X)) if y[i] == 1]
        fitted = models(
            X[train],
            y[train],
            args.input_size or args.size,
            args.epochs,
            args.seed,
            chosen_models,
            args.n_train_finetune,
            args.pooling,
        )
        for name, model in fitted:
            predicted = np.full(len(X), -1)
            predicted[test] = model.predict(X[test])
            accuracy = float((predicted[test] == y[test]).mean())
            differentiable = name in ("hybrid logreg", "fine-tuned")
            for label in methods_for(differentiable, chosen_methods):
                method, stage = METHODS[label]
                chosen = positive
                if method in EXPENSIVE:
                    chosen = positive[: args.occlusion_images]
                maps, seconds = explain(model, X[chosen], method, stage)
                report = localisation_scores(
                    list(maps), [masks[i] for i in chosen], n_boot=args.n_boot
                )
                model_row, centre, mean_map = report.rows
                # Diagnosis: does the map miss where the model misses the blob?
                detected = predicted[chosen] == 1
                by_sigma = {
                    f"pointing_sigma{int(s)}": float(
                        report.hits[sigmas[chosen] == s].mean()
                    )
                    for s in SIGMAS
                    if np.any(sigmas[chosen] == s)
                }
                row = dict(
                    data=data,
                    model=name,
                    accuracy=accuracy,
                    method=label,
                    layer=stage or ("multiscale" if _is_default(method) else "final"),
                    n=len(chosen),
                    pointing=model_row.pointing_game.estimate,
                    pointing_ci=f"{model_row.pointing_game.low:.2f}-"
                    f"{model_row.pointing_game.high:.2f}",
                    energy=model_row.energy.estimate,
                    iou=model_row.topk_iou.estimate,
                    centre_pointing=centre.pointing_game.estimate,
                    mean_map_pointing=mean_map.pointing_game.estimate,
                    seconds_per_image=seconds,
                    n_detected=int(detected.sum()),
                    pointing_detected=float(report.hits[detected].mean())
                    if detected.any()
                    else float("nan"),
                    pointing_undetected=float(report.hits[~detected].mean())
                    if (~detected).any()
                    else float("nan"),
                    **by_sigma,
                )
                rows.append(row)
                print(
                    f"{data:11s} {name:15s} acc {accuracy:.2f} {label:22s} "
                    f"{row['layer']:16s} n={len(chosen):2d} pointing "
                    f"{row['pointing']:.2f} ({row['pointing_ci']}) energy "
                    f"{row['energy']:.2f} iou {row['iou']:.2f} | centre "
                    f"{row['centre_pointing']:.2f} mean map "
                    f"{row['mean_map_pointing']:.2f} | {seconds:.3f} s/img | "
                    f"detected {row['n_detected']}: pointing "
                    f"{row['pointing_detected']:.2f}, undetected "
                    f"{row['pointing_undetected']:.2f} | by sigma "
                    + " ".join(f"{k[14:]}: {v:.2f}" for k, v in by_sigma.items()),
                    flush=True,
                )
    if args.out:
        import pandas as pd

        pd.DataFrame(rows).to_csv(args.out, index=False)


if __name__ == "__main__":
    main()
