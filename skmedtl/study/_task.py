"""What differs between the study's tasks, decided once, asked in one place.

A study is binary, multi-class, ordinal (classes with a grade order) or
multi-label (a 0/1 matrix, one column per finding). :class:`Task` is decided
once, from the labels (:meth:`Task.of_labels`) or from what a finished study
left behind (cell records, dataset summary, model card, saved model), and the
rest of the study asks it instead of testing label shapes or record fields
itself. The word for the multi-label task, and the multi-label helpers of the
lower layers (metrics, fine-tuning), are named here only; the study's
per-label mechanics live in :mod:`skmedtl.study._per_label`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "MULTILABEL",
    "PredictionColumns",
    "Task",
    "label_report",
    "label_summary",
    "label_validation_metrics",
    "prediction_columns",
    "task_of_records",
]

#: The ``task`` field of a multi-label cell record, dataset summary and card.
MULTILABEL = "multilabel"


@dataclass(frozen=True)
class Task:
    """The study's task: binary, multi-class, ordinal or multi-label.

    Parameters
    ----------
    kind : str
        One of :attr:`KINDS`.
    grades : tuple, optional
        The grade order of an ordinal task (class names, lowest first).
    """

    kind: str
    grades: tuple = ()

    KINDS = ("binary", "multiclass", "ordinal", MULTILABEL)

    def __post_init__(self):
        if self.kind not in self.KINDS:
            raise ValueError(f"task must be one of {self.KINDS}; got {self.kind!r}.")

    @property
    def per_label(self) -> bool:
        """Whether each image has a 0/1 answer per label (sigmoid heads, one
        threshold and one calibrator per label, per-label statistics)."""
        return self.kind == MULTILABEL

    @property
    def field(self) -> str | None:
        """The ``task`` field written into records, summaries and cards."""
        return MULTILABEL if self.per_label else None

    @classmethod
    def of_labels(cls, labels, grades=None) -> Task:
        """The task of a label vector (one class per image) or 0/1 matrix."""
        labels = np.asarray(labels)
        if labels.ndim == 2:
            return cls(MULTILABEL)
        if grades:
            return cls("ordinal", tuple(grades))
        return cls("binary" if len(np.unique(labels)) <= 2 else "multiclass")

    @classmethod
    def of_mapping(cls, mapping) -> Task:
        """The task named by the ``task`` field of a record, summary or card.

        Only the multi-label task is named there; anything else is read as a
        one-class-per-image task (reported as multi-class: the records do not
        say more).
        """
        per_label = bool(mapping) and mapping.get("task") == MULTILABEL
        return cls(MULTILABEL if per_label else "multiclass")

    @classmethod
    def of_records(cls, records: list[dict]) -> Task:
        """The task of a study's cell records (the first one decides)."""
        return cls.of_mapping(records[0] if records else None)

    @classmethod
    def of_classes(cls, classes) -> Task:
        """The task of a fitted estimator's ``classes_`` (scikit-learn's
        multi-label form is a list of arrays)."""
        if isinstance(classes, list) and all(np.ndim(c) == 1 for c in classes):
            return cls(MULTILABEL)
        n = 0 if classes is None else np.size(classes)
        return cls("binary" if n == 2 else "multiclass")

    @classmethod
    def of_model(cls, model) -> Task:
        """The task of a fitted :class:`~skmedtl.study.StudyModel` (its
        ``classes_``)."""
        return cls.of_classes(getattr(model, "classes_", None))

    def head_options(self) -> dict:
        """Keyword arguments of :func:`skmedtl.hybrid.head_pipeline` for this task."""
        return {"multilabel": True} if self.per_label else {}

    @property
    def head_prefix(self) -> str:
        """Where the head's own parameters sit in its pipeline (multi-label: in
        the one-head-per-label wrapper of step ``clf``)."""
        return "clf__estimator__" if self.per_label else "clf__"

    def finetune_options(self) -> dict:
        """Keyword arguments of :class:`~skmedtl.finetune.FineTuneClassifier`
        for this task (multi-label: per-label thresholds by Youden's J)."""
        return {"threshold": "youden"} if self.per_label else {}

    def set_tags(self, tags):
        """Mark scikit-learn estimator tags with this task; returns ``tags``."""
        if self.per_label:
            tags.input_tags.two_d_array = False
            tags.target_tags.multi_output = True
            if tags.classifier_tags is not None:
                tags.classifier_tags.multi_label = True
        return tags


def task_of_records(records: list[dict]) -> str:
    """The task of a study's cell records: ``"multilabel"`` or ``"single"``."""
    return MULTILABEL if Task.of_records(records).per_label else "single"


def label_report(*args, **kwargs):
    """The per-label test report of :mod:`skmedtl.metrics` (see there)."""
    from ..metrics import multilabel_report

    return multilabel_report(*args, **kwargs)


def label_validation_metrics(*args, **kwargs):
    """The per-label validation metrics of fine-tuning (see
    :mod:`skmedtl.finetune`)."""
    from ..finetune._multilabel import multilabel_validation_metrics

    return multilabel_validation_metrics(*args, **kwargs)


def label_summary():
    """``(SUMMARY, summary_and_per_label)`` of the per-label metrics module."""
    from ..metrics._multilabel import SUMMARY, _summary_and_per_label

    return SUMMARY, _summary_and_per_label


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
    kind = _MultiLabelColumns if Task.of_records(records).per_label else None
    return (kind or PredictionColumns)(records[0]["classes"], calibrated)
