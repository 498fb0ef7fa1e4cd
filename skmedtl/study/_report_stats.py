"""Report sections on selection, comparisons, calibration, operating points,
the Methods paragraph and limitations; ``predictions.csv`` and reliability
diagrams."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..metrics import CONFIDENCE
from ._evaluate import METRICS
from ._stats import ALPHA, ECE_BINS
from ._task import MULTILABEL

__all__ = [
    "limitations",
    "methods_paragraph",
    "plot_reliability",
    "statistics_blocks",
]


def _ci(triple_or_row, name: str | None = None) -> str:
    if name is None:
        est, low, high = triple_or_row
    else:
        est = triple_or_row.get(name)
        low = triple_or_row.get(f"{name}_low")
        high = triple_or_row.get(f"{name}_high")
    if est is None or est != est:
        return "n/a"
    if low is None or low != low:
        return f"{est:.3f}"
    return f"{est:.3f} [{low:.3f}, {high:.3f}]"


def _p(value) -> str:
    if value is None:
        return "–"
    return "<0.001" if value < 0.001 else f"{value:.3f}"


def _rule_text(rule: str, target) -> str:
    if rule == "sensitivity":
        return f"the most specific threshold with sensitivity >= {target:g}"
    if rule == "specificity":
        return f"the most sensitive threshold with specificity >= {target:g}"
    return "Youden's J (sensitivity + specificity - 1) at its maximum"


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
    if _multilabel(context):
        name = f"mean per-label {name}"
    return name


def _multilabel(context: dict) -> bool:
    return context["dataset"].get("task") == MULTILABEL


def comparison_blocks(results, context: dict) -> list:
    """Paired comparisons of the selected configuration with every other."""
    name = _metric_name(context)
    multilabel = _multilabel(context)
    selected = results.recommendation["best"]["config"]
    blocks: list = [("h2", "Paired comparisons with the selected configuration")]
    comparisons = results.comparisons
    if comparisons:
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
                _p(c["p_bootstrap"]),
                _p(c["p_bootstrap_holm"]),
            ]
            if binary_auc:
                line += [_p(c["p_delong"]), _p(c["p_delong_holm"])]
            line.append("yes" if c["significant"] else "no")
            body.append(line)
        n_sig = sum(c["significant"] for c in comparisons)
        blocks += [
            (
                "p",
                f"**{selected}** (selected on validation, test {name} "
                f"{comparisons[0]['estimate_selected']:.3f}) against each other "
                f"configuration on the same {context['n_test']} test images. "
                "Differences: paired "
                + (
                    "bootstrap of images (stratified by the first label; "
                    if multilabel
                    else "stratified bootstrap ("
                )
                + "the same resamples for "
                f"both; {context['settings'].get('n_bootstraps')} resamples) of the "
                f"seed-mean {name}"
                + (
                    "; DeLong's test for two correlated ROC curves on the seed-mean "
                    "scores is the primary test"
                    if binary_auc
                    else ""
                )
                + f". P-values are Holm-corrected over the {len(comparisons)} "
                f"comparisons; 'distinguishable' means corrected p < {ALPHA}. "
                f"{n_sig} of {len(comparisons)} configurations are distinguishable "
                "from the selected one. A configuration that is not distinguishable "
                "is not shown to be equivalent either.",
            ),
            ("table", header, body),
        ]
    else:
        blocks.append(("p", "Only one configuration finished: nothing to compare."))

    return blocks


def calibration_blocks(rows: list[dict], context: dict) -> list:
    """Brier score and ECE, before and after recalibration."""
    multilabel = _multilabel(context)
    blocks: list = []
    calibrate = context.get("calibrate", "none")
    blocks.append(("h2", "Calibration"))
    header = ["configuration", "Brier [95% CI]", f"ECE ({ECE_BINS} bins) [95% CI]"]
    if calibrate != "none":
        header += [f"Brier after {calibrate}", f"ECE after {calibrate}"]
    body = []
    for r in rows:
        line = [r["config"], _ci(r, "brier"), _ci(r, "ece")]
        if calibrate != "none":
            line += [_ci(r, "brier_calibrated"), _ci(r, "ece_calibrated")]
        body.append(line)
    what = (
        "Brier score (mean squared error of the predicted probabilities; "
        "several classes: summed over classes) and expected calibration error "
        f"with {ECE_BINS} equal-mass bins (two classes: of the positive class's "
        "probability; more: of the top-label confidence), on the test set, "
        "with stratified bootstrap CIs."
    )
    if multilabel:
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
                + ("per-label " if multilabel else "")
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
                "–" if r.get("threshold") is None else f"{r['threshold']:.3f}",
                _ci(r, "sensitivity_at_threshold"),
                _ci(r, "specificity_at_threshold"),
                _ci(r, "sensitivity"),
                _ci(r, "specificity"),
            ]
            for r in rows
        ]
        blocks += [
            (
                "p",
                f"Each model's threshold on the positive-class probability"
                f"{' (after recalibration)' if calibrate != 'none' else ''} was "
                f"chosen on its validation predictions by {_rule_text(rule, target)}"
                ", then applied unchanged to the test set. Beside it: the "
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
                [[r["config"], *(_ci(r, c) for c in class_cols)] for r in rows],
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
                [[r["config"], _ci(r, "qwk"), _ci(r, "mae")] for r in rows],
            ),
        ]
    return blocks


def methods_paragraph(results, context: dict) -> str:
    """A Methods paragraph following the CLAIM items that apply to the study."""
    ds, s = context["dataset"], context["settings"]
    manifest = context.get("manifest") or {}
    packages = manifest.get("packages") or {}
    counts = ds["counts"]
    multilabel = ds.get("task") == MULTILABEL  # counts are positives per label
    n = ds.get("n_per_split") or {
        part: sum(counts[part].values()) for part in ("train", "val", "test")
    }
    n_val = context.get("n_validation", n["val"])
    n_train = n["train"] + n["val"] - n_val
    metric = METRICS[context["metric"]]
    seeds = s.get("seeds") or []
    rule, target = context.get("operating_point", ("youden", None))
    calibrate = context.get("calibrate", "none")
    groups = ds.get("groups")

    def size(v):
        return "their native input size" if v is None else f"{v} x {v} pixels"

    parts = [
        f"Data: {ds['source']}, {ds['n_images']} images in {len(ds['classes'])} "
        f"classes ({', '.join(ds['classes'])})."
        if not multilabel
        else f"Data: {ds['source']}, {ds['n_images']} images with "
        f"{len(ds['classes'])} binary labels ({', '.join(ds['classes'])}), "
        "several possible per image.",
        f"Partitions: {n_train} training, {n_val} validation ({context['validation']})"
        f" and {n['test']} test images ({ds['test_protocol']}).",
        (
            f"Images were grouped by patient ({groups} patients) so that no patient "
            "contributed images to more than one partition."
            if groups
            else "No patient identifiers were available; images were treated as "
            "independent."
        ),
        f"Preprocessing: images were resized to {size(s.get('input_size'))} for the "
        "frozen-backbone approaches and to "
        f"{size(s.get('train_input_size'))} for the approaches that train the "
        "backbone, and normalised with the mean and standard deviation of each "
        "backbone's pretrained weights.",
        f"Models: backbone(s) {', '.join(s.get('backbones', []))} (weights: "
        f"{s.get('weights')}) were combined with the transfer-learning approaches "
        f"{', '.join(s.get('approaches', []))}.",
        "Training and selection: every model was fitted on the training partition "
        "only. The hyperparameters of the classifier heads (grid "
        f"'{s.get('head_grid')}'), the learning rate of the trained approaches (of "
        f"{s.get('lrs')}) and their early stopping (at most {s.get('max_epochs')} "
        f"epochs, patience {s.get('patience')}, best epoch restored) were chosen on "
        f"the validation partition. The reported configuration was selected by its "
        f"validation {metric}"
        + (f" (mean over {len(seeds)} seeds)" if len(seeds) > 1 else "")
        + " before the test partition was scored; each model predicted the test "
        "partition once, and no test result fed any choice.",
    ]
    if calibrate != "none":
        parts.append(
            f"Probabilities were recalibrated ({calibrate}"
            + (", one calibrator per label" if multilabel else "")
            + ") on the validation partition."
        )
    parts.append(
        "Per-label decision thresholds were chosen on the validation partition by "
        f"{_rule_text('youden', None)}."
        if multilabel
        else "Binary decision thresholds were chosen on the validation partition "
        f"by {_rule_text(rule, target)}."
    )
    over_seeds = (
        "; with several seeds, the mean over seeds, its standard deviation and "
        "the interval of the mean"
        if len(seeds) > 1
        else ""
    )
    if multilabel:
        parts.append(
            "Metrics: per label, AUC, accuracy, sensitivity and specificity at the "
            "validation thresholds, Brier score and expected calibration error "
            f"({ECE_BINS} equal-mass bins), each summarised by its mean over labels "
            "(the mean per-label AUC as MedMNIST reports it), and the micro-average "
            f"AUC, each with a {CONFIDENCE:.0%} bootstrap confidence interval over "
            f"images ({s.get('n_bootstraps')} resamples){over_seeds}."
        )
    else:
        parts.append(
            "Metrics: accuracy, balanced accuracy, area under the ROC curve (AUC; "
            "macro one-vs-rest for more than two classes), sensitivity, specificity, "
            f"Brier score and expected calibration error ({ECE_BINS} equal-mass bins)"
            + (
                ", quadratic weighted kappa and mean absolute error"
                if context.get("task") == "ordinal"
                else ""
            )
            + f", each with a {CONFIDENCE:.0%} stratified bootstrap confidence "
            f"interval ({s.get('n_bootstraps')} resamples){over_seeds}."
        )
    parts.append(
        "Statistical analysis: the selected configuration was compared with each "
        "other configuration on the same test images by a paired bootstrap of the "
        "difference"
        + (
            " and DeLong's test for correlated ROC curves"
            if len(ds["classes"]) == 2 and context["metric"] == "auc" and not multilabel
            else ""
        )
        + (
            f" in the mean per-label {metric} (images resampled, stratified by the "
            "first label)"
            if multilabel
            else ""
        )
        + "; p-values were corrected for multiple comparisons with Holm's method "
        f"(family-wise alpha = {ALPHA})."
    )
    software = ", ".join(
        f"{k} {v}"
        for k, v in packages.items()
        if v and k in ("skmedtl", "torch", "timm", "scikit-learn", "numpy", "python")
    )
    parts.append(
        f"Software: {software or 'skmedtl ' + str(context.get('version'))}; "
        f"device: {s.get('device')}."
    )
    return " ".join(parts)


def _grade_order(context: dict) -> str:
    """The grades of an ordinal study in words, lowest first."""
    grades = context.get("grades")
    if grades:
        return " < ".join(grades)
    names = context.get("dataset", {}).get("classes") or []
    order = " < ".join(str(n) for n in names)
    return f"{order} (the labels' increasing order)" if order else "the labels' order"


def limitations(results, context: dict) -> list[str]:
    """Limitations a reviewer would list, from the study's own settings."""
    ds, s = context["dataset"], context["settings"]
    external = context.get("external") or []
    items = [
        f"No external test set: all images come from one source ({ds['source']}); "
        "performance on data from other sites, scanners or populations is unknown."
        if not external
        else f"External test sets: {len(external)} "
        f"({', '.join(e['path'] for e in external)}); performance at other sites, "
        "scanners or populations than these is unknown.",
        "The test set's class prevalence is the data set's, not a clinical "
        "population's; predictive values are therefore not reported.",
    ]
    if not ds.get("groups"):
        items.append(
            "No patient identifiers: images of one patient may be in more than one "
            "partition, which can make validation and test results optimistic."
        )
    if context["n_test"] < 300:
        items.append(
            f"Small test set ({context['n_test']} images): wide intervals; "
            "differences of a few points between configurations cannot be detected."
        )
    if context.get("n_validation", 0) < 200:
        items.append(
            f"Small validation set ({context.get('n_validation')} images): the "
            "selection among configurations is noisy."
        )
    if len(s.get("seeds") or []) < 2:
        items.append(
            "One training seed per configuration: variation from training "
            "randomness is not reflected in the intervals."
        )
    if s.get("weights") is None:
        items.append(
            "Random initial weights (weights=None): this is not a transfer-learning "
            "result."
        )
    if len(results.cells) < results.n_cells:
        items.append(
            f"Incomplete: {results.n_cells - len(results.cells)} planned cells have "
            "no result."
        )
    return items


