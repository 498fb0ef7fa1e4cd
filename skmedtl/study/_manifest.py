"""A study's manifest (``study.json``) and the context its report reads.

The manifest records the run, the data set, the package versions and every
setting; the report context is what the report blocks read (the settings as
run, the data set's summary, the operating point).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ._measure import describe_device
from ._run import now

__all__ = [
    "LOG_NAME",
    "MANIFEST_NAME",
    "grade_names",
    "manifest",
    "package_versions",
    "report_context",
    "study_settings",
]

#: The study's log, in ``out_dir``.
LOG_NAME = "results.jsonl"
#: The study's manifest, in ``out_dir``.
MANIFEST_NAME = "study.json"


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
        "settings": study_settings(study),
        "cells": [{"cell": c.id, "key": c.key} for c in study.cells_],
    }


def study_settings(study) -> dict:
    """Every setting of a prepared study, as run (the manifest's ``settings``)."""
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
        "margin": study.margin,
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
        **_nested_settings(getattr(study, "nested_", None)),
    }


def _nested_settings(plan) -> dict:
    """The outer folds as run (``None`` without nested cross-validation)."""
    return {
        "outer_folds": None if plan is None else plan.k,
        "outer_grouped": None if plan is None else plan.grouped,
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
