"""``skmedtl study``: the transfer-learning study on a data set.

:data:`STUDY_PARAMS` declares every parameter of
:class:`~skmedtl.study.TransferStudy` once, as a flag: the flags, the keyword
arguments and the translation of error messages are all generated from it
(``tests/cli/test_study.py`` checks that it covers the signature, defaults
included).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .._constants import APPROACHES, COST_MEASURES, ON_ERROR, SELECTION_METRICS
from ..study._out_dir import OutDirNames
from ..study._profiles import PROFILES
from ._base import (
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_OK,
    check_writable,
    command_parser,
)
from ._params import (
    REQUIRED,
    Param,
    add_params,
    choice,
    comma_list,
    extensions,
    float_list,
    int_or,
    kwargs_from,
    positive_int,
    regex,
    weights,
)


def _braces(values) -> str:
    return "{" + ",".join(values) + "}"


def _verbose(quiet: bool) -> int:
    return 0 if quiet else 1


def _on_error(keep_going: bool) -> str:
    return "skip" if keep_going else "raise"


def _executor(scheduler: str | None):
    """--scheduler ADDR: the cells run on that Dask cluster (the study's own bar
    is the one progress bar; the address is used at run time, never stored)."""
    if scheduler is None:
        return None
    if not scheduler.strip():
        raise ValueError(
            "--scheduler is empty; give the address of a Dask scheduler, e.g. "
            "--scheduler tcp://head:8786."
        )
    from ..distributed import DaskCellExecutor

    return DaskCellExecutor(scheduler)


_size = int_or("native", "pixels (e.g. 64)")

#: TransferStudy's parameters, as flags (in the order of ``--help``).
STUDY_PARAMS = [
    Param("dataset", "--dataset", default=REQUIRED, metavar="DATA",
          help="bundled name (breastmnist), a MedMNIST .npz, a .csv "
          "(path,label[,group][,split]) or a folder of class subfolders "
          "(optionally inside train/ val/ test/)"),
    Param("out_dir", "--out", default=REQUIRED, metavar="DIR",
          help="output folder (log, tables, report, figures); not inside --dataset"),
    Param("overwrite", "--overwrite", action="store_true", default=False,
          help="write into an existing --out folder that holds no study (its "
          "files of the same names are replaced)"),
    Param("profile", "--profile", type=choice(PROFILES), default="quick",
          metavar=_braces(PROFILES),
          help="grid and budgets (default: quick); the options below override it"),
    Param("backbones", "--backbones", type=comma_list, metavar="A,B",
          help="backbone names (see `skmedtl backbones`)"),
    Param("approaches", "--approaches", type=comma_list, metavar="A,B",
          help=f"from: {', '.join(APPROACHES)}; fine_tune:K trains the top K "
          "block groups"),
    Param("seeds", "--seeds", type=positive_int, metavar="N",
          help="repetitions per cell"),
    Param("weights", "--weights", type=weights, default="imagenet",
          help="'imagenet' (default), 'none' (random) or a weights file"),
    Param("metric", "--metric", type=choice(SELECTION_METRICS), default="auc",
          metavar=_braces(SELECTION_METRICS),
          help="what selection and the recommendation maximise (default: auc)"),
    Param("cost", "--cost", type=choice(COST_MEASURES), default="time",
          metavar=_braces(COST_MEASURES),
          help="what 'cheapest' minimises (default: time)"),
    Param("margin", "--margin", type=float, default=0.02, metavar="M",
          help="non-inferiority margin of the cheaper alternative: the CI lower "
          "bound of its paired validation difference to the selected one must "
          "be above -M (default: 0.02)"),
    Param("input_size", "--input-size", type=_size, metavar="PX",
          help="input size of every approach, or 'native' (the weights' own)"),
    Param("train_input_size", "--train-input-size", type=_size, metavar="PX",
          help="another input size for the approaches that train the backbone "
          "(the report flags the rows that differ)"),
    Param("max_epochs", "--max-epochs", type=positive_int, metavar="N",
          help="epochs of the approaches that train the backbone"),
    Param("lrs", "--lrs", type=float_list, metavar="LR,LR",
          help="learning rates tried (chosen on a split of the training images)"),
    Param("fine_tune_blocks", "--fine-tune-blocks", type=positive_int, metavar="K",
          help="K of a bare 'fine_tune'"),
    Param("pos_label", "--positive", metavar="CLASS",
          help="positive class of a binary problem (for sensitivity)"),
    Param("groups", "--groups", type=regex, metavar="REGEX",
          help="folders: regular expression finding the patient id in each path "
          "(patient-level splits)"),
    Param("groups_csv", "--groups-csv", metavar="CSV",
          help="folders: CSV with columns path, group"),
    Param("test_size", "--test-size", type=float, default=0.2, metavar="F",
          help="hold-out share when the data set has no test split"),
    Param("cache_path", "--cache", metavar="H5",
          help="embedding cache (default: DIR/embeddings.h5)"),
    Param("device", "--device", default="auto",
          help="'auto' (CUDA when present), 'cpu', 'cuda:1', ..."),
    Param("batch_size", "--batch-size", type=positive_int, default=32, metavar="N",
          help="images per batch (default: 32)"),
    Param("n_bootstraps", "--n-bootstraps", type=positive_int, metavar="N",
          help="bootstrap resamples of the 95%% CIs"),
    Param("n_threads", "--threads", type=int_or("auto", "a number of threads"),
          metavar="N",
          help="PyTorch CPU threads (default: PyTorch's, within the cores this "
          "process may use; the trained approaches' results depend on it), or "
          "'auto': only the cores other processes leave idle"),
    Param("n_jobs", "--n-jobs", type=int, metavar="N",
          help="threads of the forest / XGBoost heads (default 1)"),
    Param("calibrate", "--calibrate",
          type=choice(("none", "temperature", "sigmoid", "isotonic")),
          default="none", metavar="{none,temperature,sigmoid,isotonic}",
          help="recalibrate probabilities on validation; Brier / ECE reported "
          "before and after (default: none)"),
    Param("target_sensitivity", "--target-sensitivity", type=float, metavar="F",
          help="operating point: the most specific threshold with at least this "
          "validation sensitivity (default: Youden's J)"),
    Param("target_specificity", "--target-specificity", type=float, metavar="F",
          help="operating point: the most sensitive threshold with at least this "
          "validation specificity"),
    Param("task", "--task", type=choice(("classification", "ordinal")),
          default="classification", metavar="{classification,ordinal}",
          help="'ordinal': ordered grades; adds quadratic weighted kappa and MAE"),
    Param("grades", "--grades", metavar="G1,G2,...",
          help="ordinal studies: every class once, lowest grade first (labels or "
          "class names, e.g. low,medium,high); needed when the classes are text"),
    Param("on_error", "--keep-going", action="store_true", default=False,
          convert=_on_error,
          help="record failed cells and go on (exit code 1 at the end)"),
    Param("save", "--save", default="best", metavar="WHICH",
          help="selected models to save, safely, with a model card: 'best' "
          "(DIR/model, default), 'recommended' (DIR/model-recommended), "
          "'best,recommended' or 'none'; use them with `skmedtl predict`"),
    Param("annotations", "--annotations", metavar="CSV|DIR",
          help="lesion boxes (CSV) or masks (folder) of the test images: adds a "
          "localisation table of the saved models' maps"),
    Param("train_sizes", "--train-sizes", metavar="N,N,...,all",
          help="learning curves: also run every cell on repeated subsamples of "
          "the training images of these sizes (e.g. 25,50,100,200,all); the "
          "report plots AUC against training images and states the crossover"),
    Param("train_repeats", "--train-repeats", type=positive_int, default=3,
          metavar="N", help="learning curves: subsamples drawn of each size"),
    Param("cv", "--cv", default="auto", metavar="K|auto|none",
          help="nested cross-validation (data sets without an official test "
          "split): the whole selection in K patient-grouped outer folds; the "
          "report adds the estimate of the selection procedure ('auto': 5 folds "
          "below 1000 images; 0/none: off)"),
    Param("external", "--external", action="append", metavar="PATH",
          help="an external test set (folder or CSV with the same classes), "
          "scored once by the selected model; repeat for several"),
    Param("executor", "--scheduler", metavar="ADDR", convert=_executor,
          help="run the cells on the Dask cluster of this scheduler (e.g. "
          "tcp://head:8786): frozen embeddings sharded over its workers, each "
          "cell a task, trained cells on GPU workers; -v logs each worker's cells"),
    Param("random_state", "--random-state", type=int, default=0, metavar="N",
          help="seeds the hold-out split and the first seed"),
    Param("verbose", "--quiet", short="-q", action="store_true", default=False,
          convert=_verbose, help="no progress bars"),
]

#: Options of the data set that TransferStudy reads: a folder's bad files.
DATA_PARAMS = [
    Param("extensions", "--extensions", type=extensions, metavar="EXT,EXT",
          help="folders: read only files with these suffixes (e.g. .png,.dcm); "
          "other files are ignored"),
    Param("on_error", "--on-error", type=choice(ON_ERROR), default="raise",
          metavar=_braces(ON_ERROR),
          help="folders: a file that is not a readable image stops the study "
          "(raise, default) or is left out with a warning (skip)"),
]

#: How the command runs the study (not TransferStudy's parameters).
RUN_PARAMS = [
    Param("dry_run", "--dry-run", action="store_true", default=False,
          help="list the cells (and which are finished), run nothing"),
    Param("report_only", "--report-only", action="store_true", default=False,
          help="rewrite the report from the finished cells, run nothing"),
]

_EPILOG = """\
examples:
  skmedtl study --dataset breastmnist --profile quick --out study
  skmedtl study --dataset images/ --groups 'patient(\\d+)_' --out study \\
      --backbones resnet50,densenet121 --approaches hybrid-svm,fine_tune:2,full
  skmedtl study --dataset labels.csv --profile standard --seeds 3 --out study

