"""External test sets of a study: loaded with its loader, scored once after selection.

Each ``external`` path is read with :func:`~._data.load_study_dataset` (every
image is used, whatever its split) and must hold the study's classes. After
the selection, the selected cell's saved model (the very model scored on the
internal test set) predicts each set once;
:func:`~skmedtl.metrics.external_validation` gives its metrics, the drop from
the internal test set and calibration before / after the validation-fitted
calibrator, and :func:`~skmedtl.metrics.distribution_shift` the distance
between the internal and external frozen embeddings and intensities.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["ExternalResult", "ExternalSet", "load_external_sets", "score_external"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExternalSet:
    """One external test set: its path, images and labels in the study's labels."""

    path: str
    images: object
    labels: np.ndarray
    source: str


@dataclass(frozen=True)
class ExternalResult:
    """The selected model on one external set.

    Attributes
    ----------
    path : str
    n_images : int
    validation : ExternalValidation
        Metrics, drop with CIs, calibration before / after.
    operating_point : ExternalValidation or None
        Sensitivity and specificity at the validation-chosen threshold, when
        it was chosen on calibrated probabilities (else in ``validation``).
    shift : ShiftDiagnostic or None
    threshold : float or None
    note : str
    """

    path: str
    n_images: int
    validation: object
    operating_point: object
    shift: object
    threshold: float | None
    note: str = ""

    def metrics(self) -> list:
        """Each metric's :class:`~skmedtl.metrics.MetricShift`; sensitivity and
        specificity at the validation-chosen operating point."""
        metrics = list(self.validation.metrics)
        if self.operating_point is not None:  # threshold on calibrated scores
            at_op = {m.metric: m for m in self.operating_point.metrics}
            metrics = [
                at_op[m.metric] if m.metric in ("sensitivity", "specificity") else m
                for m in metrics
            ]
        return metrics

    def summary(self) -> dict:
        """JSON-serialisable result (for the model card)."""
        out = {"path": self.path, "n_images": self.n_images}
        for m in self.metrics():
            out[m.metric] = {
                "internal": [m.internal.estimate, m.internal.low, m.internal.high],
                "external": [m.external.estimate, m.external.low, m.external.high],
                "difference": [
                    m.difference.estimate,
                    m.difference.low,
                    m.difference.high,
                ],
            }
        if self.shift is not None:
            out["shift"] = {"mmd2": self.shift.mmd2, "p_value": self.shift.p_value}
            if self.shift.intensity_smd is not None:
                out["shift"]["intensity_smd"] = self.shift.intensity_smd
        return out


def _paths(external) -> list:
    if external is None:
        return []
    if isinstance(external, (str, os.PathLike)):
        return [external]
    return list(external)


def load_external_sets(external, data, save=("best",)) -> list[ExternalSet]:
    """Read every external set; an error naming the path when it cannot be used."""
    from ._data import load_study_dataset

    paths = _paths(external)
    if not paths:
        return []
    if data.task.per_label:
        raise ValueError(
            "external (--external): external test sets of multi-label studies are "
            "not supported yet; leave external out."
        )
    if not save:
        raise ValueError(
            "external (--external) is scored by the selected, saved model; use "
            "save='best' (--save best), not 'none'."
        )
    classes = np.unique(data.labels)
    label_of = dict(zip(data.class_names, classes.tolist(), strict=True))
    sets = []
    for path in paths:
        if not isinstance(path, (str, os.PathLike)) or not Path(path).exists():
            raise ValueError(
                f"external (--external): {path!r} does not exist; give a folder "
                "(one subfolder per class) or a CSV file with the study's classes."
            )
        try:
            ext = load_study_dataset(path)
        except (ValueError, TypeError, OSError) as e:
            raise ValueError(
                f"external (--external) {os.fspath(path)!r} cannot be read as a "
                f"data set: {e}"
            ) from e
        names = list(ext.class_names)
        if sorted(names) != sorted(data.class_names):
            raise ValueError(
                f"external (--external) {os.fspath(path)!r} has classes {names}; "
                f"the study's are {list(data.class_names)}. An external test set "
                "needs the same classes (the same subfolder names or labels)."
            )
        ext_classes = np.unique(ext.labels).tolist()
        name_of = dict(zip(ext_classes, names, strict=True))
        labels = np.array([label_of[name_of[v]] for v in ext.labels.tolist()])
        sets.append(
            ExternalSet(os.fspath(path), ext.images, labels, ext.source or str(path))
        )
    return sets


def _selected_cell(study, results, records: dict):
    from ._save import _pick_cell

    rec = results.recommendation
    if rec is None:
        return None
    return _pick_cell(rec["best"], study.cells_, records)


