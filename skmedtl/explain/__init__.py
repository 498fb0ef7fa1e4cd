"""Explainability: saliency maps of fitted models, in each image's own pixels.

- :func:`saliency` computes Grad-CAM, Grad-CAM++ and HiResCAM (through the
  ``grad-cam`` package, ``pip install "skmedtl[explain]"``) for fine-tuned
  networks and hybrids with a linear head, and occlusion sensitivity for any
  model with ``predict_proba``; maps come back in the geometry of each input
  image, normalised to ``[0, 1]``.
- :func:`overlay` draws images with their maps as a grid;
  :func:`outcome_figure` shows maps of a few test images per outcome (true /
  false positives and negatives).
"""

from ._plot import outcome_figure, overlay
from ._saliency import METHODS, saliency

__all__ = ["METHODS", "outcome_figure", "overlay", "saliency"]
