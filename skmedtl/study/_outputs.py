"""What a study writes from its finished cells, and when it reuses it.

The outputs (statistics, selected models, saliency figure, tables, figures,
report) are a function of the finished cells' records and the report's
settings. :func:`write_results` hashes those into the outputs key; when the
log's last ``"outputs"`` record has the same key and every file it lists is
still there, unchanged (its SHA-256), the outputs are reused as they are:
a resumed study with nothing left to compute redoes none of them. The
manifest and the report's context are in :mod:`._manifest`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
from dataclasses import asdict
from pathlib import Path

from ..utils._files import atomic_write_text
from ._explanations import explanation_figure
from ._localisation import study_localisation
from ._manifest import (  # noqa: F401 - grade_names, ...: imported from here too
    LOG_NAME,
    MANIFEST_NAME,
    grade_names,
    manifest,
    package_versions,
    report_context,
    study_settings,
)
from ._measure import StudyTimes
from ._nested_summary import nested_key, record_nested
from ._per_label import per_label_paired_metric
from ._records import settings_key, to_json
from ._report import write_outputs
from ._results import StudyResults
from ._run import now
from ._save import TARGETS, write_selected
from ._stats import (
    compare_configurations,
    selection_disclosure,
    validation_difference,
)
from ._summary import recommend, summarize

#: Settings that describe the run, not the outputs (left out of their key).
_RUN_ONLY_SETTINGS = ("device",)

logger = logging.getLogger(__name__)

__all__ = [
    "LOG_NAME",
    "grade_names",
    "manifest",
    "package_versions",
    "outputs_key",
    "record_timings",
    "report_context",
    "write_results",
]


def write_results(
    study,
    out: Path,
    *,
    n_run: int,
    n_skipped: int,
    failures: list,
    refit=None,
    times: StudyTimes | None = None,
    run_id: str | None = None,
) -> StudyResults:
    """Summarise the finished cells, save the selected models, write the outputs.

    ``refit`` is passed to :func:`~._save.write_selected` (``None``: never
    train). Outputs written before from the same inputs (same key, files
    unchanged) are reused instead. ``times`` receives the stages' wall times,
    and is written to ``study.json`` with the outputs key.
    """
    times = StudyTimes() if times is None else times
    records = study._store.latest("cell")
    if not failures:
        failures = _logged_failures(study, records)
    key = outputs_key(study, records, failures)
    reused = _reused_outputs(study, out, key)
    if reused is not None:
        logger.info("Outputs unchanged since run %s: reused.", reused.pop("run_id"))
        times.outputs_reused = True
        reused["files"] = _absolute(out, reused["files"])
        _record_selection(out / MANIFEST_NAME, reused.get("recommendation"))
        record_nested(study, out, reused.get("recommendation"))
        record_timings(study, out, times, key, run_id)
        return StudyResults(
            out_dir=os.fspath(out), n_run=n_run, n_skipped=n_skipped, **reused
        )
    with times.stage("statistics_s"):
        rows, cell_rows, recommendation, comparisons = _statistics(study, out, records)
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
        with times.stage("model_save_s"):
            written = write_selected(study, out, results, records, refit=refit)
        results.files.update(written)
    if rows:
        _write_report(study, out, results, records, times)
    _remember_outputs(study, out, key, results, run_id)
    record_timings(study, out, times, key, run_id)
    return results


def _statistics(study, out: Path, records: dict) -> tuple:
    """The tables, the selection (recorded in ``study.json``) and the comparisons.

    Returns
    -------
    rows, cell_rows : list of dict
        Per configuration and per cell.
    recommendation : dict or None
    comparisons : list of dict
        Of the selected configuration with every other one.
    """
    n_bootstraps = study.profile_.n_bootstraps
    rows, cell_rows, groups = summarize(
        study.cells_, records, n_bootstraps, metric=study.metric, task=study.task
    )
    label_metric = per_label_paired_metric(study.metric)
    recommendation = recommend(
        rows,
        study.metric,
        study.cost,
        difference=lambda other, selected: validation_difference(
            groups,
            other,
            selected,
            study.metric,
            n_bootstraps,
            label_metric=label_metric,
        ),
        margin=study.margin,
    )
    comparisons = []
    if recommendation is not None:
        recommendation["optimism"] = _disclosure(groups, rows, recommendation)
        _record_selection(out / MANIFEST_NAME, recommendation)
        comparisons = compare_configurations(
            groups,
            recommendation["best"]["config"],
            study.metric,
            n_bootstraps,
            label_metric=label_metric,
        )
    return rows, cell_rows, recommendation, comparisons


def _write_report(
    study, out: Path, results: StudyResults, records: dict, times: StudyTimes
) -> None:
    """The saliency figure, localisation, extra blocks, tables, figures, report."""
    finished = [records[c.key] for c in study.cells_ if c.key in records]
    context = study._report_context()
    with times.stage("saliency_s"):
        context["extra_figures"] = _explanations(study, out, results, records)
    if study.annotations is not None and results.recommendation is not None:
        with times.stage("localisation_s"):
            context["localisation"] = study_localisation(
                study, out, results, records, study.profile_.n_bootstraps
            )
    context["extra_blocks"] = _extra_blocks(study, out, results, records)
    context["timings"] = times
    with times.stage("report_s"):
        results.files.update(write_outputs(out, results, finished, context))


def _disclosure(groups: dict, rows: list[dict], rec: dict) -> dict | None:
    """The selection's optimism (BBC), configurations in the tie-break order."""
    column = rec["cost_column"]
    order = sorted(
        (r for r in rows if r["config"] in groups),
        key=lambda r: math.inf if r.get(column) is None else r[column],
    )
    return selection_disclosure(groups, [r["config"] for r in order], rec["metric"])


