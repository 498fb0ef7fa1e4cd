"""Medical classification metrics: sensitivity, specificity, reports with CIs,
paired comparisons (DeLong, paired bootstrap, Holm) and calibration;
external validation and distribution shift (:func:`external_validation`,
:func:`distribution_shift`); learning-curve crossovers
(:func:`learning_curve_crossover`); multi-label
per-label AUC, sensitivity and specificity (:func:`multilabel_report`).

Every interval and paired comparison draws its resamples from one resampler
(:func:`bootstrap_indices`, :func:`bootstrap`), with one confidence level
(:data:`CONFIDENCE`), one seed (:data:`BOOTSTRAP_SEED`) and one default number
of resamples (:data:`N_BOOTSTRAP`)."""

from ._calibration import (
    CALIBRATION_METHODS,
    ProbabilityCalibrator,
    ReliabilityCurve,
    TemperatureScaling,
    brier_score,
    calibrate_prefit,
    expected_calibration_error,
    expected_ece_under_calibration,
    reliability_curve,
)
from ._classification import sensitivity_score, specificity_score
from ._compare import (
    DeLongResult,
    PairedBootstrapResult,
    delong_test,
    holm,
    paired_bootstrap,
    pooled_delong_test,
)
from ._curves import CrossoverResult, SizeComparison, learning_curve_crossover
from ._external import (
    EXTERNAL_METRICS,
    CalibrationCheck,
    ExternalValidation,
    IntensityStatistics,
    MetricShift,
    ShiftDiagnostic,
    distribution_shift,
    external_validation,
    intensity_statistics,
)
from ._interval import MetricCI
from ._multiclass import ordinal_mae, per_class_auc, quadratic_weighted_kappa
from ._multilabel import (
    MultiLabelReport,
    choose_thresholds,
    mean_auc,
    multilabel_report,
    per_label_auc,
)
from ._report import ClassificationReport, classification_report
from ._resample import (
    BOOTSTRAP_SEED,
    CONFIDENCE,
    N_BOOTSTRAP,
    BootstrapResult,
    bootstrap,
    bootstrap_ci,
    bootstrap_indices,
    check_finite,
    percentile_interval,
    resample_counts,
    weighted_auc,
)
from ._scorers import SCORERS, get_scorer, make_scoring
from ._threshold import choose_threshold, make_threshold_classifier

__all__ = [
    "CrossoverResult",
    "SizeComparison",
    "learning_curve_crossover",
    "intensity_statistics",
    "external_validation",
    "distribution_shift",
    "ShiftDiagnostic",
    "MetricShift",
    "MetricCI",
    "IntensityStatistics",
    "ExternalValidation",
    "CalibrationCheck",
    "BOOTSTRAP_SEED",
    "EXTERNAL_METRICS",
    "CALIBRATION_METHODS",
    "CONFIDENCE",
    "N_BOOTSTRAP",
    "SCORERS",
    "BootstrapResult",
    "ClassificationReport",
    "DeLongResult",
    "MultiLabelReport",
    "PairedBootstrapResult",
    "ProbabilityCalibrator",
    "ReliabilityCurve",
    "TemperatureScaling",
    "bootstrap",
    "bootstrap_ci",
    "bootstrap_indices",
    "brier_score",
    "calibrate_prefit",
    "check_finite",
    "choose_threshold",
    "choose_thresholds",
    "classification_report",
    "delong_test",
    "expected_calibration_error",
    "expected_ece_under_calibration",
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
    "percentile_interval",
    "pooled_delong_test",
    "quadratic_weighted_kappa",
    "reliability_curve",
    "resample_counts",
    "sensitivity_score",
    "specificity_score",
    "weighted_auc",
]
