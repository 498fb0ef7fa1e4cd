"""Medical classification metrics: sensitivity, specificity, reports with CIs,
paired comparisons (DeLong, paired bootstrap, Holm) and calibration; multi-label
per-label AUC, sensitivity and specificity (:func:`multilabel_report`)."""

from ._calibration import (
    CALIBRATION_METHODS,
    ProbabilityCalibrator,
    ReliabilityCurve,
    TemperatureScaling,
    brier_score,
    calibrate_prefit,
    expected_calibration_error,
    reliability_curve,
)
from ._classification import sensitivity_score, specificity_score
from ._compare import (
    DeLongResult,
    PairedBootstrapResult,
    bootstrap_ci,
    delong_test,
    holm,
    paired_bootstrap,
)
from ._multiclass import ordinal_mae, per_class_auc, quadratic_weighted_kappa
from ._multilabel import (
    MultiLabelReport,
    choose_thresholds,
    mean_auc,
    multilabel_report,
    per_label_auc,
)
from ._report import ClassificationReport, classification_report
from ._scorers import SCORERS, get_scorer, make_scoring
from ._threshold import choose_threshold, make_threshold_classifier

__all__ = [
    "CALIBRATION_METHODS",
    "SCORERS",
    "ClassificationReport",
    "DeLongResult",
    "MultiLabelReport",
    "PairedBootstrapResult",
    "ProbabilityCalibrator",
    "ReliabilityCurve",
    "TemperatureScaling",
    "bootstrap_ci",
    "brier_score",
    "calibrate_prefit",
    "choose_threshold",
    "choose_thresholds",
    "classification_report",
    "delong_test",
    "expected_calibration_error",
    "get_scorer",
    "holm",
    "make_scoring",
    "make_threshold_classifier",
    "mean_auc",
    "multilabel_report",
    "ordinal_mae",
    "paired_bootstrap",
    "per_class_auc",
    "per_label_auc",
    "quadratic_weighted_kappa",
    "reliability_curve",
    "sensitivity_score",
    "specificity_score",
]
