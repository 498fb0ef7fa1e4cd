"""``skmedtl study``, ``skmedtl extract`` and ``skmedtl demo`` (argparse layer).

Nothing heavy is imported at module level, so ``skmedtl --help`` stays fast.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

EXIT_OK, EXIT_ERROR, EXIT_INTERRUPTED = 0, 1, 130

_STUDY_EPILOG = """\
examples:
  skmedtl study --dataset breastmnist --profile quick --out study
  skmedtl study --dataset images/ --groups 'patient(\\d+)_' --out study \\
      --backbones resnet50,densenet121 --approaches hybrid-svm,fine_tune:2,full
  skmedtl study --dataset labels.csv --profile standard --seeds 3 --out study

Run the same command again after an interruption: finished cells are skipped.
Outputs in --out: report.html, report.md, results.csv (one row per backbone x
approach), cells.csv (per seed), figures/*.png, results.jsonl (the log),
embeddings.h5 (the embedding cache, unless --cache is given).
"""


def _comma_list(text: str) -> list[str]:
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        raise argparse.ArgumentTypeError("expected a comma-separated list")
    return items


def _float_list(text: str) -> list[float]:
    try:
        return [float(t) for t in _comma_list(text)]
    except ValueError as e:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated numbers, e.g. 1e-3,1e-4; got {text!r}"
        ) from e


def _int_or(word: str, what: str):
    """An argparse type: an integer, or the keyword ``word``."""

    def parse(text: str):
        if text == word:
            return text
        try:
            return int(text)
        except ValueError as e:
            raise argparse.ArgumentTypeError(
                f"expected {what} or {word!r}; got {text!r}"
            ) from e

    return parse


_size = _int_or("native", "pixels (e.g. 64)")
_threads = _int_or("auto", "a number of threads")
_batch_size = _int_or("auto", "a number of images")


def _weights(text: str):
    return None if text.lower() in ("none", "random") else text


def _add_run_options(p: argparse.ArgumentParser, extract: bool = False) -> None:
    p.add_argument(
        "--device",
        default="auto",
        help="'auto' (CUDA when present), 'cpu', 'cuda:1', ...",
    )
    if extract:
        p.add_argument(
            "--batch-size",
            type=_batch_size,
            default="auto",
            metavar="N",
            help="images per forward pass, or 'auto' (default: what fits in memory)",
        )
        p.add_argument(
            "--precision",
            choices=("float32", "float16", "bfloat16"),
            default="float32",
            help="forward-pass arithmetic; half precisions are for GPUs",
        )
        p.add_argument(
            "--backend",
            choices=("auto", "torch", "onnxruntime"),
            default="auto",
            help="inference engine (auto: ONNX Runtime on CPUs when installed)",
        )
    else:
        p.add_argument("--batch-size", type=int, default=32, metavar="N")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")


def add_study_commands(sub) -> None:
    """Register ``study``, ``extract`` and ``demo`` on the CLI's subparsers."""
    from .study._approaches import APPROACHES
    from .study._choices import COSTS
    from .study._profiles import PROFILES

    p = sub.add_parser(
        "study",
        help="compare backbones x transfer-learning approaches, with cost",
        description="Run the transfer-learning study on a data set: every backbone "
        "x approach, scored on one test set with 95% bootstrap CIs, with its cost "
        "(time, memory, parameters); writes a Markdown + HTML report with a "
        "recommendation and plots. Resumable.",
        epilog=_STUDY_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--dataset",
        required=True,
        metavar="DATA",
        help="bundled name (breastmnist), a MedMNIST .npz, a .csv "
        "(path,label[,group][,split]) or a folder of class subfolders "
        "(optionally inside train/ val/ test/)",
    )
    p.add_argument(
        "--out",
        required=True,
        metavar="DIR",
        help="output folder (log, tables, report, figures)",
    )
    p.add_argument(
        "--profile",
        default="quick",
        metavar="NAME",
        help=f"grid and budgets: {', '.join(PROFILES)} (default: quick); "
        "the options below override it",
    )
    p.add_argument(
        "--backbones",
        type=_comma_list,
        metavar="A,B",
        help="backbone names (see `skmedtl backbones`)",
    )
    p.add_argument(
        "--approaches",
        type=_comma_list,
        metavar="A,B",
        help=f"from: {', '.join(APPROACHES)}; fine_tune:K trains the "
        "top K block groups",
    )
    p.add_argument("--seeds", type=int, metavar="N", help="repetitions per cell")
    p.add_argument(
        "--weights",
        type=_weights,
        default="imagenet",
        help="'imagenet' (default), 'none' (random) or a weights file",
    )
    p.add_argument(
        "--metric",
        default="auc",
        help="what selection and the recommendation maximise: auc "
        "(default), balanced_accuracy, accuracy",
    )
    p.add_argument(
        "--cost",
        default="time",
        help=f"what 'cheapest' minimises: {', '.join(COSTS)} (default: time)",
    )
    p.add_argument(
        "--input-size",
        type=_size,
        metavar="PX",
        help="input size of the frozen approaches, or 'native'",
    )
    p.add_argument(
        "--train-input-size",
        type=_size,
        metavar="PX",
        help="input size of the approaches that train the backbone",
    )
    p.add_argument("--max-epochs", type=int, metavar="N")
    p.add_argument(
        "--lrs",
        type=_float_list,
        metavar="LR,LR",
        help="learning rates tried (chosen on validation)",
    )
    p.add_argument(
        "--fine-tune-blocks", type=int, metavar="K", help="K of a bare 'fine_tune'"
    )
    p.add_argument(
        "--positive",
        metavar="CLASS",
        help="positive class of a binary problem (for sensitivity)",
    )
    p.add_argument(
        "--groups",
        metavar="REGEX",
        help="folders: regular expression finding the patient id in "
        "each path (patient-level splits)",
    )
    p.add_argument(
        "--groups-csv", metavar="CSV", help="folders: CSV with columns path, group"
    )
    p.add_argument(
        "--test-size",
        type=float,
        default=0.2,
        metavar="F",
        help="hold-out share when the data set has no test split",
    )
    p.add_argument(
        "--cache", metavar="H5", help="embedding cache (default: DIR/embeddings.h5)"
    )
    p.add_argument("--n-bootstraps", type=int, metavar="N")
    p.add_argument(
        "--n-jobs",
        type=int,
        metavar="N",
        help="threads of the forest / XGBoost heads (default 1)",
    )
    p.add_argument(
        "--threads",
        type=_threads,
        default="auto",
        metavar="N",
        help="PyTorch CPU threads, or 'auto' (default: the cores other processes "
        "leave idle)",
    )
    p.add_argument(
        "--calibrate",
        choices=("none", "temperature", "sigmoid", "isotonic"),
        default="none",
        help="recalibrate probabilities on validation; Brier / ECE reported "
        "before and after (default: none)",
    )
    p.add_argument(
        "--target-sensitivity",
        type=float,
        metavar="F",
        help="operating point: the most specific threshold with at least this "
        "validation sensitivity (default: Youden's J)",
    )
    p.add_argument(
        "--target-specificity",
        type=float,
        metavar="F",
        help="operating point: the most sensitive threshold with at least this "
        "validation specificity",
    )
    p.add_argument(
        "--task",
        choices=("classification", "ordinal"),
        default="classification",
        help="'ordinal': ordered grades; adds quadratic weighted kappa and MAE",
    )
    p.add_argument(
        "--save",
        default="best",
        metavar="WHICH",
        help="selected models to save, safely, with a model card: 'best' "
        "(DIR/model, default), 'recommended' (DIR/model-recommended), "
        "'best,recommended' or 'none'; use them with `skmedtl predict`",
    )
    p.add_argument("--random-state", type=int, default=0, metavar="N")
    p.add_argument(
        "--keep-going",
        action="store_true",
        help="record failed cells and go on (exit code 1 at the end)",
    )
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="list the cells (and which are finished), run nothing",
    )
    p.add_argument(
        "--report-only",
        action="store_true",
        help="rewrite the report from the finished cells, run nothing",
    )
    _add_run_options(p)
    p.set_defaults(func=cmd_study)

    p = sub.add_parser(
        "extract",
        help="embed images into an HDF5 embedding cache",
        description="Embed images with a frozen backbone into an embedding cache "
        "(the file CNNFeatures(cache_path=...) and `skmedtl study --cache` use). "
        "Images already in the cache are not embedded again.",
    )
    p.add_argument(
        "inputs",
        nargs="*",
        metavar="PATH",
        help="image files, or folders (searched recursively)",
    )
    p.add_argument(
        "--dataset",
        metavar="DATA",
        help="instead of paths: every image of a study data set "
        "(bundled name, .npz, .csv or folder)",
    )
    p.add_argument("--cache", required=True, metavar="H5", help="the cache file")
    p.add_argument("--backbone", default="efficientnet_lite0")
    p.add_argument(
        "--weights",
        type=_weights,
        default="imagenet",
        help="'imagenet' (default), 'none' or a weights file",
    )
    p.add_argument(
        "--input-size",
        type=_size,
        metavar="PX",
        help="network input size (default: the weights' own)",
    )
    p.add_argument(
        "--random-state",
        type=int,
        default=0,
        metavar="N",
        help="seeds random weights (with --weights none)",
    )
    p.add_argument(
        "--save",
        metavar="NPY",
        help="also save the embeddings (n, d) as a .npy file, in input "
        "order (paths listed in NPY.paths.txt)",
    )
    _add_run_options(p, extract=True)
    p.set_defaults(func=cmd_extract)

    p = sub.add_parser(
        "demo",
        help="the transfer-learning study on bundled BreastMNIST, offline",
        description="`skmedtl study --dataset breastmnist --profile quick` with "
        "the EfficientNet-Lite0 ImageNet weights that ship with skmedtl: every "
        "approach of the review, its test ACC / AUC and cost, and a report. Needs "
        "no network; minutes on a laptop CPU.",
    )
    p.add_argument(
        "--out",
        default="skmedtl-demo",
        metavar="DIR",
        help="output folder (default: ./skmedtl-demo)",
    )
    p.add_argument(
        "--backbone",
        default="efficientnet_lite0",
        help="backbone name (default: efficientnet_lite0, weights ship with skmedtl)",
    )
    p.add_argument(
        "--approaches",
        type=_comma_list,
        metavar="A,B",
        help="a subset of the approaches (default: all of the quick profile)",
    )
    _add_run_options(p)
    p.set_defaults(func=cmd_demo)


# -- commands ----------------------------------------------------------------------
def cmd_study(args) -> int:
    from .study import TransferStudy

    study = TransferStudy(
        args.dataset,
        args.out,
        profile=args.profile,
        backbones=args.backbones,
        approaches=args.approaches,
        seeds=args.seeds,
        weights=args.weights,
        metric=args.metric,
        cost=args.cost,
        input_size=args.input_size,
        train_input_size=args.train_input_size,
        max_epochs=args.max_epochs,
        lrs=args.lrs,
        fine_tune_blocks=args.fine_tune_blocks,
        pos_label=args.positive,
        groups=args.groups,
        groups_csv=args.groups_csv,
        test_size=args.test_size,
        cache_path=args.cache,
        device=args.device,
        batch_size=args.batch_size,
        n_bootstraps=args.n_bootstraps,
        n_threads=args.threads,
        n_jobs=args.n_jobs,
        calibrate=args.calibrate,
        target_sensitivity=args.target_sensitivity,
        target_specificity=args.target_specificity,
        task=args.task,
        on_error="skip" if args.keep_going else "raise",
        save=args.save,
        random_state=args.random_state,
        verbose=0 if args.quiet else 1,
    )
    return _run_study(study, args)


def cmd_demo(args) -> int:
    from . import __version__
    from ._demo import make_demo_study

    print(
        f"skmedtl {__version__} demo: the transfer-learning study on BreastMNIST "
        "(bundled; MedMNIST v2, CC BY 4.0), quick profile, offline"
    )
    study = make_demo_study(
        args.out,
        backbone=args.backbone,
        approaches=args.approaches,
        device=args.device,
        batch_size=args.batch_size,
        verbose=0 if args.quiet else 1,
    )
    args.dry_run = args.report_only = False
    return _run_study(study, args)


def _run_study(study, args) -> int:
    try:
        plan = study.plan()
    except ImportError as e:
        raise RuntimeError(str(e)) from e
    data = study.data_
    counts = ", ".join(
        f"{s} {data.n_images(s)}" for s in ("train", "val", "test") if data.n_images(s)
    )
    done = sum(c["done"] for c in plan)
    p = study.profile_
    print(
        f"data: {data.source}: {data.n_images()} images ({counts}), "
        f"{len(data.class_names)} classes"
    )
    print(
        f"plan: {len(plan)} cells = {len(p.backbones)} backbone(s) x "
        f"{len(study.approaches_)} approach(es) x {len(study.seeds_)} seed(s); "
        f"{done} finished before; output in {study.out_dir}"
    )
    if args.dry_run:
        for c in plan:
            print(f"  [{'x' if c['done'] else ' '}] {c['cell']}")
        return EXIT_OK
    try:
        results = study.report() if args.report_only else study.run()
    except KeyboardInterrupt:
        left = sum(not c["done"] for c in study.plan())
        print(
            f"interrupted: {left} cell(s) left; run the same command again to "
            "finish them (finished cells are kept).",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    except ImportError as e:
        raise RuntimeError(str(e)) from e
    print_results(results)
    for name in ("model", "model-recommended"):
        if name in results.files:
            print(
                f"{name}: {results.files[name]} (use it: skmedtl predict --model "
                f"{results.files[name]} --images PATH...)"
            )
    if results.failures:
        print(f"{len(results.failures)} cell(s) failed:", file=sys.stderr)
        for f in results.failures:
            print(f"  {f['cell']}: {f['error']}", file=sys.stderr)
        return EXIT_ERROR
    return EXIT_OK


def print_results(results) -> None:
    """The results table and the recommendation, as plain text."""
    from .study._report import format_metric, format_ms, format_seconds

    if not results.table:
        print("no finished cells yet.")
        return
    rec = results.recommendation
    metric = rec["metric"] if rec else "auc"
    selected = rec["best"]["config"] if rec else None
    print(
        f"\nresults ({len(results.cells)} of {results.n_cells} cells; 95% bootstrap "
        f"CIs); * = selected on validation {metric.upper()}, test values of the "
        "other rows are exploratory:"
    )
    header = (
        f"  {'backbone':<20} {'approach':<18} {'val ' + metric.upper():>8} "
        f"{'test ACC [95% CI]':<22} {'test AUC [95% CI]':<22} {'Brier':>6} "
        f"{'ECE':>6} {'compute s':>9} "
        f"{'infer ms/img':>12}"
    )
    print(header)
    print("-" * len(header))
    for r in results.table:
        mark = "*" if r["config"] == selected else " "
        print(
            f"{mark} {r['backbone']:<20} {r['approach']:<18} "
            f"{r['validation_score']:8.3f} {format_metric(r, 'accuracy'):<22} "
            f"{format_metric(r, 'auc'):<22} "
            f"{r.get('brier', float('nan')):6.3f} {r.get('ece', float('nan')):6.3f} "
            f"{format_seconds(r['compute_time_s']):>9} "
            f"{format_ms(r['inference_ms_per_image']):>12}"
        )
    if rec is not None:
        from .study._choices import COSTS

        best = rec["best"]
        print(
            f"\nselected on validation ({metric}): {best['config']}  validation "
            f"{best['validation_score']:.3f}; test {format_metric(best, metric)}"
        )
        if best.get("sensitivity_at_threshold") is not None:
            print(
                f"  operating point (threshold {best['threshold']:.3f}, "
                f"{best['threshold_rule']} on validation): test sensitivity "
                f"{format_metric(best, 'sensitivity_at_threshold')}, specificity "
                f"{format_metric(best, 'specificity_at_threshold')} (argmax: "
                f"{best['sensitivity']:.3f} / {best['specificity']:.3f})"
            )
        print(
            f"  calibration: Brier {format_metric(best, 'brier')}, ECE (10 bins) "
            f"{format_metric(best, 'ece')}"
            + (
                f"; after {best['calibrate']}: Brier "
                f"{format_metric(best, 'brier_calibrated')}, ECE "
                f"{format_metric(best, 'ece_calibrated')}"
                if best.get("brier_calibrated") is not None
                else ""
            )
        )
        print(
            f"cheaper alternative within its validation 95% CI "
            f"({COSTS[rec['cost']][1]}): {rec['cheapest']['config']}  test "
            f"{format_metric(rec['cheapest'], metric)}"
        )
    if results.comparisons:
        c0 = results.comparisons[0]
        print(
            f"\npaired comparisons with {selected} on the test set "
            f"({c0['primary_test']}, Holm-corrected):"
        )
        for c in results.comparisons:
            p = (
                c["p_delong_holm"]
                if c["p_delong_holm"] is not None
                else (c["p_bootstrap_holm"])
            )
            print(
                f"  vs {c['config']:<40} difference {c['difference']:+.3f} "
                f"[{c['ci_low']:+.3f}, {c['ci_high']:+.3f}]  p(Holm) {p:.3f}"
                + ("  *" if c["significant"] else "")
            )
    if "html" in results.files:
        print(
            f"\nreport: {results.files['html']} (also report.md, results.csv, "
            "predictions.csv, figures/*.png)"
        )
    if not results.complete and not results.failures:
        print(f"{results.n_cells - len(results.cells)} cell(s) not run yet.")


def _image_files(inputs: list[str]) -> list[str]:
    """Files as given; folders searched recursively for files skmedtl reads."""
    from .datasets._folder import _SYSTEM_FILES, _known_format

    files = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found = [
                os.fspath(f)
                for f in sorted(path.rglob("*"))
                if f.is_file()
                and not any(p.startswith(".") for p in f.relative_to(path).parts)
                and f.name.lower() not in _SYSTEM_FILES
                and _known_format(f)
            ]
            if not found:
                raise ValueError(f"No image files found under {path}.")
            files += found
        elif path.is_file():
            files.append(os.fspath(path))
        else:
            raise FileNotFoundError(f"No such file or folder: {path}")
    return files


def cmd_extract(args) -> int:
    import numpy as np

    from .features import CNNFeatures

    if bool(args.inputs) == bool(args.dataset):
        raise ValueError(
            "Give image paths / folders, or --dataset, not both or neither."
        )
    if args.dataset:
        from .study import load_study_dataset

        data = load_study_dataset(args.dataset)
        images = data.images
        names = (
            list(map(str, images))
            if isinstance(images, list)
            else [f"{args.dataset}[{i}]" for i in range(len(images))]
        )
    else:
        images = names = _image_files(args.inputs)
    features = CNNFeatures(
        args.backbone,
        weights=args.weights,
        input_size=None if args.input_size == "native" else args.input_size,
        batch_size=args.batch_size,
        device=args.device,
        verbose=0 if args.quiet else 1,
        random_state=args.random_state,
        cache_path=args.cache,
        precision=args.precision,
        backend=args.backend,
    ).fit(images[:1])
    from .cache._cache import shared_cache

    namespace = shared_cache(args.cache).namespace(
        features.feature_config_, dtype=features.cache_dtype, label=features.backbone
    )
    before = len(namespace)
    embeddings = features.transform(images)
    added = len(namespace) - before
    print(
        f"{len(names)} images embedded with {args.backbone} "
        f"({features.n_features_out_} features): {added} new, "
        f"{len(names) - added} already cached"
    )
    print(f"cache: {os.path.abspath(args.cache)} (namespace {namespace.name})")
    if args.save:
        np.save(args.save, embeddings)
        Path(args.save + ".paths.txt").write_text(
            "\n".join(names) + "\n", encoding="utf-8"
        )
        print(f"embeddings: {args.save} {embeddings.shape}")
    return EXIT_OK
