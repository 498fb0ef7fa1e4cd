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

``gradcam (uniform grid)`` is Grad-CAM placed on the uniform cell grid, the
geometry before issue #32, for comparison.

Run::

    python benchmarks/explain/bench_localisation.py \
        --data-dir /work/shared/data/chest_xray_kermany_224 --out RESULTS.csv
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


def backgrounds(name: str, n: int, size: int, data_dir, rng) -> np.ndarray:
    if name == "breastmnist":
        from skmedtl.datasets import load_breastmnist

        loaded = load_breastmnist()
        X = np.asarray(loaded[0] if isinstance(loaded, tuple) else loaded.X)
        X = X[rng.choice(len(X), n, replace=False)].astype(np.float32) / 255
    else:
        from PIL import Image

        files = sorted(Path(data_dir, "train", "NORMAL").glob("*.jpeg"))
        files += sorted(Path(data_dir, "train", "PNEUMONIA").glob("*.jpeg"))
        chosen = rng.choice(len(files), n, replace=False)
        X = np.stack(
            [
                np.asarray(Image.open(files[i]).convert("L"), dtype=np.float32) / 255
                for i in chosen
            ]
        )
    t = torch.as_tensor(X)[:, None]
    t = F.interpolate(t, size=(size, size), mode="bilinear", antialias=True)
    return t[:, 0].numpy().clip(0, 1)


def plant(X: np.ndarray, rng):
    """Blobs into half the images: images (uint8), labels, masks (None: no blob)."""
    n, h, w = X.shape
    y = np.zeros(n, dtype=int)
    y[rng.permutation(n)[: n // 2]] = 1
    masks = []
    yy, xx = np.mgrid[0:h, 0:w] + 0.5
    out = X.copy()
    for i in range(n):
        if not y[i]:
            masks.append(None)
            continue
        sigma = rng.choice(SIGMAS)
        contrast = rng.choice(CONTRASTS)
        margin = 2 * sigma
        cy, cx = rng.uniform(margin, h - margin), rng.uniform(margin, w - margin)
        d2 = (yy - cy) ** 2 + (xx - cx) ** 2
        out[i] = out[i] + contrast * np.exp(-d2 / (2 * sigma**2))
        masks.append(d2 <= (2 * sigma) ** 2)
    return (out.clip(0, 1) * 255).astype(np.uint8), y, masks


def methods_for(differentiable: bool):
    if not differentiable:
        return [("occlusion", None)]
    return [
        ("gradcam", None),
        ("gradcam (uniform grid)", None),
        ("gradcam++", None),
        ("hirescam", None),
        ("gradcam", "stride16"),
        ("layercam", "stride16"),
        ("layercam", "stride8+stride16+final"),
        ("gradxinput", None),
        ("integrated_gradients", None),
        ("occlusion", None),
    ]


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
    name = method.split(" ")[0]
    original = saliency_module.trace_cell_grid
    if "uniform" in method:  # the geometry before issue #32
        saliency_module.trace_cell_grid = lambda *args: None
    try:
        start = time.perf_counter()
        maps = saliency(model, X, name, target=1, batch_size=8, **kwargs)
        seconds = (time.perf_counter() - start) / len(X)
    finally:
        saliency_module.trace_cell_grid = original
    return maps, seconds


def models(X, y, size, epochs, seed):
    from sklearn.pipeline import Pipeline

    from skmedtl.features import CNNFeatures
    from skmedtl.finetune import FineTuneClassifier

    features = CNNFeatures("efficientnet_lite0", input_size=size, verbose=0).fit(X)
    Z = features.transform(X)
    for head in ("logreg", "svm", "rf", "xgboost"):
        hybrid = make_hybrid("efficientnet_lite0", head, random_state=seed, verbose=0)
        rest = Pipeline(hybrid.steps[1:]).fit(Z, y)
        yield f"hybrid {head}", Pipeline([("features", features), *rest.steps])
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
    ).fit(X, y)
    yield "fine-tuned", net


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=None, help="chest_xray_kermany_224")
    parser.add_argument("--n-train", type=int, default=64)
    parser.add_argument("--n-test", type=int, default=24)
    parser.add_argument("--size", type=int, default=160)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--occlusion-images", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--sets", default="breastmnist,chest_xray", help="comma-separated"
    )
    parser.add_argument("--out", default=None, help="CSV of the results")
    args = parser.parse_args(argv)
    torch.manual_seed(args.seed)
    sets = [s for s in args.sets.split(",") if s != "chest_xray" or args.data_dir]
    rows = []
    print(f"load: {os.getloadavg()}; n_train={args.n_train}, n_test={args.n_test}")
    for data in sets:
        rng = np.random.default_rng(args.seed)
        X = backgrounds(data, args.n_train + args.n_test, args.size, args.data_dir, rng)
        X, y, masks = plant(X, rng)
        train, test = slice(0, args.n_train), slice(args.n_train, None)
        positive = [i for i in range(args.n_train, len(X)) if y[i] == 1]
        for name, model in models(X[train], y[train], args.size, args.epochs, 0):
            accuracy = float((model.predict(X[test]) == y[test]).mean())
            differentiable = name in ("hybrid logreg", "fine-tuned")
            for method, stage in methods_for(differentiable):
                chosen = positive
                if method in ("occlusion", "integrated_gradients"):
                    chosen = positive[: args.occlusion_images]
                maps, seconds = explain(model, X[chosen], method, stage)
                report = localisation_scores(
                    list(maps), [masks[i] for i in chosen], n_boot=200
                )
                model_row, centre, mean_map = report.rows
                row = dict(
                    data=data,
                    model=name,
                    accuracy=accuracy,
                    method=method,
                    layer=stage or "final",
                    n=len(chosen),
                    pointing=model_row.pointing_game.value,
                    pointing_ci=f"{model_row.pointing_game.ci_low:.2f}-"
                    f"{model_row.pointing_game.ci_high:.2f}",
                    energy=model_row.energy.value,
                    iou=model_row.topk_iou.value,
                    centre_pointing=centre.pointing_game.value,
                    mean_map_pointing=mean_map.pointing_game.value,
                    seconds_per_image=seconds,
                )
                rows.append(row)
                print(
                    f"{data:11s} {name:15s} acc {accuracy:.2f} {method:22s} "
                    f"{row['layer']:16s} n={len(chosen):2d} pointing "
                    f"{row['pointing']:.2f} ({row['pointing_ci']}) energy "
                    f"{row['energy']:.2f} iou {row['iou']:.2f} | centre "
                    f"{row['centre_pointing']:.2f} mean map "
                    f"{row['mean_map_pointing']:.2f} | {seconds:.3f} s/img",
                    flush=True,
                )
    if args.out:
        import pandas as pd

        pd.DataFrame(rows).to_csv(args.out, index=False)


if __name__ == "__main__":
    main()
