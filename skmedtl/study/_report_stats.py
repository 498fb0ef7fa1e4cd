"""The report's statistics sections, rendered from the pooled results.

Paired comparisons of the selected configuration with every other, calibration
before and after recalibration, the operating point chosen on validation,
per-class AUC and ordinal agreement: each a list of report blocks (see
:mod:`._report_render`) built from the results table and the report context.
"""

from __future__ import annotations

from ..metrics import CONFIDENCE
from ._evaluate import METRICS
from ._limitations import limitations  # noqa: F401 - imported by _save
from ._methods import rule_text
from ._report_format import p_text, row_interval, thresholds_text
from ._stats import ALPHA, ECE_BINS
from ._task import Task

__all__ = [
    "calibration_blocks",
    "comparison_blocks",
    "operating_point_blocks",
    "ordinal_blocks",
    "per_class_blocks",
    "statistics_blocks",
]


def statistics_blocks(results, context: dict) -> list:
    """Sections: comparisons, calibration, operating point, per class, ordinal."""
    rows, rec = results.table, results.recommendation
    if rec is None or not rows:
        return []
    return [
        *comparison_blocks(results, context),
        *calibration_blocks(rows, context),
        *operating_point_blocks(rows, context),
        *per_class_blocks(rows, context),
        *ordinal_blocks(rows, context),
    ]


def _metric_name(context: dict) -> str:
    name = METRICS[context["metric"]]
    if _per_label(context):
        name = f"mean per-label {name}"
    return name


def _per_label(context: dict) -> bool:
    return Task.of_mapping(context["dataset"]).per_label


def _comparison_table(comparisons: list[dict], name: str) -> tuple:
    """One row per other configuration; DeLong's columns for a binary AUC."""
    binary_auc = comparisons[0]["p_delong"] is not None
    header = [
        "configuration",
        f"test {name}",
        f"difference (selected - other) [{CONFIDENCE:.0%} CI]",
        "p (bootstrap)",
        "p Holm",
    ]
    if binary_auc:
        header += ["p (DeLong)", "p Holm (DeLong)"]
    header.append("distinguishable")
    body = []
    for c in comparisons:
        line = [
            c["config"],
            f"{c['estimate_other']:.3f}",
            f"{c['difference']:+.3f} [{c['ci_low']:+.3f}, {c['ci_high']:+.3f}]",
            p_text(c["p_bootstrap"]),
            p_text(c["p_bootstrap_holm"]),
        ]
        if binary_auc:
            line += [p_text(c["p_delong"]), p_text(c["p_delong_holm"])]
        line.append("yes" if c["significant"] else "no")
        body.append(line)
    return ("table", header, body)


def _comparison_text(comparisons: list[dict], selected: str, context: dict) -> str:
    """What was compared, how, and how many differences are distinguishable."""
    name, per_label = _metric_name(context), _per_label(context)
    binary_auc = comparisons[0]["p_delong"] is not None
    n_sig = sum(c["significant"] for c in comparisons)
    resampling = (
        "bootstrap of images (stratified by the first label; "
        if per_label
        else "stratified bootstrap ("
    )
    delong = (
        "; DeLong's test for two correlated ROC curves on the seed-mean "
        "scores is the primary test"
        if binary_auc
        else ""
    )
    return (
        f"**{selected}** (selected on validation, test {name} "
        f"{comparisons[0]['estimate_selected']:.3f}) against each other "
        f"configuration on the same {context['n_test']} test images. "
        f"Differences: paired {resampling}the same resamples for "
        f"both; {context['settings'].get('n_bootstraps')} resamples) of the "
        f"seed-mean {name}{delong}. P-values are Holm-corrected over the "
        f"{len(comparisons)} comparisons; 'distinguishable' means corrected "
        f"p < {ALPHA}. {n_sig} of {len(comparisons)} configurations are "
        "distinguishable from the selected one. A configuration that is not "
        "distinguishable is not shown to be equivalent either."
    )


def comparison_blocks(results, context: dict) -> list:
    """Paired comparisons of the selected configuration with every other."""
    blocks: list = [("h2", "Paired comparisons with the selected configuration")]
    comparisons = results.comparisons
    if not comparisons:
        blocks.append(("p", "Only one configuration finished: nothing to compare."))
        return blocks
    selected = results.recommendation["best"]["config"]
    return blocks + [
        ("p", _comparison_text(comparisons, selected, context)),
        _comparison_table(comparisons, _metric_name(context)),
    ]


