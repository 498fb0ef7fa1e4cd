"""Saving the models a study selected: ``out_dir/model/`` and a model card.

Every finished cell's fitted model is saved as the study runs, in the safe
format (:func:`skmedtl.save`), to ``out_dir/models/<cell key>/``: the model
that just predicted the test set, with the recalibration and operating point
chosen on validation. Keeping every fitted model in memory until the
selection would hold a whole grid of networks; keeping only the best so far
cannot serve the cheaper recommendation (chosen by cost among the
configurations near the best) nor a selection that changes when a resumed run
adds cells. So each cell goes to disk once, and only the selected cells are
loaded back and written, with their model card, to ``out_dir/model/`` (and
``out_dir/model-recommended/``). The cost is disk: one saved model per cell,
the frozen backbone included for hybrid cells (``--save none`` saves nothing).
Nothing there is deleted automatically (a later run over a larger grid may
select any of them); ``out_dir/models/`` can be deleted by hand at any time:
a selected cell without its model is then fitted again once by ``run()``.

The cell key decides: ``out_dir/model/`` saved for the same cell key is left
as it is by a resumed or report-only run. A selected cell whose model was
never saved (it finished in a run with ``save="none"``) is fitted again once
by :meth:`TransferStudy.run` (its test probabilities compared with the
recorded ones, in the card); :meth:`TransferStudy.report` never trains.
"""

from __future__ import annotations

import copy
import json
import logging
import os
from pathlib import Path

import numpy as np

from ..utils._naming import did_you_mean
from ._model_card import MULTILABEL_THRESHOLD_RULE, model_card, model_card_markdown
from ._task import MULTILABEL, Task

__all__ = [
    "MODELS_DIR",
    "SAVE_CHOICES",
    "TARGETS",
    "cell_model",
    "describe_inputs",
    "parse_save",
    "save_cell_model",
    "saved_cell_key",
    "write_selected",
]

logger = logging.getLogger(__name__)

#: Per-cell saved models, ``out_dir/models/<cell key>/``.
MODELS_DIR = "models"
#: What ``save`` may name.
SAVE_CHOICES = ("best", "recommended")
#: Where each selected model goes in ``out_dir``.
TARGETS = {"best": "model", "recommended": "model-recommended"}
#: Training images read to describe the model's expected input.
_INPUT_SAMPLE = 16


def parse_save(save) -> tuple[str, ...]:
    """``"best"``, ``"best,recommended"``, ``"none"`` or a list -> a tuple."""
    if save is None:
        return ()
    if isinstance(save, str):
        items = [s.strip() for s in save.split(",") if s.strip()]
    elif isinstance(save, (list, tuple)) and all(isinstance(s, str) for s in save):
        items = [s.strip() for s in save]
    else:
        raise TypeError(
            f"save must be 'best', 'recommended', 'best,recommended' or 'none'; got "
            f"{save!r}."
        )
    if items == ["none"] or not items:
        return ()
    for s in items:
        if s not in SAVE_CHOICES:
            raise ValueError(
                f"save must be 'best', 'recommended', 'best,recommended' or "
                f"'none'; got the unknown choice {s!r}."
                + did_you_mean(s, [*SAVE_CHOICES, "none"])
            )
    return tuple(dict.fromkeys(items))


def _python(value):
    return value.item() if isinstance(value, np.generic) else value


def describe_inputs(images, index) -> dict:
    """Channels, dtypes and file types of a sample of the training images."""
    from ..io import read_image

    sample = np.asarray(index)[:_INPUT_SAMPLE]
    channels, dtypes, suffixes = set(), set(), set()
    files = not isinstance(images, np.ndarray)
    for i in sample:
        item = images[int(i)]
        if isinstance(item, (str, os.PathLike)):
            suffixes.add(Path(item).suffix.lower() or "(none)")
            try:
                array = read_image(item)
            except Exception:  # noqa: BLE001 - a description, not a check
                continue
        else:
            array = np.asarray(item)
        channels.add(image_channels(array))
        dtypes.add(str(array.dtype))
    return {
        "from": "files" if files else "arrays",
        "channels": sorted(channels),
        "dtypes": sorted(dtypes),
        "suffixes": sorted(suffixes),
        "n_sampled": int(len(sample)),
    }