def _selected_model(study, out: Path, results, records: dict):
    """The selected cell and its saved model; ``None`` when there is none."""
    from ..persistence import load
    from ._save import MODELS_DIR, saved_cell_key

    cell = _selected_cell(study, results, records)
    if cell is None:
        return None
    source = out / MODELS_DIR / cell.key
    if saved_cell_key(source) != cell.key:
        logger.warning(
            "External sets not scored: the selected cell %s has no saved model "
            "(run the study again to fit it).",
            cell.id,
        )
        return None
    return cell, load(source)


@dataclass(frozen=True)
class _Internal:
    """The selected cell's internal test predictions and operating point."""

    order: list
    y: np.ndarray
    proba: np.ndarray
    proba_calibrated: object
    threshold: float | None
    on_calibrated: bool
    n_resamples: int

    @classmethod
    def of(cls, record: dict, order: list, n_resamples: int) -> _Internal:
        op = record.get("operating_point") or {}
        binary = len(order) == 2
        return cls(
            order=list(order),
            y=np.asarray(record["y_true"]),
            proba=np.asarray(record["y_score"], float),
            proba_calibrated=record.get("test_proba_calibrated"),
            threshold=op.get("threshold") if binary else None,
            on_calibrated=op.get("on") == "calibrated",
            n_resamples=n_resamples,
        )


def _proba(model, images, order: list, calibrated: bool) -> np.ndarray:
    """The model's probabilities of ``images``, columns in the study's order."""
    p = np.asarray(model.predict_proba(images, calibrated=calibrated), float)
    return p[:, [list(model.classes_).index(c) for c in order]]


def _validate_set(model, internal: _Internal, ext: ExternalSet):
    """External validation of one set; at the calibrated operating point if any."""
    from ..metrics import external_validation

    index = {c: i for i, c in enumerate(internal.order)}
    y_ext = np.array([index[v] for v in ext.labels.tolist()])
    binary = len(internal.order) == 2
    raw = _proba(model, ext.images, internal.order, calibrated=False)
    threshold = internal.threshold
    validation = external_validation(
        internal.y,
        internal.proba,
        y_ext,
        raw[:, 1] if binary else raw,
        # On calibrated scores the operating point is scored below.
        threshold=(0.5 if internal.on_calibrated else threshold) if binary else None,
        labels=list(range(len(internal.order))),
        calibrator=getattr(model, "calibrator", None),
        n_resamples=internal.n_resamples,
    )
    at_op = None
    calibrated = internal.proba_calibrated
    if internal.on_calibrated and threshold is not None and calibrated is not None:
        cal = _proba(model, ext.images, internal.order, calibrated=True)
        at_op = external_validation(
            internal.y,
            np.asarray(calibrated, float)[:, 1],
            y_ext,
            cal[:, 1],
            threshold=threshold,
            labels=[0, 1],
            n_resamples=internal.n_resamples,
        )
    return len(y_ext), validation, at_op


def score_external(study, out: Path, results, records: dict) -> list[ExternalResult]:
    """Score every external set with the selected cell's saved model, once."""
    sets = study.external_sets_
    selected = _selected_model(study, out, results, records) if sets else None
    if selected is None:
        return []
    cell, model = selected
    data = study.data_
    internal = _Internal.of(
        records[cell.key], data.label_order(), study.profile_.n_bootstraps
    )
    test_images = data.take(data.indices("test"))
    results_out = []
    for ext in sets:
        n, validation, at_op = _validate_set(model, internal, ext)
        shift, note = _shift(study, cell, test_images, ext)
        results_out.append(
            ExternalResult(
                ext.path, n, validation, at_op, shift, internal.threshold, note
            )
        )
    return results_out


def _shift(study, cell, internal_images, ext):
    """MMD between frozen embeddings of the selected backbone, and intensities."""
    from ..features import CNNFeatures
    from ..metrics import distribution_shift

    try:
        features = CNNFeatures(
            cell.backbone,
            weights=study.weights,
            input_size=study.profile_.input_size,
            batch_size=int(study.batch_size),
            device=study.device,
            verbose=0,
            random_state=cell.seed,
            cache_path=os.fspath(
                study.cache_path or Path(study.out_dir) / "embeddings.h5"
            ),
        )
        features.fit(internal_images[:1])
        e_int = features.transform(internal_images)
        e_ext = features.transform(ext.images)
        return (
            distribution_shift(
                e_int, e_ext, _arrays(internal_images), _arrays(ext.images)
            ),
            "",
        )
    except Exception as e:  # noqa: BLE001 - the diagnostic is optional
        logger.warning("Shift diagnostic of %s failed: %s", ext.path, e)
        return None, f"shift diagnostic failed: {e}"


def _arrays(images):
    """Images as arrays (paths are read as the model reads them)."""
    if isinstance(images, np.ndarray):
        return images
    from ..io import read_image

    return [
        read_image(x) if isinstance(x, (str, os.PathLike)) else np.asarray(x)
        for x in images
    ]