def calibration_blocks(rows: list[dict], context: dict) -> list:
    """Brier score and ECE, before and after recalibration."""
    per_label = _per_label(context)
    blocks: list = []
    calibrate = context.get("calibrate", "none")
    blocks.append(("h2", "Calibration"))
    header = ["configuration", "Brier [95% CI]", f"ECE ({ECE_BINS} bins) [95% CI]"]
    if calibrate != "none":
        header += [f"Brier after {calibrate}", f"ECE after {calibrate}"]
    body = []
    for r in rows:
        line = [r["config"], row_interval(r, "brier"), row_interval(r, "ece")]
        if calibrate != "none":
            line += [
                row_interval(r, "brier_calibrated"),
                row_interval(r, "ece_calibrated"),
            ]
        body.append(line)
    what = (
        "Brier score (mean squared error of the predicted probabilities; "
        "several classes: summed over classes) and expected calibration error "
        f"with {ECE_BINS} equal-mass bins (two classes: of the positive class's "
        "probability; more: of the top-label confidence), on the test set, "
        "with stratified bootstrap CIs."
    )
    if per_label:
        what = (
            "Multi-label: Brier score and expected calibration error "
            f"({ECE_BINS} equal-mass bins) of each label's probability as a "
            "binary problem, averaged over labels (per label: the per-label "
            "table), on the test set, with bootstrap CIs over images (stratified "
            "by the first label)."
        )
    blocks += [
        (
            "p",
            what + " A finite test set gives a positive ECE "
            "even for a perfectly calibrated model."
            + (
                f" Recalibration ({calibrate}) was fitted on each model's "
                + ("per-label " if per_label else "")
                + "validation predictions and applied to its test predictions; AUC "
                "and accuracy are those of the uncalibrated model."
                if calibrate != "none"
                else " No recalibration (`--calibrate none`)."
            ),
        ),
        ("table", header, body),
    ]

    return blocks


def operating_point_blocks(rows: list[dict], context: dict) -> list:
    """Sensitivity and specificity at the threshold chosen on validation."""
    calibrate = context.get("calibrate", "none")
    blocks: list = []
    if any(r.get("sensitivity_at_threshold") is not None for r in rows):
        rule, target = context.get("operating_point", ("youden", None))
        blocks.append(("h2", "Operating point chosen on validation"))
        header = [
            "configuration",
            "threshold",
            "sensitivity [95% CI]",
            "specificity [95% CI]",
            "sensitivity at argmax",
            "specificity at argmax",
        ]
        body = [
            [
                r["config"],
                thresholds_text(r.get("threshold")),
                row_interval(r, "sensitivity_at_threshold"),
                row_interval(r, "specificity_at_threshold"),
                row_interval(r, "sensitivity"),
                row_interval(r, "specificity"),
            ]
            for r in rows
        ]
        blocks += [
            (
                "p",
                f"Each model's threshold on the positive-class probability"
                f"{' (after recalibration)' if calibrate != 'none' else ''} was "
                f"chosen on its validation predictions by {rule_text(rule, target)}"
                ", then applied unchanged to the test set (with several seeds, "
                "each seed's threshold, in seed order). Beside it: the "
                "most-probable-class decision (argmax, a 0.5 threshold).",
            ),
            ("table", header, body),
        ]

    return blocks


def per_class_blocks(rows: list[dict], context: dict) -> list:
    """One-vs-rest AUC of each class (three or more classes)."""
    blocks: list = []
    class_cols = sorted(
        {k for r in rows for k in r if k.startswith("auc_class_")}
        - {k for r in rows for k in r if k.endswith(("_low", "_high"))},
        key=lambda k: int(k.removeprefix("auc_class_")),
    )
    if class_cols:
        classes = context["dataset"]["classes"]
        if len(classes) != len(class_cols):
            classes = [c.removeprefix("auc_class_") for c in class_cols]
        blocks += [
            ("h2", "Per-class AUC (one vs rest)"),
            (
                "table",
                ["configuration", *classes],
                [
                    [r["config"], *(row_interval(r, c) for c in class_cols)]
                    for r in rows
                ],
            ),
        ]
    return blocks


def ordinal_blocks(rows: list[dict], context: dict) -> list:
    """Quadratic weighted kappa and MAE, with the grade order (ordinal studies)."""
    blocks: list = []
    if context.get("task") == "ordinal":
        blocks += [
            ("h2", "Ordinal agreement"),
            (
                "p",
                "Quadratic weighted kappa and mean absolute error in grades of the "
                "most probable grade, with stratified bootstrap CIs; grades, lowest "
                f"first: {_grade_order(context)}.",
            ),
            (
                "table",
                ["configuration", "QWK [95% CI]", "MAE (grades) [95% CI]"],
                [
                    [r["config"], row_interval(r, "qwk"), row_interval(r, "mae")]
                    for r in rows
                ],
            ),
        ]
    return blocks


def _grade_order(context: dict) -> str:
    """The grades of an ordinal study in words, lowest first."""
    grades = context.get("grades")
    if grades:
        return " < ".join(grades)
    names = context.get("dataset", {}).get("classes") or []
    order = " < ".join(str(n) for n in names)
    return f"{order} (the labels' increasing order)" if order else "the labels' order"
