"""External validation: how a selected model holds on another site's images.

:func:`external_validation` scores a finished model's predictions on an
external test set (another hospital, scanner or protocol) beside the internal
test set: every metric with its interval on each set, the difference
external minus internal with an interval from an *unpaired* bootstrap (the
two sets hold different images, so their resamples are independent), and
calibration on the external set before and after a calibrator fitted on the
internal validation set. The operating point is the one chosen on validation:
sensitivity and specificity are read at that threshold on the external set,
never at one chosen there.

:func:`distribution_shift` describes how far the external images lie from the
internal ones: a kernel two-sample test (MMD) on frozen-backbone embeddings
and pixel-intensity statistics per set.

All intervals come from the one resampler (:mod:`skmedtl.metrics._resample`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sklearn.utils import check_random_state

from ..utils._validation import check_int
from ._calibration import (
    ReliabilityCurve,
    batched_ece,
    expected_ece_under_calibration,
    reliability_curve,
)
from ._interval import MetricCI
from ._multilabel import SUMMARY as ML_SUMMARY
from ._multilabel import _batched_summary_and_per_label
from ._report import METRICS as REPORT_METRICS
from ._report import _metric_function
from ._resample import (
    BOOTSTRAP_SEED,
    CONFIDENCE,
    N_BOOTSTRAP,
    _check_confidence,
    _check_n_resamples,
    bootstrap,
    check_finite,
    percentile_interval,
    resample_counts,
)

__all__ = [
    "EXTERNAL_METRICS",
    "CalibrationCheck",
    "ExternalValidation",
    "IntensityStatistics",
    "MetricShift",
    "ShiftDiagnostic",
    "distribution_shift",
    "external_validation",
    "intensity_statistics",
]

#: Metrics of :func:`external_validation`, in order. Binary problems report
#: sensitivity and specificity of the positive class; several classes their
#: macro averages (one-vs-rest) and the macro one-vs-rest AUC.
EXTERNAL_METRICS = (
    "auc",
    "accuracy",
    "balanced_accuracy",
    "sensitivity",
    "specificity",
    "brier",
    "ece",
)
_LOWER_IS_BETTER = frozenset({"brier", "ece"})
#: Columns of the report's batched metrics giving EXTERNAL_METRICS[:-1].
_REPORT_COLUMNS = [REPORT_METRICS.index(name) for name in EXTERNAL_METRICS[:-1]]


@dataclass(frozen=True)
class MetricShift:
    """One metric on the internal and external test sets and their difference.

    Attributes
    ----------
    metric : str
    internal, external : MetricCI
        Each set's estimate with its stratified bootstrap interval.
    difference : MetricCI
        ``external - internal``, with the percentile interval of the
        differences of independent resamples of the two sets (unpaired
        bootstrap). Negative for AUC or accuracy means the model does worse
        externally; for ``brier`` and ``ece`` a *positive* difference does.
    higher_is_better : bool
    """

    metric: str
    internal: MetricCI
    external: MetricCI
    difference: MetricCI
    higher_is_better: bool

    @property
    def worse_externally(self) -> bool:
        """Whether the interval of the difference excludes 0 on the bad side."""
        if self.higher_is_better:
            return bool(self.difference.high < 0)
        return bool(self.difference.low > 0)


@dataclass(frozen=True)
class CalibrationCheck:
    """Calibration of one set of probabilities on the external set.

    Attributes
    ----------
    brier, ece : MetricCI
        With intervals over the external set's resamples (equal-mass bins).
    ece_if_calibrated : float
        The ECE a perfectly calibrated model would be expected to score on
        these probabilities (:func:`expected_ece_under_calibration`): an ECE
        near it is no evidence of miscalibration.
    curve : ReliabilityCurve
    """

    brier: MetricCI
    ece: MetricCI
    ece_if_calibrated: float
    curve: ReliabilityCurve


@dataclass(frozen=True)
class ExternalValidation:
    """The outcome of :func:`external_validation`.

    Attributes
    ----------
    metrics : tuple of MetricShift
        One per name of :data:`EXTERNAL_METRICS`, in that order.
    labels : tuple
        Classes in the column order of the probabilities; for binary problems
        the second is the positive class. Multi-label: the label columns.
    threshold : float, tuple of float or None
        The validation-chosen threshold on the positive class's probability
        (binary); ``None`` for several classes (the most probable class); one
        per label (multi-label).
    n_internal, n_external : int
    class_counts_internal, class_counts_external : tuple of int
        Images of each class (in the order of ``labels``); multi-label: images
        with each label.
    calibration_before : CalibrationCheck
        Of the probabilities given, on the external set.
    calibration_after : CalibrationCheck or None
        Of the validation-fitted calibrator's probabilities on the external
        set, on the same resamples; ``None`` without a calibrator.
    n_resamples : int
    confidence : float
    n_bins : int
        ECE bins.
    multilabel : bool
        Whether the problem is multi-label: metrics are means over labels
        (as :func:`~skmedtl.metrics.multilabel_report`), Brier and ECE are over
        all (image, label) pairs, and images are resampled unstratified.
    """

    metrics: tuple[MetricShift, ...]
    labels: tuple
    threshold: float | None
    n_internal: int
    n_external: int
    class_counts_internal: tuple[int, ...]
    class_counts_external: tuple[int, ...]
    calibration_before: CalibrationCheck
    calibration_after: CalibrationCheck | None
    n_resamples: int
    confidence: float
    n_bins: int
    multilabel: bool = False

    def __getitem__(self, metric: str) -> MetricShift:
        for shift in self.metrics:
            if shift.metric == metric:
                return shift
        raise KeyError(
            f"No metric {metric!r}; the metrics are {list(EXTERNAL_METRICS)}."
        )

    def to_frame(self):
        """One row per metric: internal, external and difference with CIs."""
        import pandas as pd

        rows = {}
        for shift in self.metrics:
            row = {}
            for part in ("internal", "external", "difference"):
                ci = getattr(shift, part)
                row.update(
                    {part: ci.estimate, f"{part}_low": ci.low, f"{part}_high": ci.high}
                )
            rows[shift.metric] = row
        return pd.DataFrame.from_dict(rows, orient="index")

    def __str__(self) -> str:
        pct = round(self.confidence * 100)
        lines = [
            f"external validation: internal n={self.n_internal}, external "
            f"n={self.n_external}, {self.n_resamples} resamples, {pct}% CIs",
            f"{'metric':<18} {'internal':>22} {'external':>22} "
            f"{'external - internal':>24}",
        ]
        for s in self.metrics:
            cells = [
                f"{ci.estimate:.3f} [{ci.low:.3f}, {ci.high:.3f}]"
                for ci in (s.internal, s.external, s.difference)
            ]
            lines.append(f"{s.metric:<18} {cells[0]:>22} {cells[1]:>22} {cells[2]:>24}")
        for name, check in (
            ("before", self.calibration_before),
            ("after", self.calibration_after),
        ):
            if check is not None:
                lines.append(
                    f"external calibration {name} recalibration: ECE "
                    f"{check.ece.estimate:.3f} (perfectly calibrated: "
                    f"{check.ece_if_calibrated:.3f}), Brier {check.brier.estimate:.3f}"
                )
        return "\n".join(lines)


def _labels(y_internal, y_external, labels) -> np.ndarray:
    if labels is None:
        labels = np.unique(np.concatenate([y_internal, y_external]))
    labels = np.asarray(labels)
    if len(labels) < 2:
        raise ValueError("labels must hold at least two classes.")
    for name, y in (("y_internal", y_internal), ("y_external", y_external)):
        unknown = ~np.isin(y, labels)
        if unknown.any():
            raise ValueError(
                f"{name} has labels that are not in labels={labels.tolist()}: "
                f"{np.unique(y[unknown]).tolist()[:5]}. The external set must use "
                "the classes of the internal one."
            )
        missing = labels[~np.isin(labels, y)]
        if len(missing):
            raise ValueError(
                f"{name} has no image of class {missing.tolist()}; AUC, sensitivity "
                "and specificity need every class in both test sets."
            )
    return labels


def _encode(y: np.ndarray, labels: np.ndarray) -> np.ndarray:
    index = {label: i for i, label in enumerate(labels.tolist())}
    return np.asarray([index[v] for v in y.tolist()], dtype=int)


def _proba(name: str, proba, n: int, k: int) -> np.ndarray:
    """``(n, k)`` probabilities from a positive-class vector (binary) or matrix."""
    p = check_finite(name, np.asarray(proba, dtype=float))
    if p.ndim == 1 and k == 2:
        p = np.column_stack([1 - p, p])
    if p.shape != (n, k):
        expected = f"({n},) or ({n}, 2)" if k == 2 else f"({n}, {k})"
        raise ValueError(f"{name} must have shape {expected}; got {np.shape(proba)}.")
    if p.min() < -1e-9 or p.max() > 1 + 1e-9:
        raise ValueError(
            f"{name} must hold probabilities in [0, 1]; give predict_proba output."
        )
    return p


def _calibrated(calibrator, p: np.ndarray) -> np.ndarray:
    method = getattr(calibrator, "predict_proba", None) or getattr(
        calibrator, "transform", None
    )
    if method is None:
        raise TypeError(
            "calibrator must have predict_proba or transform (e.g. a fitted "
            f"skmedtl.metrics.ProbabilityCalibrator); got {type(calibrator).__name__}."
        )
    q = np.asarray(method(p), dtype=float)
    if q.ndim == 1 and p.shape[1] == 2:
        q = np.column_stack([1 - q, q])
    return _proba("the calibrator's output", q, len(p), p.shape[1])


def _calibration_inputs(y: np.ndarray, p: np.ndarray):
    if p.shape[1] == 2:
        return p[:, 1], (y == 1).astype(float)
    return p.max(axis=1), (p.argmax(axis=1) == y).astype(float)


def _ci(estimate, low, high, n_valid) -> MetricCI:
    return MetricCI(float(estimate), float(low), float(high), int(n_valid))


def _column(result, i: int) -> MetricCI:
    return _ci(result.estimate[i], result.low[i], result.high[i], result.n_valid[i])


def external_validation(
    y_internal,
    proba_internal,
    y_external,
    proba_external,
    *,
    threshold: float | None = 0.5,
    labels=None,
    calibrator=None,
    n_bins: int = 10,
    n_resamples: int = N_BOOTSTRAP,
    confidence: float = CONFIDENCE,
    random_state=BOOTSTRAP_SEED,
) -> ExternalValidation:
    """Metrics on an external test set, their drop from the internal one, with CIs.

    Both test sets are predicted once by the finished, selected model. Each
    metric of :data:`EXTERNAL_METRICS` is estimated on each set with a
    stratified percentile bootstrap interval; the difference *external minus
    internal* gets the percentile interval of ``metric(external resample) -
    metric(internal resample)`` over independent stratified resamples of the
    two sets (an unpaired bootstrap: the sets share no images). Resample ``b``
    of the internal set and resample ``b`` of the external set are drawn one
    after the other from one random stream, so the result is seeded.

    Parameters
    ----------
    y_internal, y_external : array-like of shape (n_internal,), (n_external,)
        Labels of the internal and external test sets (same classes; each
        set must hold every class). Multi-label: ``(n, n_labels)`` 0/1
        indicators, every label present in some images and absent in others.
    proba_internal, proba_external : array-like
        The model's probabilities on each set: ``(n,)`` positive-class
        probabilities or ``(n, 2)`` for two classes, ``(n, n_classes)`` for
        several (columns in the order of ``labels``), ``(n, n_labels)`` for
        multi-label. Pass the probabilities on which ``threshold`` was chosen.
    threshold : float or None, default=0.5
        Binary: the threshold chosen on *validation* data
        (:func:`~skmedtl.metrics.choose_threshold`); an image is called
        positive when its probability is ``>= threshold``. Ignored (use None)
        for several classes, which predict the most probable class.
        Multi-label: one threshold, or one per label
        (:func:`~skmedtl.metrics.choose_thresholds`).
    labels : array-like, optional
        Classes in the column order of the probabilities; by default the
        sorted labels of both sets. For two classes ``labels[1]`` is the
        positive class. Multi-label: names of the label columns.
    calibrator : object, optional
        A calibrator fitted on the internal *validation* predictions, with
        ``predict_proba`` or ``transform`` mapping ``(n, n_classes)``
        probabilities to calibrated ones (a fitted
        :class:`~skmedtl.metrics.ProbabilityCalibrator`). Its output is
        scored for calibration (Brier, ECE) on the external set, on the same
        resamples as the probabilities given.
    n_bins : int, default=10
        Equal-mass bins of the ECE.
    n_resamples : int, default=N_BOOTSTRAP
    confidence : float, default=CONFIDENCE
    random_state : int, RandomState instance or None, default=BOOTSTRAP_SEED

    Returns
    -------
    ExternalValidation

    Notes
    -----
    The intervals reflect the sampling of *test images* with the model
    fixed. Multi-label sets are resampled by image, unstratified (an image's
    labels are correlated), as :func:`~skmedtl.metrics.multilabel_report`.
    ECE is biased upward on small sets; compare it with ``ece_if_calibrated``
    rather than with 0.

    Examples
    --------
    >>> import numpy as np
    >>> from skmedtl.metrics import external_validation
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat([0, 1], 200)
    >>> internal = 1 / (1 + np.exp(-(2 * y - 1) * 1.5 - rng.normal(0, 1, 400)))
    >>> external = 1 / (1 + np.exp(-(2 * y - 1) * 0.5 - rng.normal(0, 1, 400)))
    >>> r = external_validation(y, internal, y, external, n_resamples=500)
    >>> r["auc"].difference.estimate < 0, r["auc"].worse_externally
    (True, True)
    """
    y_int = check_finite("y_internal", y_internal)
    y_ext = check_finite("y_external", y_external)
    check_int("n_bins", n_bins, minimum=1)
    n_bins = int(n_bins)
    n_resamples = _check_n_resamples(n_resamples)
    confidence = _check_confidence(confidence)
    if y_int.ndim == 2 or y_ext.ndim == 2:
        problem = _multilabel_problem(
            y_int, proba_internal, y_ext, proba_external, threshold, labels, n_bins
        )
    else:
        problem = _class_problem(
            y_int, proba_internal, y_ext, proba_external, threshold, labels, n_bins
        )
    pe_cal = None if calibrator is None else problem.calibrated(calibrator)

    def external_statistic(indices):
        values = problem.statistic(problem.y_external, problem.p_external)(indices)
        if pe_cal is None:
            return values
        calibration = problem.calibration(problem.y_external, pe_cal)(indices)
        return np.column_stack([values, calibration])

    rng = check_random_state(random_state)
    options = dict(
        n_resamples=n_resamples,
        confidence=confidence,
        batched=True,
        stratify=problem.stratify,
    )
    internal = bootstrap(
        problem.statistic(problem.y_internal, problem.p_internal),
        problem.strata_internal,
        random_state=rng,
        **options,
    )
    external = bootstrap(
        external_statistic, problem.strata_external, random_state=rng, **options
    )
    m = len(EXTERNAL_METRICS)
    diffs = external.draws[:, :m] - internal.draws
    low, high = percentile_interval(diffs, confidence)
    estimate = external.estimate[:m] - internal.estimate
    shifts = tuple(
        MetricShift(
            metric=name,
            internal=_column(internal, i),
            external=_column(external, i),
            difference=_ci(
                estimate[i], low[i], high[i], np.isfinite(diffs[:, i]).sum()
            ),
            higher_is_better=name not in _LOWER_IS_BETTER,
        )
        for i, name in enumerate(EXTERNAL_METRICS)
    )

    def check(p, brier_column, ece_column) -> CalibrationCheck:
        y_flat, p_flat = problem.curve_inputs(p)
        return CalibrationCheck(
            brier=_column(external, brier_column),
            ece=_column(external, ece_column),
            ece_if_calibrated=expected_ece_under_calibration(p_flat, n_bins=n_bins),
            curve=reliability_curve(y_flat, p_flat, n_bins=n_bins),
        )

    return ExternalValidation(
        metrics=shifts,
        labels=problem.labels,
        threshold=problem.threshold,
        n_internal=len(problem.y_internal),
        n_external=len(problem.y_external),
        class_counts_internal=problem.counts(problem.y_internal),
        class_counts_external=problem.counts(problem.y_external),
        calibration_before=check(problem.p_external, m - 2, m - 1),
        calibration_after=None if pe_cal is None else check(pe_cal, m, m + 1),
        n_resamples=n_resamples,
        confidence=confidence,
        n_bins=n_bins,
        multilabel=problem.multilabel,
    )


@dataclass(frozen=True)
class _Problem:
    """What :func:`external_validation` needs of one kind of problem.

    ``statistic(y, p)(indices)`` gives EXTERNAL_METRICS of every resample;
    ``calibration(y, p)(indices)`` its Brier and ECE columns only.
    """

    y_internal: np.ndarray
    p_internal: np.ndarray
    y_external: np.ndarray
    p_external: np.ndarray
    strata_internal: np.ndarray
    strata_external: np.ndarray
    stratify: bool
    labels: tuple
    threshold: object
    multilabel: bool
    statistic: Callable
    calibration: Callable
    calibrated: Callable
    curve_inputs: Callable
    counts: Callable


def _class_problem(y_int, proba_int, y_ext, proba_ext, threshold, labels, n_bins):
    for name, y in (("y_internal", y_int), ("y_external", y_ext)):
        if y.ndim != 1 or len(y) == 0:
            raise ValueError(
                f"{name} must be a non-empty 1-D array of labels (or, for a "
                "multi-label problem, both sets (n, n_labels) indicators)."
            )
    labels = _labels(y_int, y_ext, labels)
    k = len(labels)
    binary = k == 2
    if binary:
        if threshold is None or not 0 <= float(threshold) <= 1:
            raise ValueError(
                f"threshold must be a probability in [0, 1] chosen on validation "
                f"data for two classes; got {threshold!r}."
            )
        threshold = float(threshold)
    elif threshold is not None and threshold != 0.5:
        raise ValueError(
            f"threshold applies to two classes only; got threshold={threshold!r} "
            f"with {k} classes (they predict the most probable class): pass None."
        )
    else:
        threshold = None
    yi, ye = _encode(y_int, labels), _encode(y_ext, labels)
    pi = _proba("proba_internal", proba_int, len(yi), k)
    pe = _proba("proba_external", proba_ext, len(ye), k)
    compute = _metric_function(k, binary)

    def calibration(y, p):
        onehot = np.eye(k)[y]
        per_sample = ((p - onehot) ** 2).sum(axis=1) / (2 if binary else 1)
        conf, outcome = _calibration_inputs(y, p)

        def columns(indices):
            counts = resample_counts(indices, len(y))
            brier = counts @ per_sample / counts.sum(axis=1)
            return np.column_stack([brier, batched_ece(conf, outcome, counts, n_bins)])

        return columns

    def statistic(y, p):
        pred = (p[:, 1] >= threshold).astype(int) if binary else p.argmax(axis=1)
        auc_input = p[:, 1] if binary else p
        conf, outcome = _calibration_inputs(y, p)

        def values(indices):
            counts = resample_counts(indices, len(y))
            report = compute.batched(y, pred, auc_input, p, counts)
            return np.column_stack(
                [report[:, _REPORT_COLUMNS], batched_ece(conf, outcome, counts, n_bins)]
            )

        return values

    return _Problem(
        y_internal=yi,
        p_internal=pi,
        y_external=ye,
        p_external=pe,
        strata_internal=yi,
        strata_external=ye,
        stratify=True,
        labels=tuple(labels.tolist()),
        threshold=threshold,
        multilabel=False,
        statistic=statistic,
        calibration=calibration,
        calibrated=lambda calibrator: _calibrated(calibrator, pe),
        curve_inputs=lambda p: (ye, p),
        counts=lambda y: tuple(np.bincount(y, minlength=k).tolist()),
    )


def _indicators(name: str, y) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 2 or len(y) == 0 or not np.isin(y, (0, 1)).all():
        raise ValueError(
            f"{name} must be a non-empty (n, n_labels) array of 0/1 indicators for a "
            f"multi-label problem (both sets); got shape {y.shape}."
        )
    return y.astype(np.int64)


def _multilabel_problem(y_int, proba_int, y_ext, proba_ext, threshold, labels, n_bins):
    yi, ye = _indicators("y_internal", y_int), _indicators("y_external", y_ext)
    n_labels = yi.shape[1]
    if ye.shape[1] != n_labels:
        raise ValueError(
            f"y_internal has {n_labels} labels but y_external {ye.shape[1]}: the "
            "external set must use the labels of the internal one."
        )
    for name, y in (("y_internal", yi), ("y_external", ye)):
        constant = np.flatnonzero(y.min(axis=0) == y.max(axis=0))
        if len(constant):
            raise ValueError(
                f"{name} has labels (columns {constant.tolist()[:5]}) that are "
                "present in every image or in none; their AUC, sensitivity and "
                "specificity are undefined: leave those columns out of both sets."
            )
    labels = tuple(range(n_labels)) if labels is None else tuple(labels)
    if len(labels) != n_labels:
        raise ValueError(f"labels must name the {n_labels} label columns.")
    if threshold is None:
        raise ValueError(
            "threshold must be a probability, or one per label, chosen on "
            "validation data (skmedtl.metrics.choose_thresholds); got None."
        )
    thr = np.broadcast_to(np.asarray(threshold, dtype=float), (n_labels,)).copy()
    if ((thr < 0) | (thr > 1)).any():
        raise ValueError(f"threshold must lie in [0, 1]; got {threshold!r}.")

    def proba(name, p, n):
        p = check_finite(name, np.asarray(p, dtype=float))
        if p.shape != (n, n_labels) or p.min() < 0 or p.max() > 1:
            raise ValueError(
                f"{name} must hold probabilities of shape ({n}, {n_labels}); got "
                f"shape {p.shape}."
            )
        return p

    pi = proba("proba_internal", proba_int, len(yi))
    pe = proba("proba_external", proba_ext, len(ye))

    def calibration(y, p):
        per_sample = ((p - y) ** 2).mean(axis=1)
        flat_p, flat_y = p.reshape(-1), y.reshape(-1)

        def columns(indices):
            counts = resample_counts(indices, len(y))
            brier = counts @ per_sample / counts.sum(axis=1)
            pairs = np.repeat(counts, n_labels, axis=1)
            return np.column_stack([brier, batched_ece(flat_p, flat_y, pairs, n_bins)])

        return columns

    def statistic(y, p):
        pred = p >= thr
        cal = calibration(y, p)

        def values(indices):
            counts = resample_counts(indices, len(y))
            summary, _ = _batched_summary_and_per_label(y, p, pred, counts)
            columns = [summary[:, ML_SUMMARY.index(m)] for m in EXTERNAL_METRICS[:5]]
            return np.column_stack([*columns, cal(indices)])

        return values

    def calibrated(calibrator):
        method = getattr(calibrator, "predict_proba", None) or getattr(
            calibrator, "transform", None
        )
        if method is None:
            raise TypeError(
                "calibrator must have predict_proba or transform mapping "
                f"(n, {n_labels}) label probabilities to calibrated ones."
            )
        return proba("the calibrator's output", method(pe), len(pe))

    return _Problem(
        y_internal=yi,
        p_internal=pi,
        y_external=ye,
        p_external=pe,
        strata_internal=np.zeros(len(yi), dtype=int),
        strata_external=np.zeros(len(ye), dtype=int),
        stratify=False,
        labels=labels,
        threshold=tuple(thr.tolist()),
        multilabel=True,
        statistic=statistic,
        calibration=calibration,
        calibrated=calibrated,
        curve_inputs=lambda p: (ye.reshape(-1), p.reshape(-1)),
        counts=lambda y: tuple(y.sum(axis=0).tolist()),
    )


@dataclass(frozen=True)
class IntensityStatistics:
    """Pixel-intensity summary of one image set.

    Attributes
    ----------
    n_images : int
    mean, sd : float
        Of all pixels (pooled over images).
    percentiles : tuple of (float, float)
        ``(q, value)`` pairs of the pixel intensities.
    image_means : ndarray of shape (n_images,)
        Each image's mean intensity (what the standardised difference uses).
    """

    n_images: int
    mean: float
    sd: float
    percentiles: tuple[tuple[float, float], ...]
    image_means: np.ndarray


#: Pixel-intensity percentiles reported per set.
_PERCENTILES = (1.0, 5.0, 25.0, 50.0, 75.0, 95.0, 99.0)


def intensity_statistics(images, *, max_pixels_per_image: int = 4096, random_state=0):
    """Intensity statistics of a set of images (arrays of any shape).

    Parameters
    ----------
    images : iterable of array-like
        One array per image (grey or colour, any size; the images may differ
        in size), as the model reads them (before normalisation).
    max_pixels_per_image : int, default=4096
        Pixels drawn per image (without replacement, seeded) for the
        percentiles; all of a smaller image. The mean and SD use every pixel.
    random_state : int, default=0

    Returns
    -------
    IntensityStatistics
    """
    check_int("max_pixels_per_image", max_pixels_per_image, minimum=1)
    rng = check_random_state(random_state)
    means, sums, squares, sizes, sample = [], 0.0, 0.0, 0, []
    for i, image in enumerate(images):
        x = np.asarray(image, dtype=float).ravel()
        if x.size == 0 or not np.isfinite(x).all():
            raise ValueError(f"Image {i} is empty or holds NaN or infinite pixels.")
        means.append(x.mean())
        sums += x.sum()
        squares += np.square(x).sum()
        sizes += x.size
        if x.size > max_pixels_per_image:
            x = x[rng.choice(x.size, max_pixels_per_image, replace=False)]
        sample.append(x)
    if not means:
        raise ValueError("images is empty: give at least one image.")
    mean = sums / sizes
    sd = float(np.sqrt(max(squares / sizes - mean**2, 0.0)))
    values = np.percentile(np.concatenate(sample), _PERCENTILES)
    return IntensityStatistics(
        n_images=len(means),
        mean=float(mean),
        sd=sd,
        percentiles=tuple(zip(_PERCENTILES, values.tolist(), strict=True)),
        image_means=np.asarray(means),
    )


@dataclass(frozen=True)
class ShiftDiagnostic:
    """The outcome of :func:`distribution_shift`.

    Attributes
    ----------
    mmd2 : float
        Squared maximum mean discrepancy (biased V-statistic) between the
        internal and external embeddings, Gaussian kernel; 0 when the two
        distributions are equal.
    p_value : float
        Permutation p-value of ``mmd2`` (``(1 + #{permuted >= observed}) /
        (1 + n_permutations)``).
    bandwidth : float
        The kernel's length scale: the median distance between embeddings.
    n_permutations : int
    n_internal, n_external : int
        Embeddings used (at most ``max_samples`` per set, drawn seeded).
    intensity_internal, intensity_external : IntensityStatistics or None
    intensity_smd : float or None
        Standardised mean difference of the per-image mean intensities,
        external minus internal over the pooled SD (Cohen's d).
    """

    mmd2: float
    p_value: float
    bandwidth: float
    n_permutations: int
    n_internal: int
    n_external: int
    intensity_internal: IntensityStatistics | None = None
    intensity_external: IntensityStatistics | None = None
    intensity_smd: float | None = None


def _embeddings(name: str, x) -> np.ndarray:
    x = check_finite(name, np.asarray(x, dtype=float))
    if x.ndim != 2 or len(x) < 2:
        raise ValueError(
            f"{name} must be a 2-D array (n_images, n_features) with at least two "
            f"rows; got shape {x.shape}."
        )
    return x


def distribution_shift(
    embeddings_internal,
    embeddings_external,
    images_internal=None,
    images_external=None,
    *,
    n_permutations: int = 500,
    max_samples: int = 2000,
    random_state=BOOTSTRAP_SEED,
) -> ShiftDiagnostic:
    """How far the external images lie from the internal ones.

    **Embeddings.** A Gaussian-kernel maximum mean discrepancy (MMD; Gretton
    et al., JMLR 2012) between the frozen-backbone embeddings of the two
    sets, with the median-distance bandwidth and a permutation p-value. MMD
    rather than a Fréchet distance: it needs no covariance matrix (an
    embedding has more dimensions, 1280 for EfficientNet-Lite0, than a small
    external set has images, where the Fréchet distance's covariance is
    singular and its bias large), it is 0 exactly when the distributions
    agree, and its permutation test is exact at any size. The cost is one
    ``(n, n)`` kernel matrix of the pooled embeddings and one matrix product
    for all permutations: seconds for two thousand images per set (sets are
    subsampled to ``max_samples`` each, seeded).

    **Intensities.** With images given, :func:`intensity_statistics` per set
    and the standardised mean difference of the per-image mean intensities.

    Parameters
    ----------
    embeddings_internal, embeddings_external : array-like of shape (n, d)
        Embeddings of the internal and external images by the same frozen
        backbone (the study's embedding cache).
    images_internal, images_external : iterable of array-like, optional
        The images (both or neither).
    n_permutations : int, default=500
    max_samples : int, default=2000
    random_state : int, RandomState instance or None, default=BOOTSTRAP_SEED

    Returns
    -------
    ShiftDiagnostic

    Examples
    --------
    >>> import numpy as np
    >>> from skmedtl.metrics import distribution_shift
    >>> rng = np.random.default_rng(0)
    >>> a, b = rng.normal(0, 1, (200, 8)), rng.normal(0.5, 1, (200, 8))
    >>> distribution_shift(a, b, n_permutations=200).p_value < 0.01
    True
    """
    xi = _embeddings("embeddings_internal", embeddings_internal)
    xe = _embeddings("embeddings_external", embeddings_external)
    if xi.shape[1] != xe.shape[1]:
        raise ValueError(
            f"The embeddings have {xi.shape[1]} and {xe.shape[1]} features: embed "
            "both sets with the same backbone."
        )
    check_int("n_permutations", n_permutations, minimum=1)
    check_int("max_samples", max_samples, minimum=2)
    if (images_internal is None) != (images_external is None):
        raise ValueError("Give images_internal and images_external together.")
    rng = check_random_state(random_state)
    if len(xi) > max_samples:
        xi = xi[np.sort(rng.choice(len(xi), max_samples, replace=False))]
    if len(xe) > max_samples:
        xe = xe[np.sort(rng.choice(len(xe), max_samples, replace=False))]
    pooled = np.vstack([xi, xe])
    squared = np.square(pooled).sum(axis=1)
    d2 = np.maximum(squared[:, None] + squared[None] - 2 * pooled @ pooled.T, 0.0)
    off = d2[np.triu_indices(len(pooled), 1)]
    bandwidth = float(np.sqrt(np.median(off[off > 0]))) if (off > 0).any() else 1.0
    kernel = np.exp(-d2 / (2 * bandwidth**2))
    n, m = len(xi), len(xe)
    # MMD^2 (V-statistic) is s' K s with s = 1/n on internal rows, -1/m on
    # external ones; every permutation is a column of S, all in one product.
    signs = np.r_[np.full(n, 1 / n), np.full(m, -1 / m)]
    columns = [signs] + [rng.permutation(signs) for _ in range(n_permutations)]
    s = np.column_stack(columns)
    values = np.einsum("ij,ij->j", s, kernel @ s)
    observed = float(max(values[0], 0.0))
    p_value = float(
        (1 + np.sum(values[1:] >= values[0] - 1e-12)) / (1 + n_permutations)
    )
    stats_i = stats_e = smd = None
    if images_internal is not None:
        stats_i = intensity_statistics(images_internal)
        stats_e = intensity_statistics(images_external)
        pooled_sd = (
            np.sqrt(
                (
                    np.var(stats_i.image_means, ddof=1)
                    + np.var(stats_e.image_means, ddof=1)
                )
                / 2
            )
            if min(stats_i.n_images, stats_e.n_images) > 1
            else 0.0
        )
        diff = stats_e.image_means.mean() - stats_i.image_means.mean()
        smd = float(diff / pooled_sd) if pooled_sd > 0 else float("nan")
    return ShiftDiagnostic(
        mmd2=observed,
        p_value=p_value,
        bandwidth=bandwidth,
        n_permutations=n_permutations,
        n_internal=n,
        n_external=m,
        intensity_internal=stats_i,
        intensity_external=stats_e,
        intensity_smd=smd,
    )
