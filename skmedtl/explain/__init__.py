"""Explainability: saliency maps of fitted models, in each image's own pixels.

- :func:`saliency` computes Grad-CAM, Grad-CAM++ and HiResCAM (through the
  ``grad-cam`` package, ``pip install "skmedtl[explain]"``) for fine-tuned
  networks and hybrids with a linear head, and occlusion sensitivity for any
  model with ``predict_proba``; maps come back in the geometry of each input
  image, normalised to ``[0, 1]``.
- :func:`overlay` draws images with their maps as a grid;
  :func:`outcome_figure` shows maps of a few test images per outcome (true /
  false positives and negatives).
- :func:`localisation_report` (or :func:`localisation_scores` on maps at hand)
  measures whether maps point at annotated lesions (:func:`load_annotations`):
  pointing game, energy, top-k% IoU, with bootstrap CIs and two baselines.
"""

from ._annotations import load_annotations
from ._localisation import (
    LocalisationReport,
    LocalisationRow,
    energy_fraction,
    localisation_report,
    localisation_scores,
    pointing_hit,
    topk_iou,
)
from ._plot import outcome_figure, overlay
from ._saliency import DEFAULT_METHOD, METHODS, saliency

__all__ = [
    "DEFAULT_METHOD",
    "METHODS",
    "LocalisationReport",
    "LocalisationRow",
    "energy_fraction",
    "load_annotations",
    "localisation_report",
    "localisation_scores",
    "outcome_figure",
    "overlay",
    "pointing_hit",
    "saliency",
    "topk_iou",
]
