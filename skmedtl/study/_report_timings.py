"""The report's "where the time went" table: the study's profiler, by stage.

The cells' stages come from their records (the run that computed each cell);
the study's own stages are this run's, up to the report.
"""

from __future__ import annotations

from ._measure import CellTimes, StudyTimes
from ._report_format import format_seconds

__all__ = ["timings_blocks"]

#: The cells' stages: (label, field of CellTimes, where the time is counted).
_CELL_STAGES = (
    ("frozen embeddings", "extraction_s", "once per backbone, shared"),
    ("head tuning (inner CV on training)", "head_tuning_s", "hybrids"),
    ("training epochs", "training_s", "every learning rate tried"),
    ("prediction (validation + test)", "prediction_s", ""),
    ("test metrics (bootstrap CIs)", "evaluation_s", ""),
    ("calibration, operating point", "calibration_s", "validation statistics"),
)
#: The study's own stages: (label, field of StudyTimes).
_STUDY_STAGES = (
    ("reading the data, planning", "preparation_s"),
    ("saving each cell's model", "cell_save_s"),
    ("pooled statistics, comparisons", "statistics_s"),
    ("saving the selected models", "model_save_s"),
    ("saliency figure", "saliency_s"),
    ("localisation table (annotations)", "localisation_s"),
)


def _cell_rows(cells: list[CellTimes]) -> list[list[str]]:
    body = []
    for label, name, note in _CELL_STAGES:
        values = [getattr(c, name) for c in cells if getattr(c, name) is not None]
        if not values:
            continue
        if name == "head_tuning_s":
            fits = sum(c.head_fit_s or 0.0 for c in cells)
            note += f"; then the selected candidates' refits: {fits:.1f} s"
        if name == "training_s":
            known = [c.cached_trunk for c in cells if c.cached_trunk is not None]
            note += f"; cached frozen trunk in {sum(known)} of {len(values)} cells"
        body.append([label, format_seconds(sum(values)), str(len(values)), note])
    return body


def _study_rows(times: StudyTimes | None) -> list[list[str]]:
    if times is None:
        return []
    values = ((label, getattr(times, name)) for label, name in _STUDY_STAGES)
    return [
        [label, format_seconds(v), "–", "this run"]
        for label, v in values
        if v is not None
    ]


def timings_blocks(records: list[dict], times: StudyTimes | None) -> list:
    """The "where the time went" table: the cells' stages and this run's others.

    The cells' figures come from their records (the run that computed each
    cell); the study's stages are this run's, up to the report (whose own
    rendering time is in ``study.json``).
    """
    cells = [CellTimes.from_dict(r["timings"]) for r in records if r.get("timings")]
    if not cells and times is None:
        return []
    body = _cell_rows(cells) + _study_rows(times)
    if not body:
        return []
    return [
        ("h2", "Where the time went"),
        (
            "p",
            "Wall time by stage (the study's profiler): the cells' stages summed "
            f"over the {len(cells)} profiled cells, as measured by the run that "
            "computed each; the study's stages as measured by the run that wrote "
            "this report (the report's own rendering: `study.json`, `timings`).",
        ),
        ("table", ["stage", "seconds", "cells", "note"], body),
    ]
