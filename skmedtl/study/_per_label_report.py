"""The report's per-label section of a multi-label study, and its pooled
reliability diagram.

Per label: the test AUC of every configuration (its first seed), then for the
recommended configuration sensitivity and specificity at the per-label
thresholds chosen on validation, AUC, Brier score and ECE, each with its
bootstrap interval.
"""

from __future__ import annotations

import numpy as np

from ..metrics import CONFIDENCE
from ._stats import ECE_BINS
from ._task import Task

__all__ = ["per_label_blocks", "pooled_reliability_records"]

_DETAIL_HEADER = [
    "label",
    "threshold",
    "sensitivity [95% CI]",
    "specificity [95% CI]",
    "AUC [95% CI]",
    "Brier [95% CI]",
    "ECE [95% CI]",
]


def _ci(value) -> str:
    est, low, high = value
    if est is None or np.isnan(est):
        return "n/a"
    return f"{est:.3f} [{low:.3f}, {high:.3f}]"


def _first_seeds(records: list[dict]) -> dict[str, dict]:
    """The first per-label record of each configuration, by ``backbone / approach``."""
    firsts: dict[str, dict] = {}
    for r in records:
        if Task.of_mapping(r).per_label:
            firsts.setdefault(f"{r['backbone']} / {r['approach']}", r)
    return firsts


def _auc_table(firsts: dict[str, dict], labels: list) -> tuple:
    """Per-label test AUC of every configuration, then the mean and micro AUC."""
    configs = list(firsts)
    first = firsts[configs[0]]
    header = ["label", "test positives", *(f"{c} AUC [95% CI]" for c in configs)]
    body = [
        [
            label,
            str(first["per_label"][label]["n_positive"]),
            *(_ci(firsts[c]["per_label"][label]["auc"]) for c in configs),
        ]
        for label in labels
    ]
    body.append(
        [
            "**mean (MedMNIST AUC)**",
            "",
            *(_ci(firsts[c]["metrics"]["auc"]) for c in configs),
        ]
    )
    body.append(["micro-average", "", *(_ci(firsts[c]["micro_auc"]) for c in configs)])
    return ("table", header, body)


def _detail_table(record: dict, labels: list) -> tuple:
    """Threshold, sensitivity, specificity, AUC, Brier and ECE of each label."""
    per_label, extras = record["per_label"], record["extras"]
    body = [
        [
            label,
            f"{per_label[label]['threshold']:.3f}",
            _ci(per_label[label]["sensitivity"]),
            _ci(per_label[label]["specificity"]),
            _ci(per_label[label]["auc"]),
            *(
                _ci(extras.get(f"{m}_label_{j}", (np.nan,) * 3))
                for m in ("brier", "ece")
            ),
        ]
        for j, label in enumerate(labels)
    ]
    return ("table", _DETAIL_HEADER, body)


def per_label_blocks(records: list[dict], recommendation) -> list:
    """Report blocks of a multi-label study: per-label AUC, sensitivity, specificity.

    Empty for single-label studies. One column per configuration (its first
    seed); for the best configuration also sensitivity and specificity at the
    per-label thresholds chosen on validation.
    """
    firsts = _first_seeds(records)
    if not firsts:
        return []
    labels = list(next(iter(firsts.values()))["per_label"])
    best = (recommendation or {}).get("best", {}).get("config")
    best = best if best in firsts else next(iter(firsts))
    return [
        ("h2", "Per-label results"),
        (
            "p",
            f"Multi-label data: {len(labels)} labels, each a binary problem. The AUC "
            "of the results table is the mean of the per-label AUCs (as MedMNIST "
            "reports it for ChestMNIST); ACC is the mean per-label accuracy. Test-"
            f"set {CONFIDENCE:.0%} bootstrap intervals over images; per "
            "configuration its first seed.",
        ),
        _auc_table(firsts, labels),
        (
            "p",
            f"Sensitivity and specificity of {best} at per-label decision "
            "thresholds chosen on validation data (Youden's J), never on the test "
            "set; Brier score and expected calibration error "
            f"({ECE_BINS} equal-mass bins) "
            "of each label's probability before any recalibration:",
        ),
        _detail_table(firsts[best], labels),
    ]


def pooled_reliability_records(records: list[dict]) -> list[dict]:
    """Records whose predictions are every label's, pooled into one binary problem.

    What :func:`~skmedtl.study._reliability.plot_reliability` draws for a
    multi-label configuration: one reliability curve over all (image, label)
    pairs (label order kept), before and after recalibration.
    """

    def binary(P):
        p = np.asarray(P, dtype=float).ravel()
        return np.column_stack([1 - p, p])

    out = []
    for r in records:
        cal = r.get("test_proba_calibrated")
        out.append(
            {
                "y_true": np.asarray(r["y_true"]).ravel(),
                "test_proba": binary(r["test_proba"]),
                "test_proba_calibrated": None if cal is None else binary(cal),
                "calibration": r["calibration"],
            }
        )
    return out
