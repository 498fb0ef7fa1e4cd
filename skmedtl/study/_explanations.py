"""The report's "where the model looks" figure, at the report's operating point.

The figure's outcomes (true / false positives and negatives) use the study's
positive class and the operating point chosen on validation, as the report
does: not ``classes_[1]`` split at 0.5. The saliency maps explain the positive
class.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

__all__ = ["explanation_figure", "outcome_inputs"]

logger = logging.getLogger(__name__)


def outcome_inputs(model, images, y_true) -> dict:
    """Arguments of :func:`skmedtl.explain.outcome_figure` for a study model.

    Two classes: the labels are recoded so that the figure's positive class
    (its network's ``classes_[1]``) stands for the study's positive class
    ``model.pos_label_``; the scores are the positive class's probability
    (recalibrated, as the operating point is) and the threshold is
    ``model.threshold_`` (0.5 on the model's own probability without one).
    More classes: the probabilities as they are.
    """
    y_true = np.asarray(y_true)
    if len(model.classes_) != 2:
        return {"y_true": y_true, "proba": model.predict_proba(images)}
    pos = model.pos_label_
    column = list(model.classes_).index(pos)
    calibrated = model.threshold_ is not None
    score = model.predict_proba(images, calibrated=calibrated)[:, column]
    inner = np.asarray(model.estimator.classes_)
    return {
        "y_true": np.where(y_true == pos, inner[1], inner[0]),
        "proba": score,
        "threshold": model.threshold_ if calibrated else 0.5,
        "saliency_params": {"target": pos},
    }


def explanation_figure(model_dir, data, out: Path) -> dict:
    """Saliency maps of the selected model on test images of each outcome.

    Drawn from the saved selected model (``model_dir``), so the figure shows
    the model the report describes. Explaining is never allowed to fail the
    study: a failure is logged and the report goes without the figure.
    """
    from ..persistence import load

    path = out / "figures" / "explanations.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    test = data.indices("test")
    try:
        from ..explain import outcome_figure

        model = load(model_dir)
        images = data.take(test)
        inputs = outcome_inputs(model, images, data.labels[test])
        params = {"verbose": 0, **inputs.pop("saliency_params", {})}
        figure = outcome_figure(
            model, images, path=path, n_per_outcome=2, saliency_params=params, **inputs
        )
        import matplotlib.pyplot as plt

        plt.close(figure)  # saved; a study may draw many in one process
    except Exception as e:  # noqa: BLE001 - a figure must not fail a study
        logger.warning("No explanation figure for the report: %s", e)
        return {}
    return {"explanations": path}
