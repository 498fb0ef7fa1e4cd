"""Medical classification metrics: sensitivity, specificity, reports with CIs."""

from ._classification import sensitivity_score, specificity_score
from ._report import ClassificationReport, classification_report
from ._scorers import SCORERS, get_scorer, make_scoring
from ._threshold import choose_threshold, make_threshold_classifier

__all__ = [
    "SCORERS",
    "ClassificationReport",
    "choose_threshold",
    "classification_report",
    "get_scorer",
    "make_threshold_classifier",
    "make_scoring",
    "sensitivity_score",
    "specificity_score",
]