Run the same command again after an interruption: finished cells are skipped.
Outputs in --out: report.html, report.md, results.csv (one row per backbone x
approach), cells.csv (per seed), figures/*.png, results.jsonl (the log),
embeddings.h5 (the embedding cache, unless --cache is given), model/ (the
selected model and its model card: `skmedtl predict --model DIR/model`).
"""


#: The output rule's names on the command line.
CLI_NAMES = OutDirNames("--out", "--dataset", "--cache", "--overwrite")


def add_parser(subparsers, parents: list) -> None:
    p = command_parser(
        subparsers, "study", parents,
        help="compare backbones x transfer-learning approaches, with cost",
        description="Run the transfer-learning study on a data set: every backbone "
        "x approach, scored on one test set with 95% bootstrap CIs, with its cost "
        "(time, memory, parameters); writes a Markdown + HTML report with a "
        "recommendation and plots. Resumable.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_params(p, STUDY_PARAMS)
    add_params(p, DATA_PARAMS)
    add_params(p, RUN_PARAMS)
    p.set_defaults(run=run, flags=flags_of(STUDY_PARAMS, DATA_PARAMS, RUN_PARAMS))


def flags_of(*tables: list[Param]) -> dict[str, Param]:
    """Keyword -> Param of the tables (a later table wins a shared keyword)."""
    return {p.name: p for table in tables for p in table}


def run(args) -> int:
    check_outputs(args.out, args.dataset, cache=args.cache,
                  write=not args.dry_run, overwrite=args.overwrite)
    kwargs = kwargs_from(args, STUDY_PARAMS)
    if args.extensions is not None or args.on_error != "raise":
        kwargs["dataset"] = _load_dataset(args)
    from ..study import TransferStudy

    executor = kwargs["executor"]
    try:
        return run_study(TransferStudy(**kwargs), dry_run=args.dry_run,
                         report_only=args.report_only)
    finally:
        if executor is not None:  # --scheduler: its connection
            executor.close()


def _load_dataset(args):
    """The data set read with --extensions / --on-error (TransferStudy takes it)."""
    from ..study import load_study_dataset

    return load_study_dataset(
        args.dataset, groups=args.groups, groups_csv=args.groups_csv,
        test_size=args.test_size, random_state=args.random_state,
        extensions=args.extensions, on_error=args.on_error,
    )


def check_outputs(
    out: str | os.PathLike,
    dataset: str | os.PathLike | None = None,
    *,
    cache: str | os.PathLike | None = None,
    write: bool = True,
    overwrite: bool = False,
) -> None:
    """Refuse outputs that cannot work, before any data is read.

    The study's own rule (:func:`skmedtl.study._out_dir.check_out_dir`, which
    :meth:`TransferStudy.run` applies too), in flags: ``--out`` must be a
    folder (or not exist yet), outside a ``--dataset`` folder, not a saved
    model's folder, and an existing ``--out`` that holds files but no study
    needs ``--overwrite``; then, unless ``write`` is False (``--dry-run``),
    ``--out`` and ``--cache`` must be writable.
    """
    from ..study._out_dir import check_out_dir

    check_out_dir(out, dataset, cache=cache, overwrite=overwrite, names=CLI_NAMES)
    if write:
        check_writable("--out", Path(out))
        if cache is not None:
            cache_path = Path(cache)
            if cache_path.is_dir():
                raise IsADirectoryError(
                    f"--cache {cache_path} is a folder; give a file path such as "
                    f"{cache_path / 'embeddings.h5'}."
                )
            check_writable("--cache", cache_path.parent, cache)


def run_study(study, *, dry_run: bool = False, report_only: bool = False) -> int:
    """Plan, run (or report) a TransferStudy and print its results; an exit code."""
    plan = study.plan()
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
    if study.curves_ is not None:  # --train-sizes
        curves = study.curves_
        print(
            f"learning curves: {len(curves.points)} cells (sizes "
            f"{','.join(map(str, curves.sizes))} of {curves.n_train} training "
            f"images, {curves.n_repeats} repeat(s)); {len(curves.skipped)} skipped"
        )
    if study.nested_ is not None:  # --cv
        print(
            f"nested cross-validation: {study.nested_.k} outer folds, "
            f"{len(study.nested_.cells)} fold cells"
        )
    for ext in study.external_sets_:  # --external
        print(f"external test set: {ext.path} ({len(ext.labels)} images)")
    if dry_run:
        from ..distributed import DaskCellExecutor  # needs no Dask to import

        if isinstance(study.executor, DaskCellExecutor):  # --scheduler
            from ..distributed._plan import describe_cluster_plan

            print(describe_cluster_plan(plan, study.executor))
            return EXIT_OK
        for c in plan:
            print(f"  [{'x' if c['done'] else ' '}] {c['cell']}")
        return EXIT_OK
    try:
        results = study.report() if report_only else study.run()
    except KeyboardInterrupt:
        left = sum(not c["done"] for c in study.plan())
        print(
            f"interrupted: {left} cell(s) left; run the same command again to "
            "finish them (finished cells are kept).",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    print_results(results)
    if results.failures:
        print(f"{len(results.failures)} cell(s) failed:", file=sys.stderr)
        for f in results.failures:
            print(f"  {f['cell']}: {f['error']}", file=sys.stderr)
        return EXIT_ERROR
    return EXIT_OK


def print_results(results) -> None:
    """The results table and the recommendation, as plain text."""
    from ..study._report_format import format_metric, format_ms, format_seconds

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
        from ..study._choices import COSTS

        best = rec["best"]
        print(
            f"\nselected on validation ({metric}): {best['config']}  validation "
            f"{best['validation_score']:.3f}; test {format_metric(best, metric)}"
        )
        disclosed = rec.get("optimism")
        if disclosed is not None:
            print(
                f"  optimism of the selection: bias-corrected estimate "
                f"{disclosed['corrected']:.3f} (validation "
                f"{disclosed['validation_score']:.3f}, optimism "
                f"{disclosed['optimism']:+.3f}, BBC)"
            )
        if best.get("sensitivity_at_threshold") is not None:
            t = best["threshold"]
            t = "; ".join(f"{v:.3f}" for v in t) if isinstance(t, list) else f"{t:.3f}"
            print(
                f"  operating point (threshold {t}, "
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
            f"cheaper non-inferior alternative (margin {rec['margin']:g}) "
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
    for name in ("model", "model-recommended"):
        if name in results.files:
            print(
                f"{name}: {results.files[name]} (use it: skmedtl predict --model "
                f"{results.files[name]} --images PATH...)"
            )
    if not results.complete and not results.failures:
        print(f"{results.n_cells - len(results.cells)} cell(s) not run yet.")