def _record_selection(path: Path, rec: dict | None) -> None:
    """Add the selection, its disclosed optimism and the alternative to study.json."""
    if rec is None or not path.exists():
        return
    written = json.loads(path.read_text(encoding="utf-8"))
    written["selection"] = {
        "selected": rec["best"]["config"],
        "metric": rec["metric"],
        "validation_score": rec["best"]["validation_score"],
        "optimism": rec.get("optimism"),
        "margin": rec["margin"],
        "cheaper_alternative": None
        if rec["cheapest"] is rec["best"]
        else rec["cheapest"]["config"],
        "validation_differences": rec["differences"],
    }
    atomic_write_text(path, to_json(written, indent=2))


def outputs_key(study, records: dict, failures: list) -> str:
    """The hash of everything the outputs are computed from.

    The finished records of the planned cells (in plan order), the failures,
    the data set, the settings (but the device of this run), the models to
    save and the package versions.
    """
    settings = {
        k: v for k, v in study_settings(study).items() if k not in _RUN_ONLY_SETTINGS
    }
    return settings_key(
        {
            "records": [records.get(c.key) for c in study.cells_],
            "failures": failures,
            "dataset": study.data_.summary(),
            "fingerprint": study.fingerprint_,
            "settings": settings,
            "pos_label": str(study.data_.pos_label),
            "save": list(study.save_),
            "packages": package_versions(),
            **_annotations_key(study.annotations),
            **nested_key(study),
        }
    )


def _annotations_key(annotations) -> dict:
    """The annotations' path and content (SHA-256); {} without them."""
    if annotations is None:
        return {}
    path = Path(annotations)
    return {"annotations": [os.fspath(path), _digest(path)]}


def _digest(path: Path) -> str | None:
    """SHA-256 of a file, or of every file under a folder (None: missing)."""
    h = hashlib.sha256()
    if path.is_file():
        files = [path]
    elif path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file())
        if not files:
            return None
    else:
        return None
    for file in files:
        h.update(file.relative_to(path).as_posix().encode() if file != path else b"")
        with open(file, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def _relative(out: Path, files: dict) -> dict:
    return {
        name: Path(os.path.relpath(path, out)).as_posix()
        for name, path in files.items()
        if name != "log"
    }


def _absolute(out: Path, files: dict) -> dict:
    return {
        "log": os.fspath(out / LOG_NAME),
        **{name: os.fspath(out / rel) for name, rel in files.items()},
    }


def _remember_outputs(
    study, out: Path, key: str, results: StudyResults, run_id: str | None
) -> None:
    """Log the outputs just written (key, summary, file digests) for reuse."""
    files = _relative(out, results.files)
    study._store.append(
        {
            "type": "outputs",
            "key": key,
            "run_id": run_id,
            "results": {
                "table": results.table,
                "cells": results.cells,
                "recommendation": results.recommendation,
                "n_cells": results.n_cells,
                "failures": results.failures,
                "comparisons": results.comparisons,
                "files": files,
            },
            "digests": {rel: _digest(out / rel) for rel in files.values()},
        }
    )


def _reused_outputs(study, out: Path, key: str) -> dict | None:
    """The logged outputs of ``key`` when every one of their files is unchanged."""
    logged = [r for r in study._store.read() if r.get("type") == "outputs"]
    if not logged or logged[-1]["key"] != key:
        return None  # the last outputs written are not of these inputs
    record = logged[-1]
    files = record["results"]["files"]
    if record["results"]["recommendation"] is not None and any(
        TARGETS[choice] not in files for choice in study.save_
    ):
        return None  # a selected model was not written then (report() without it)
    for rel, digest in record["digests"].items():
        if digest is None or _digest(out / rel) != digest:
            logger.info("%s changed since it was written: outputs written again.", rel)
            return None
    return {**record["results"], "run_id": record["run_id"]}


def record_timings(
    study, out: Path, times: StudyTimes, key: str, run_id: str | None
) -> None:
    """This run's :class:`StudyTimes`: to ``study.json`` (with the outputs key)
    and, so that every run's stay on record, to the log."""
    study._store.append(
        {
            "type": "timings",
            "key": run_id or "report",
            "run_id": run_id,
            "time": now(),
            "timings": asdict(times),
        }
    )
    path = out / "study.json"
    if not path.is_file():
        return
    written = json.loads(path.read_text(encoding="utf-8"))
    written["timings"] = asdict(times)
    written["outputs_key"] = key
    atomic_write_text(path, to_json(written, indent=2))


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
    if getattr(study, "nested_", None) is not None:
        from ._nested_report import nested_section

        summary = record_nested(study, out, results.recommendation)
        blocks += nested_section(summary.to_dict())
    if getattr(study, "external_results_", None):
        from ._external_report import external_section

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


def _explanations(study, out: Path, results: StudyResults, records: dict) -> dict:
    model_dir = results.files.get("model")
    if model_dir is None or study.data_.task.per_label:
        return {}
    return explanation_figure(model_dir, study.data_, out, records)
