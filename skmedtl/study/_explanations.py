"""The report's "where the model looks" figure, at the report's operating point.

The figure's outcomes (true / false positives and negatives) use the study's
positive class and the operating point chosen on validation, as the report
does: not ``classes_[1]`` split at 0.5. The saliency maps explain the positive
class.

Its cost is bounded: the test probabilities that choose the images are the
selected cell's recorded ones (the saved model is the very model that
predicted them; the test set is not predicted again), and a model without
gradients through its backbone (a hybrid) is explained by occlusion on at most
:data:`OCCLUSION_POSITIONS` x :data:`OCCLUSION_POSITIONS` patch positions per
image (the default patch, 1/8 of the shorter side, moved by its own size
rather than half of it: about 4x fewer predictions).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

__all__ = ["OCCLUSION_POSITIONS", "explanation_figure", "outcome_inputs"]

logger = logging.getLogger(__name__)

#: Occlusion patch positions per side of an image in the report's figure.
OCCLUSION_POSITIONS = 8


def outcome_inputs(model, images, y_true, record: dict | None = None) -> dict:
    """Arguments of :func:`skmedtl.explain.outcome_figure` for a study model.

    Two classes: the labels are recoded so that the figure's positive class
    (its network's ``classes_[1]``) stands for the study's positive class
    ``model.pos_label_``; the scores are the positive class's probability
    (recalibrated, as the operating point is) and the threshold is
    ``model.threshold_`` (0.5 on the model's own probability without one).
    More classes: the probabilities as they are.

    ``record``: the selected cell's record, whose test probabilities (columns
    in ``classes_`` order, as the model's) are used instead of predicting
    ``images`` again; ``images`` must then be that cell's test images.
    """
    y_true = np.asarray(y_true)

    def proba(calibrated: bool) -> np.ndarray:
        if record is None:
            return model.predict_proba(images, calibrated=calibrated)
        recorded = record.get("test_proba_calibrated") if calibrated else None
        if calibrated and model.calibrator is not None and recorded is None:
            return model.predict_proba(images, calibrated=calibrated)
        return np.asarray(recorded or record["test_proba"], dtype=float)

    if len(model.classes_) != 2:
        return {"y_true": y_true, "proba": proba(calibrated=True)}
    pos = model.pos_label_
    column = list(model.classes_).index(pos)
    calibrated = model.threshold_ is not None
    score = proba(calibrated)[:, column]
    inner = np.asarray(model.estimator.classes_)
    return {
        "y_true": np.where(y_true == pos, inner[1], inner[0]),
        "proba": score,
        "threshold": model.threshold_ if calibrated else 0.5,
        "saliency_params": {"target": pos},
    }


def explanation_figure(model_dir, data, out: Path, records: dict | None = None) -> dict:
    """Saliency maps of the selected model on test images of each outcome.

    Drawn from the saved selected model (``model_dir``), so the figure shows
    the model the report describes; ``records`` (the finished cells' records by
    key) give its test probabilities. Explaining is never allowed to fail the
    study: a failure is logged and the report goes without the figure.
    """
    from ..persistence import load

    path = out / "figures" / "explanations.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    test = data.indices("test")
    try:
        from ..explain import outcome_figure

        model, metadata = load(model_dir, return_metadata=True)
        images = data.take(test)
        record = (records or {}).get(metadata.get("cell_key"))
        if record is not None and record.get("test_index") != [int(i) for i in test]:
            record = None  # not these test images: predict them
        inputs = outcome_inputs(model, images, data.labels[test], record)
        params = {"verbose": 0, **inputs.pop("saliency_params", {})}
        params.update(_occlusion_grid(model, images))
        figure = outcome_figure(
            model, images, path=path, n_per_outcome=2, saliency_params=params, **inputs
        )
        import matplotlib.pyplot as plt

        plt.close(figure)  # saved; a study may draw many in one process
    except Exception as e:  # noqa: BLE001 - a figure must not fail a study
        logger.warning("No explanation figure for the report: %s", e)
        return {}
    return {"explanations": path}


def _occlusion_grid(model, images) -> dict:
    """``patch_size`` and ``stride`` bounding occlusion (``{}``: Grad-CAM runs).

    Sized on the first test image: the default patch (1/8 of its shorter
    side), moved by its own size.
    """
    from ..explain._models import resolve_model
    from ..io import read_image

    if resolve_model(model).network is not None:
        return {}
    first = images[0]
    if isinstance(first, (str, bytes)) or hasattr(first, "__fspath__"):
        first = read_image(first)
    side = min(np.asarray(first).shape[:2])
    patch = max(1, round(side / OCCLUSION_POSITIONS))
    return {"patch_size": patch, "stride": patch}