def plot_reliability(
    groups: dict, configs: list[str], path: Path, xlabel: str | None = None
) -> None:
    """Reliability diagrams (test set) of ``configs``; seed-mean probabilities.

    ``xlabel`` replaces the default axis label (multi-label studies pass
    records pooled over labels, see ``pooled_reliability_records``).
    """
    from ..metrics import reliability_curve
    from ._plots import _figure

    fig = _figure(4.2 * len(configs), 4.2)
    axes = fig.subplots(1, len(configs), squeeze=False)[0]
    for ax, config in zip(axes, configs, strict=True):
        records = groups[config]
        y = np.asarray(records[0]["y_true"])
        curves = [("predicted", "test_proba", "o-")]
        if records[0].get("test_proba_calibrated") is not None:
            method = records[0]["calibration"]["method"]
            curves.append((f"after {method}", "test_proba_calibrated", "s--"))
        for label, key, style in curves:
            proba = np.mean([np.asarray(r[key], dtype=float) for r in records], axis=0)
            if proba.shape[1] == 2:
                proba = proba[:, 1]
            c = reliability_curve(y, proba, n_bins=ECE_BINS, strategy="quantile")
            ax.plot(
                c.mean_predicted, c.observed, style, label=f"{label} (ECE {c.ece:.3f})"
            )
        ax.plot([0, 1], [0, 1], color="grey", linewidth=1, linestyle=":")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_xlabel(
            xlabel
            or "predicted probability"
            + (
                " (positive class)"
                if np.shape(records[0]["test_proba"])[1] == 2
                else " (top label)"
            )
        )
        ax.set_ylabel("observed frequency")
        ax.set_title(config, fontsize=9)
        ax.legend(loc="upper left", fontsize=8)
        ax.grid(True, alpha=0.3)
    fig.savefig(path)
