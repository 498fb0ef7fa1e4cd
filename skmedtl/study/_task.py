"""What differs between the study's tasks, asked in one place.

A study is binary, multi-class, ordinal (classes with a grade order) or
multi-label (a 0/1 matrix, one column per finding). This module answers the
questions whose answer depends on the task; the rest of the study asks here
instead of testing label shapes or record fields itself. (Issue #27 grows it
into the study's ``Task`` object: label encoding, heads, scoring, statistics,
the model wrapper and the model card's wording.)
"""

from __future__ import annotations

__all__ = ["MULTILABEL", "PredictionColumns", "prediction_columns", "task_of_records"]

#: The ``task`` field of a multi-label cell record.
MULTILABEL = "multilabel"


def task_of_records(records: list[dict]) -> str:
    """The task of a study's cell records: ``"multilabel"`` or ``"single"``."""
    return MULTILABEL if records and records[0].get("task") == MULTILABEL else "single"


class PredictionColumns:
    """The task-specific columns of ``predictions.csv`` (one class per image).

    ``true_label`` / ``predicted_label`` are class names; ``p_<class>`` the
    model's probabilities, then ``p_calibrated_<class>`` with recalibration.
    """

    def __init__(self, classes: list, calibrated: bool):
        self.classes = classes
        self.calibrated = calibrated

    def header(self) -> list[str]:
        columns = [f"p_{c}" for c in self.classes]
        if self.calibrated:
            columns += [f"p_calibrated_{c}" for c in self.classes]
        return columns

    def labels(self, record: dict, i: int) -> list[str]:
        """``true_label`` and ``predicted_label`` of test row ``i``."""
        return [
            self.classes[record["y_true"][i]],
            self.classes[record["y_pred"][i]],
        ]

    def probabilities(self, record: dict, i: int) -> list[str]:
        return [repr(float(v)) for v in record["test_proba"][i]]

    def cells(self, record: dict, i: int) -> list[str]:
        """Every task-specific cell of test row ``i`` after the fixed columns."""
        cells = self.probabilities(record, i)
        if self.calibrated:
            cal = record.get("test_proba_calibrated")
            n = len(self.classes)
            cells += [""] * n if not cal else [repr(float(v)) for v in cal[i]]
        return cells


class _MultiLabelColumns(PredictionColumns):
    """Multi-label: present labels ``;``-joined, then per-label thresholds."""

    def header(self) -> list[str]:
        columns = [f"p_{c}" for c in self.classes]
        columns += [f"threshold_{c}" for c in self.classes]
        if self.calibrated:
            columns += [f"p_calibrated_{c}" for c in self.classes]
        return columns

    def labels(self, record: dict, i: int) -> list[str]:
        return [
            ";".join(c for c, v in zip(self.classes, row[i], strict=True) if v)
            for row in (record["y_true"], record["y_pred"])
        ]

    def probabilities(self, record: dict, i: int) -> list[str]:
        scores = [repr(float(v)) for v in record["y_score"][i]]
        return scores + [repr(float(t)) for t in record["thresholds"]]


def prediction_columns(records: list[dict]) -> PredictionColumns:
    """The ``predictions.csv`` columns of a study's (non-empty) records."""
    calibrated = any(r.get("test_proba_calibrated") is not None for r in records)
    kind = _MultiLabelColumns if task_of_records(records) == MULTILABEL else None
    return (kind or PredictionColumns)(records[0]["classes"], calibrated)
