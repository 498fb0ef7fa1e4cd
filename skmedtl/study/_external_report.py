"""The external test sets' section of a study's report.

One table per external set (each metric on the internal test set, on the
external set and their difference), then its calibration before and after the
validation-fitted calibrator, the validation-chosen operating point and the
distribution shift, from the :class:`~._external.ExternalResult` of each set.
"""

from __future__ import annotations

from ._external import ExternalResult
from ._report_format import interval_text

__all__ = ["external_section"]


def _ci(ci) -> str:
    """An estimate with its interval (a :class:`~skmedtl.metrics.CI`)."""
    return interval_text(ci.estimate, ci.low, ci.high)


_INTRO = (
    "predicted each external set once, after selection. Intervals: 95% stratified "
    "bootstrap per set; the difference (external minus internal test set) by an "
    "unpaired bootstrap of the two sets. Nothing here fed a choice."
)
_CALIBRATED_POINT = (
    "The operating point was chosen on recalibrated probabilities: sensitivity "
    "and specificity are at it (recalibrated); accuracy and balanced accuracy at "
    "0.5 on the model's own probabilities."
)


def _metrics_table(r: ExternalResult) -> tuple:
    body = [
        [
            m.metric,
            _ci(m.internal),
            _ci(m.external),
            _ci(m.difference),
            "worse" if m.worse_externally else "",
        ]
        for m in r.metrics()
    ]
    header = ["metric", "internal test", "external", "external - internal", ""]
    return ("table", header, body)


def _calibration_items(r: ExternalResult) -> list[str]:
    before, after = r.validation.calibration_before, r.validation.calibration_after
    items = [
        f"Calibration on the external set before recalibration: Brier "
        f"{_ci(before.brier)}, ECE {_ci(before.ece)} (a calibrated model would "
        f"score about {before.ece_if_calibrated:.3f})."
    ]
    if after is not None:
        items.append(
            f"After the validation-fitted calibrator: Brier {_ci(after.brier)}, "
            f"ECE {_ci(after.ece)}."
        )
    return items


def _operating_point_items(r: ExternalResult) -> list[str]:
    op = r.operating_point or (r.validation if r.threshold is not None else None)
    if op is None:
        return []
    sens, spec = op["sensitivity"], op["specificity"]
    return [
        f"At the validation-chosen operating point (threshold {r.threshold:.3f}): "
        f"sensitivity {_ci(sens.external)} (internal {_ci(sens.internal)}), "
        f"specificity {_ci(spec.external)} (internal {_ci(spec.internal)})."
    ]


def _shift_items(r: ExternalResult) -> list[str]:
    s = r.shift
    if s is None:
        return [r.note] if r.note else []
    text = (
        f"Shift: MMD² between the frozen embeddings of the internal test "
        f"and external images {s.mmd2:.4f} (permutation p = {s.p_value:.3g})"
    )
    if s.intensity_smd is not None:
        text += (
            f"; mean intensity {s.intensity_internal.mean:.1f} internal vs "
            f"{s.intensity_external.mean:.1f} external (standardised "
            f"difference of the per-image means {s.intensity_smd:.2f})"
        )
    return [text + "."]


def _set_blocks(r: ExternalResult) -> list:
    """The blocks of one external set."""
    blocks: list = [("p", f"**{r.path}** ({r.n_images} images)")]
    if r.operating_point is not None:
        blocks.append(("p", _CALIBRATED_POINT))
    items = [*_calibration_items(r), *_operating_point_items(r), *_shift_items(r)]
    return [*blocks, _metrics_table(r), ("ul", items)]


def external_section(results_ext: list[ExternalResult], selected: str) -> list:
    """The report blocks of the external test sets."""
    if not results_ext:
        return []
    blocks: list = [
        ("h2", "External test sets"),
        ("p", f"The selected model ({selected}) {_INTRO}"),
    ]
    for r in results_ext:
        blocks += _set_blocks(r)
    return blocks