def image_channels(array: np.ndarray) -> int:
    """1 for greyscale (``(H, W)`` or ``(H, W, 1)``), else the last axis."""
    if array.ndim == 2:
        return 1
    if array.ndim == 3 and array.shape[-1] in (1, 2, 3, 4):
        return int(array.shape[-1])
    return 1  # a volume or a slice stack: channel policy of the volume reader


def cell_model(cell, fitted, emb, record: dict, data):
    """The cell's fitted model as a :class:`StudyModel` that predicts from images.

    Multi-label data: a :class:`StudyModel` with the cell's per-label
    validation thresholds (and per-label calibrators).
    """
    from sklearn.pipeline import Pipeline

    from ..metrics import ProbabilityCalibrator
    from ._model import StudyModel

    if cell.approach.family == "hybrid":
        if emb is None or emb.features is None:
            raise RuntimeError(f"{cell.id}: no fitted feature extractor to save.")
        features = copy.copy(emb.features)  # the study's extractor, unchanged
        features.set_params(cache_path=None, verbose=0)
        estimator = Pipeline([("features", features), *fitted.steps])
    else:
        estimator = fitted
        estimator.set_params(cache_path=None, verbose=0)
    if data.task.per_label:
        return _per_label_cell_model(estimator, record, data)
    order = [_python(c) for c in data.label_order()]
    calibrator = None
    method = record["calibration"]["method"]
    if method != "none":  # refitted from the recorded validation predictions
        calibrator = ProbabilityCalibrator(method).fit(
            np.asarray(record["val_proba"], dtype=float),
            np.asarray(record["val_y"], dtype=int),
        )
    op = record.get("operating_point") or {}
    return StudyModel(
        estimator,
        classes=order,
        class_names=[str(data.class_name(c)) for c in order],
        pos_label=_python(data.pos_label),
        calibrator=calibrator,
        threshold=op.get("threshold"),
    ).fit()


def _per_label_cell_model(estimator, record: dict, data):
    """A multi-label cell's model: its validation thresholds and calibrators."""
    from ..metrics import ProbabilityCalibrator
    from ._model import StudyModel

    calibrators = None
    method = record["calibration"]["method"]
    if method != "none":  # per label, refitted from the validation predictions
        proba = np.asarray(record["val_proba"], dtype=float)
        Y = np.asarray(record["val_y"], dtype=int)
        calibrators = [
            ProbabilityCalibrator(method).fit(proba[:, j], Y[:, j])
            for j in range(Y.shape[1])
        ]
    return StudyModel(
        estimator,
        class_names=[str(c) for c in data.class_names],
        threshold=[float(t) for t in record["thresholds"]],
        calibrator=calibrators,
    ).fit()


def cell_metadata(cell, record: dict, model, inputs: dict) -> dict:
    """What ``metadata.json`` of a saved cell model holds."""
    estimator = model.estimator
    first = estimator.steps[0][1] if hasattr(estimator, "steps") else estimator
    meta = {
        "kind": "skmedtl.study.model",
        "cell": cell.id,
        "cell_key": cell.key,
        "config": f"{cell.backbone} / {cell.approach.name}",
        "backbone": cell.backbone,
        "approach": cell.approach.name,
        "seed": cell.seed,
        "calibration": record["calibration"]["method"],
        "input": {
            **inputs,
            "intensity": str(getattr(first, "intensity", "auto")),
            "input_size": record.get("input_size"),
        },
        "run_id": record.get("run_id"),
        "finished": record.get("finished"),
    }
    if Task.of_mapping(record).per_label:
        return {
            **meta,
            "task": MULTILABEL,
            "classes": list(model.labels_),
            "class_names": list(model.labels_),
            "positive_class": None,
            "operating_point": None,
            "thresholds": {
                name: float(t)
                for name, t in zip(model.labels_, model.thresholds_, strict=True)
            },
            "threshold_rule": MULTILABEL_THRESHOLD_RULE,
        }
    return {
        **meta,
        "classes": [str(c) for c in model.classes_.tolist()],
        "class_names": list(model.class_names_),
        "positive_class": None if model.pos_label_ is None else str(model.pos_label_),
        "operating_point": record.get("operating_point"),
    }


