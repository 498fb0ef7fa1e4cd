"""What a study writes besides the log: its manifest and the report's context.

The manifest (``study.json``) records the run, the data set, the package
versions and every setting; the report context is what the report blocks
read (the settings as run, the data set's summary, the operating point).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ._explanations import explanation_figure
from ._measure import describe_device
from ._multilabel import multilabel_paired_metric
from ._report import write_outputs
from ._results import StudyResults
from ._run import now
from ._save import write_selected
from ._stats import compare_configurations
from ._summary import recommend, summarize

#: The study's log, in ``out_dir``.
LOG_NAME = "results.jsonl"

__all__ = [
    "LOG_NAME",
    "grade_names",
    "manifest",
    "package_versions",
    "report_context",
    "write_results",
]


def manifest(study, run_id: str) -> dict:
    """The manifest of a prepared :class:`~skmedtl.study.TransferStudy`'s run."""
    from .. import __version__

    p = study.profile_
    return {
        "skmedtl": __version__,
        "run_id": run_id,
        "updated": now(),
        "dataset": study.data_.summary(),
        "dataset_fingerprint": study.fingerprint_,
        "packages": package_versions(),
        "profile": p.name,
        "settings": _settings(study),
        "cells": [{"cell": c.id, "key": c.key} for c in study.cells_],
    }


def _settings(study) -> dict:
    p = study.profile_
    return {
        "profile": p.name,
        "profile_description": p.description,
        "backbones": list(p.backbones),
        "approaches": [a.name for a in study.approaches_],
        "seeds": study.seeds_,
        "weights": None if study.weights is None else os.fspath(study.weights),
        "metric": study.metric,
        "cost": study.cost,
        "input_size": p.input_size,
        "train_input_size": p.train_input_size,
        "max_epochs": p.max_epochs,
        "patience": p.patience,
        "head_max_epochs": p.head_max_epochs,
        "lrs": list(p.lrs),
        "n_bootstraps": p.n_bootstraps,
        "cv_folds": p.cv_folds,
        "head_grid": p.head_grid,
        "batch_size": int(study.batch_size),
        "device": describe_device(study.device_),
        "validation": study.validation_source_,
        "n_validation": int(study.val_mask_.sum()),
        "calibrate": study.calibrate,
        "operating_point": study.threshold_rule_,
        "operating_point_target": study.threshold_target_,
        "task": study.task,
        "grades": grade_names(study.data_),
        "groups": study.groups,
        **_curve_and_external_settings(study),
    }


def _curve_and_external_settings(study) -> dict:
    curves = getattr(study, "curves_", None)
    return {
        "train_sizes": None if curves is None else [str(x) for x in curves.sizes],
        "train_repeats": None if curves is None else curves.n_repeats,
        "external": [e.path for e in getattr(study, "external_sets_", None) or []],
    }


def report_context(study, manifest_path: Path) -> dict:
    """What the report's blocks read, from a prepared study and its manifest."""
    written = {}
    if manifest_path.exists():
        written = json.loads(manifest_path.read_text(encoding="utf-8"))
    return {
        "dataset": study.data_.summary(),
        "profile": study.profile_,
        "settings": written.get("settings", {}),
        "metric": study.metric,
        "cost": study.cost,
        "approaches": study.approaches_,
        "n_test": study.data_.n_images("test"),
        "n_validation": int(study.val_mask_.sum()),
        "validation": study.validation_source_,
        "calibrate": study.calibrate,
        "operating_point": (study.threshold_rule_, study.threshold_target_),
        "task": study.task,
        "grades": grade_names(study.data_),
        "manifest": written,
        "images": study.data_.images,
        "external": [
            r.summary() for r in getattr(study, "external_results_", None) or []
        ],
    }


def grade_names(data) -> list[str] | None:
    """Names of an ordinal study's grades, lowest first (``None``: unordered)."""
    if data.grades is None:
        return None
    return [data.class_name(g) for g in data.grades]


def package_versions() -> dict:
    """Versions of Python and the packages a study's results depend on."""
    import platform
    from importlib import metadata

    versions = {"python": platform.python_version()}
    for name in (
        "skmedtl",
        "numpy",
        "scipy",
        "scikit-learn",
        "torch",
        "torchvision",
        "timm",
        "onnxruntime",
        "xgboost",
        "h5py",
    ):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    from .. import __version__

    versions["skmedtl"] = __version__  # the code running, installed or not
    return versions


def write_results(
    study, out: Path, *, n_run: int, n_skipped: int, failures: list, refit=None
) -> StudyResults:
    """Summarise the finished cells, save the selected models, write the outputs.

    ``refit`` is passed to :func:`~._save.write_selected` (``None``: never train).
    """
    records = study._store.latest("cell")
    if not failures:
        failures = _logged_failures(study, records)
    rows, cell_rows, groups = summarize(
        study.cells_,
        records,
        study.profile_.n_bootstraps,
        metric=study.metric,
        task=study.task,
    )
    recommendation = recommend(rows, study.metric, study.cost)
    comparisons = []
    if recommendation is not None:
        comparisons = compare_configurations(
            groups,
            recommendation["best"]["config"],
            study.metric,
            study.profile_.n_bootstraps,
            multilabel_metric=multilabel_paired_metric(study.metric),
        )
    results = StudyResults(
        out_dir=os.fspath(out),
        table=rows,
        cells=cell_rows,
        recommendation=recommendation,
        files={"log": os.fspath(out / LOG_NAME)},
        n_cells=len(study.cells_),
        n_run=n_run,
        n_skipped=n_skipped,
        failures=failures,
        comparisons=comparisons,
    )
    if getattr(study, "external_sets_", None):  # before the model card is written
        from ._external import score_external

        study.external_results_ = score_external(study, out, results, records)
    if study.save_:
        results.files.update(write_selected(study, out, results, records, refit=refit))
    if rows:
        finished = [records[c.key] for c in study.cells_ if c.key in records]
        context = study._report_context()
        context["extra_figures"] = _explanations(study, out, results)
        context["extra_blocks"] = _extra_blocks(study, out, results, records)
        results.files.update(write_outputs(out, results, finished, context))
    return results


def _extra_blocks(study, out: Path, results: StudyResults, records: dict) -> list:
    """Report blocks of the learning curves and the external sets (if any)."""
    blocks: list = []
    plan = getattr(study, "curves_", None)
    if plan is not None:
        from ._curves_report import curve_section

        curves = study._store.latest("curve")
        keys = {p.cell.key for p in plan.points}
        failed = [
            {"cell": r["cell"], "error": r["error"]}
            for k, r in study._store.latest("failure").items()
            if k in keys and k not in curves and k not in records
        ]
        section, files = curve_section(plan, records, curves, out, study.metric, failed)
        blocks += section
        results.files.update(files)
    if getattr(study, "external_results_", None):
        from ._external import external_section

        blocks += external_section(
            study.external_results_, results.recommendation["best"]["config"]
        )
    return blocks


def _logged_failures(study, records: dict) -> list[dict]:
    """Failures in the log of planned cells that have no result since."""
    planned = {c.key for c in study.cells_}
    return [
        {"cell": r["cell"], "error": r["error"]}
        for k, r in study._store.latest("failure").items()
        if k not in records and k in planned
    ]


def _explanations(study, out: Path, results: StudyResults) -> dict:
    model_dir = results.files.get("model")
    if model_dir is None or study.data_.labels.ndim == 2:
        return {}
    return explanation_figure(model_dir, study.data_, out)
