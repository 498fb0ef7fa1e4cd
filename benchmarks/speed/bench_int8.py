"""int8 extraction: speed against float32 ONNX Runtime and eager PyTorch; fidelity.

Three parts, each printing a Markdown table (``--part``):

- ``methods``: the calibration method (min-max, entropy, percentile) compared on
  real data: held-back cosine similarity at fit time, cosine on the test images,
  downstream logistic-regression test AUC, quantisation time;
- ``speed``: eager PyTorch (batched, NCHW, ``no_grad``), float32 ONNX Runtime and
  int8 ONNX Runtime (``CNNFeatures(precision="int8")``'s engine) on the same
  preprocessed batches, interleaved in rounds within one process; median of the
  rounds in images/s;
- ``fidelity``: for each backbone and data set, float32 vs int8 embeddings of the
  test images (cosine similarity) and the test AUC of the same downstream head
  (``StandardScaler`` + ``LogisticRegression``, C tuned by internal CV as
  ``make_hybrid`` does by default, and C=1) trained on float32 or int8
  training embeddings; ``warned`` says whether ``fit`` issued the fidelity
  warning.

Data (``/work/shared/data`` or ``--data``): BreastMNIST 64 px (official split, all
546 training and 156 test images) and the 224-px Kermany chest X-rays (stratified
random subsets, ``--xray-train`` / ``--xray-test``). Only EfficientNet-Lite0/1/2
have real ImageNet weights offline; the other backbones run with random weights
(``random_state=0``), which still measures what quantisation loses.

Usage::

    nice python benchmarks/speed/bench_int8.py --part methods
    nice python benchmarks/speed/bench_int8.py --part speed --rounds 3
    nice python benchmarks/speed/bench_int8.py --part fidelity
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
import warnings
from pathlib import Path

import numpy as np

BACKBONES = ["resnet50", "densenet121", "inception_v3", "efficientnet_lite0"]
REAL_WEIGHTS = {"efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2"}


def load_breast(data: Path):
    d = np.load(data / "medmnist" / "breastmnist_64.npz")
    return (
        d["train_images"],
        d["train_labels"].ravel(),
        d["test_images"],
        d["test_labels"].ravel(),
    )


def load_xray(data: Path, n_train: int, n_test: int):
    from PIL import Image

    rng = np.random.RandomState(0)
    out = []
    for split, n in (("train", n_train), ("test", n_test)):
        paths, labels = [], []
        for label, cls in enumerate(("NORMAL", "PNEUMONIA")):
            files = sorted((data / "chest_xray_kermany_224" / split / cls).iterdir())
            paths += files
            labels += [label] * len(files)
        labels = np.asarray(labels)
        # Stratified subset: the same share of each class as the full split.
        keep = []
        for label in (0, 1):
            idx = np.flatnonzero(labels == label)
            k = int(round(n * len(idx) / len(labels)))
            keep += list(rng.choice(idx, k, replace=False))
        keep = np.asarray(sorted(keep))
        images = np.stack([np.asarray(Image.open(paths[i]).convert("L")) for i in keep])
        out += [images, labels[keep]]
    return tuple(out)


def _stratified(labels, n):
    rng = np.random.RandomState(0)
    keep = []
    for label in np.unique(labels):
        idx = np.flatnonzero(labels == label)
        k = int(round(n * len(idx) / len(labels)))
        keep += list(rng.choice(idx, k, replace=False))
    return np.asarray(sorted(keep)), None


def features(backbone: str, precision: str, **params):
    from skmedtl import CNNFeatures

    weights = "imagenet" if backbone in REAL_WEIGHTS else None
    return CNNFeatures(
        backbone,
        weights=weights,
        random_state=0,
        verbose=0,
        batch_size=32,
        backend="onnxruntime",
        precision=precision,
        **params,
    )


def head_scores(z_train, y_train, z_test, tune=False) -> np.ndarray:
    """Test scores of ``make_hybrid(head="logreg")``'s head on fixed embeddings.

    ``tune=False``: C=1, as in the first runs of this script. An untuned logistic
    regression on ~1-2k features and ~500 images interpolates the training set,
    and its test AUC moves by a few hundredths under any small perturbation of
    the features; ``tune=True`` (the default of ``make_hybrid``) chooses C by
    internal 5-fold CV and is what a user gets.
    """
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from skmedtl.hybrid import hybrid_head

    clf = make_pipeline(
        StandardScaler(), hybrid_head("logreg", random_state=0, tune=tune)
    )
    clf.fit(z_train, y_train)
    return clf.predict_proba(z_test)[:, 1]


def head_auc(z_train, y_train, z_test, y_test, tune=False) -> float:
    """Test AUC of :func:`head_scores`."""
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y_test, head_scores(z_train, y_train, z_test, tune)))


def cosine(a, b):
    from skmedtl.features._quantize import embedding_fidelity

    return embedding_fidelity(a, b)


def int8_run(backbone, Xtr, ytr, Xte, yte, ref, calibration=None) -> dict:
    f8 = features(backbone, "int8", int8_calibration=calibration)
    tic = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        f8.fit(Xtr)
    fit_s = time.perf_counter() - tic
    warned = any("int8" in str(w.message) for w in caught)
    z8tr, z8te = f8.transform(Xtr), f8.transform(Xte)
    cos = cosine(ref["test"], z8te)
    return {
        "fit_s": fit_s,
        "held_mean_cos": f8.int8_fidelity_["mean_cosine"],
        "held_min_cos": f8.int8_fidelity_["min_cosine"],
        "excluded": f8.int8_fidelity_["excluded"],
        "test_mean_cos": cos["mean_cosine"],
        "test_min_cos": cos["min_cosine"],
        "held_std_cos": f8.int8_fidelity_["standardised_cosine"],
        "test_std_cos": cos["standardised_cosine"],
        "auc_int8": head_auc(z8tr, ytr, z8te, yte),
        "scores_int8_tuned": head_scores(z8tr, ytr, z8te, tune=True),
        "warned": warned,
    }


def float_run(backbone, Xtr, ytr, Xte, yte) -> dict:
    f32 = features(backbone, "float32").fit(Xtr)
    ztr, zte = f32.transform(Xtr), f32.transform(Xte)
    return {
        "train": ztr,
        "test": zte,
        "auc": head_auc(ztr, ytr, zte, yte),
        "scores_tuned": head_scores(ztr, ytr, zte, tune=True),
    }


def datasets(args):
    data = Path(args.data)
    if "breastmnist_64" in args.datasets:
        Xtr, ytr, Xte, yte = load_breast(data)
        if args.breast_train < len(ytr):  # stratified random subset
            keep, _ = _stratified(ytr, args.breast_train)
            Xtr, ytr = Xtr[keep], ytr[keep]
        yield "breastmnist_64", (Xtr, ytr, Xte, yte)
    if "chest_xray_224" in args.datasets:
        yield "chest_xray_224", load_xray(data, args.xray_train, args.xray_test)


def part_methods(args) -> list[dict]:
    rows = []
    for name, (Xtr, ytr, Xte, yte) in datasets(args):
        for backbone in args.method_backbones:
            ref = float_run(backbone, Xtr, ytr, Xte, yte)
            for method in ("minmax", "entropy", "percentile"):
                r = int8_run(
                    backbone,
                    Xtr,
                    ytr,
                    Xte,
                    yte,
                    ref,
                    {"method": method, "exclude": "first"},
                )
                r.update(
                    data=name, backbone=backbone, method=method, auc_float32=ref["auc"]
                )
                rows.append(r)
                print(json.dumps(r), flush=True)
    print(
        "\n| data | backbone | method | held-back cos (mean / min) | test cos (mean / "
        "min) | AUC float32 | AUC int8 | quantise+fit (s) |"
    )
    print("|---|---|---|---|---|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['data']} | {r['backbone']} | {r['method']} | "
            f"{r['held_mean_cos']:.4f} / {r['held_min_cos']:.4f} | "
            f"{r['test_mean_cos']:.4f} / {r['test_min_cos']:.4f} | "
            f"{r['auc_float32']:.4f} | {r['auc_int8']:.4f} | {r['fit_s']:.1f} |"
        )
    return rows


def part_speed(args) -> list[dict]:
    import torch

    from skmedtl.features._extractor import FeatureExtractor

    rng = np.random.default_rng(0)
    rows = []
    for backbone in args.backbones:
        calib = rng.integers(0, 256, (64, 64, 64), dtype=np.uint8)
        f32 = features(backbone, "float32").fit(calib)
        f8 = features(backbone, "int8").fit(calib)
        size = f32.preprocessing_.input_size
        images = rng.integers(0, 256, (args.n, *size, 3), dtype=np.uint8)
        x = f32.preprocessing_(images, "cpu")
        batches = [x[i : i + 32] for i in range(0, len(x), 32)]
        eager = FeatureExtractor(f32.backbone_spec_, f32.model_.eval(), None, "avg")

        def run_eager(eager=eager, batches=batches):
            with torch.no_grad():
                return np.concatenate([eager(b).numpy() for b in batches])

        engines = {"eager": run_eager}
        for label, f in (("onnx-float32", f32), ("onnx-int8", f8)):
            engine = f._engine()
            engines[label] = lambda e=engine, bs=batches: np.concatenate(
                [e(b) for b in bs]
            )
        times = {k: [] for k in engines}
        outs = {k: fn() for k, fn in engines.items()}  # warm-up, and the outputs
        for _ in range(args.rounds):
            for k, fn in engines.items():
                tic = time.perf_counter()
                fn()
                times[k].append(time.perf_counter() - tic)
        med = {k: args.n / statistics.median(v) for k, v in times.items()}
        row = {
            "backbone": backbone,
            "input": f"{size[0]}x{size[1]}",
            **{f"{k}_img_s": v for k, v in med.items()},
            "int8_vs_float32": med["onnx-int8"] / med["onnx-float32"],
            "int8_vs_eager": med["onnx-int8"] / med["eager"],
            "float32_vs_eager": med["onnx-float32"] / med["eager"],
            "cos_int8_vs_eager": cosine(outs["eager"], outs["onnx-int8"])[
                "mean_cosine"
            ],
            "rounds": {k: [round(args.n / t, 2) for t in v] for k, v in times.items()},
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    print(
        "\n| backbone | input | eager (img/s) | ONNX float32 | ONNX int8 | "
        "int8 / float32 | int8 / eager | float32 / eager | cosine int8 vs eager |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['backbone']} | {r['input']} | {r['eager_img_s']:.1f} | "
            f"{r['onnx-float32_img_s']:.1f} | {r['onnx-int8_img_s']:.1f} | "
            f"**{r['int8_vs_float32']:.2f}x** | {r['int8_vs_eager']:.2f}x | "
            f"{r['float32_vs_eager']:.2f}x | {r['cos_int8_vs_eager']:.5f} |"
        )
    return rows


def part_fidelity(args) -> list[dict]:
    from skmedtl.metrics import delong_test

    rows = []
    for name, (Xtr, ytr, Xte, yte) in datasets(args):
        for backbone in args.backbones:
            ref = float_run(backbone, Xtr, ytr, Xte, yte)
            r = int8_run(backbone, Xtr, ytr, Xte, yte, ref)
            r.update(
                data=name,
                backbone=backbone,
                n_train=len(ytr),
                n_test=len(yte),
                auc_float32=ref["auc"],
            )
            # The tuned heads compared on the same test images (DeLong).
            test = delong_test(yte, r.pop("scores_int8_tuned"), ref["scores_tuned"])
            r.update(
                auc_int8_tuned=test.auc_a,
                auc_float32_tuned=test.auc_b,
                auc_diff_tuned=test.auc_a - test.auc_b,
                delong_p_tuned=test.p_value,
            )
            r["auc_diff"] = r["auc_int8"] - r["auc_float32"]
            rows.append(r)
            print(json.dumps(r), flush=True)
    print(
        "\n| data (train / test) | backbone | held-back cos (mean / min) | test cos "
        "(mean / min) | standardised cos (held-back / test) | AUC float32 / int8, "
        "tuned head | Δ tuned (DeLong p) | AUC float32 / int8, C=1 | Δ C=1 | warned | "
        "float32 nodes |"
    )
    print("|---|---|---|---|---|---|---:|---|---:|---|---|")
    for r in rows:
        print(
            f"| {r['data']} ({r['n_train']} / {r['n_test']}) | {r['backbone']} | "
            f"{r['held_mean_cos']:.4f} / {r['held_min_cos']:.4f} | "
            f"{r['test_mean_cos']:.4f} / {r['test_min_cos']:.4f} | "
            f"{r['held_std_cos']:.3f} / {r['test_std_cos']:.3f} | "
            f"{r['auc_float32_tuned']:.4f} / {r['auc_int8_tuned']:.4f} | "
            f"**{r['auc_diff_tuned']:+.4f}** ({r['delong_p_tuned']:.2f}) | "
            f"{r['auc_float32']:.4f} / {r['auc_int8']:.4f} | {r['auc_diff']:+.4f} | "
            f"{'yes' if r['warned'] else 'no'} | {len(r['excluded'])} |"
        )
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--part", choices=["methods", "speed", "fidelity"], required=True
    )
    parser.add_argument("--backbones", nargs="+", default=BACKBONES)
    parser.add_argument(
        "--method-backbones", nargs="+", default=["efficientnet_lite0", "resnet50"]
    )
    parser.add_argument("--data", default="/work/shared/data")
    parser.add_argument(
        "--datasets",
        nargs="+",
        choices=["breastmnist_64", "chest_xray_224"],
        default=["breastmnist_64", "chest_xray_224"],
    )
    parser.add_argument("--breast-train", type=int, default=546)
    parser.add_argument("--xray-train", type=int, default=400)
    parser.add_argument("--xray-test", type=int, default=200)
    parser.add_argument("--n", type=int, default=64, help="images per speed round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", help="write the rows here")
    args = parser.parse_args(argv)
    os.environ.setdefault("SKMEDTL_HOME", "/tmp/skmedtl_bench_home")
    start = time.perf_counter()
    rows = {"methods": part_methods, "speed": part_speed, "fidelity": part_fidelity}[
        args.part
    ](args)
    print(f"\n{args.part}: {time.perf_counter() - start:.0f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1, default=str))


if __name__ == "__main__":
    main()