def save_cell_model(out: Path, cell, model, metadata: dict) -> Path:
    """Save one finished cell's model to ``out/models/<key>/``."""
    from ..persistence import save

    path = out / MODELS_DIR / cell.key
    return save(model, path, metadata=metadata, overwrite=True)


def saved_cell_key(path: Path) -> str | None:
    """The cell key of the model saved at ``path`` (None: none there)."""
    file = path / "metadata.json"
    if not (path / "manifest.json").is_file() or not file.is_file():
        return None
    try:
        return json.loads(file.read_text(encoding="utf-8")).get("cell_key")
    except (OSError, ValueError):
        return None


def _pick_cell(config_row: dict, cells, records: dict):
    """The cell of a configuration to save: its best validation score (then seed)."""
    candidates = [
        c
        for c in cells
        if f"{c.backbone} / {c.approach.name}" == config_row["config"]
        and c.key in records
    ]
    return max(
        candidates,
        key=lambda c: (records[c.key]["validation"]["score"], -c.seed),
        default=None,
    )


def write_selected(
    study, out: Path, results, records: dict, *, refit=None
) -> dict[str, str]:
    """Write ``out/model`` (and ``out/model-recommended``) with their model cards.

    Parameters
    ----------
    study : TransferStudy
    out : Path
    results : StudyResults
    records : dict
        The finished cells' records by key.
    refit : callable, optional
        ``refit(cell) -> Path`` fits and saves a cell whose model was not saved
        (``run``); ``None`` (``report``): such a model is not written.

    Returns
    -------
    dict
        ``{"model": path, ...}`` of the models written or kept.
    """
    from ..persistence import load, save

    rec = results.recommendation
    written: dict[str, str] = {}
    if rec is None:
        return written
    rows = {"best": rec["best"], "recommended": rec["cheapest"]}
    for choice in study.save_:
        target = out / TARGETS[choice]
        cell = _pick_cell(rows[choice], study.cells_, records)
        if cell is None:
            continue
        if saved_cell_key(target) == cell.key:
            logger.info("%s: the saved model of %s is current.", target, cell.id)
            written[TARGETS[choice]] = os.fspath(target)
            continue
        source = out / MODELS_DIR / cell.key
        refitted = None
        if saved_cell_key(source) != cell.key:
            if refit is None:
                logger.warning(
                    "The %s configuration's cell %s has no saved model (it finished "
                    "in a run with save='none'); run the study again (it refits "
                    "that one cell) to write %s.",
                    choice,
                    cell.id,
                    target,
                )
                continue
            logger.warning(
                "Cell %s finished in a run that did not save models: fitting it again "
                "to save it.",
                cell.id,
            )
            refitted = refit(cell)
        model, metadata = load(source, return_metadata=True)
        card = model_card(study, results, records[cell.key], cell, choice, metadata)
        if refitted is not None:
            card["refitted"] = refitted
        save(
            model,
            target,
            metadata={**metadata, "selected_as": choice},
            overwrite=True,
            files={
                "model_card.json": json.dumps(card, indent=2, default=str) + "\n",
                "model_card.md": model_card_markdown(card),
            },
        )
        logger.info("Saved the %s model (%s) to %s.", choice, cell.id, target)
        written[TARGETS[choice]] = os.fspath(target)
    return written
