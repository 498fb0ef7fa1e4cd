"""Report sections on selection, comparisons, calibration, operating points,
the Methods paragraph and limitations; ``predictions.csv`` and reliability
diagrams."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..metrics import CONFIDENCE
from ._evaluate import METRICS
from ._stats import ALPHA, ECE_BINS
from ._task import Task

__all__ = [
    "MethodFacts",
    "limitations",
    "method_facts",
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


@dataclass(frozen=True)
class MethodFacts:
    """What the finished cells recorded they did: the Methods are built from it.

    Attributes
    ----------
    training : dict
        ``{approach: (min epochs run, max epochs run, max_epochs, patience,
        learning rates tried, learning rates chosen)}`` of the trained
        approaches.
    heads : tuple of str
        Hybrid heads tuned by inner CV (``"logreg"``, ``"xgboost"``, ...).
    heads_on_validation : tuple of str
        Hybrid heads whose grid value the validation set chose (multi-label
        heads, not yet tuned inside the training images).
    inner_folds : tuple of int
        Inner CV folds the hybrid heads were tuned with.
    inner_fraction : float or None
        Share of training images the trained approaches held out.
    input_sizes : dict
        ``{input size text: (approaches)}``.
    engines : tuple of str
        Engines of the frozen backbones' embeddings other than PyTorch.
    packages : tuple of str
        Packages the finished cells used beyond the core ones.
    n_comparisons : int
    """

    training: dict
    heads: tuple
    heads_on_validation: tuple
    inner_folds: tuple
    inner_fraction: float | None
    input_sizes: dict
    engines: tuple
    packages: tuple
    n_comparisons: int


def _size_text(value) -> str:
    if isinstance(value, (list, tuple)) and len(value) == 2:
        return f"{value[0]} x {value[1]} pixels"
    return "an unrecorded size" if value is None else f"{value} x {value} pixels"


def method_facts(results) -> MethodFacts:
    """The facts of the Methods, from ``results.cells`` (what each cell did)."""
    training: dict = {}
    heads, folds, fractions, engines = [], set(), set(), set()
    on_validation: list = []
    sizes: dict = {}
    for c in results.cells:
        selection = c.get("selection") or {}
        if isinstance(selection, str):  # a row read back from a CSV: not recorded
            selection = {}
        approach = c["approach"]
        sizes.setdefault(_size_text(c.get("input_size")), []).append(approach)
        device = c.get("device") or ""
        if "embeddings by " in device:
            engines.add(device.split("embeddings by ", 1)[1].strip())
        if approach.startswith("hybrid-"):
            if selection.get("scheme") == "validation split":  # per-label heads
                on_validation.append(approach.removeprefix("hybrid-"))
                continue
            heads.append(approach.removeprefix("hybrid-"))
            if selection.get("inner_folds") is not None:
                folds.add(int(selection["inner_folds"]))
            continue
        epochs = c.get("epochs")
        lrs = tuple(selection.get("lrs_tried") or ())
        lo, hi, cap, patience, tried, chosen = training.get(
            approach, (epochs, epochs, None, None, lrs, ())
        )
        training[approach] = (
            min(v for v in (lo, epochs) if v is not None) if epochs else lo,
            max(v for v in (hi, epochs) if v is not None) if epochs else hi,
            selection.get("max_epochs", cap),
            selection.get("patience", patience),
            tried or lrs,
            tuple(dict.fromkeys((*chosen, c.get("lr")))),
        )
        if selection.get("inner_fraction") is not None:
            fractions.add(float(selection["inner_fraction"]))
    packages = []
    if "xgboost" in heads or "xgboost" in on_validation:
        packages.append("xgboost")
    packages += sorted(engines)
    return MethodFacts(
        training=training,
        heads=tuple(dict.fromkeys(heads)),
        heads_on_validation=tuple(dict.fromkeys(on_validation)),
        inner_folds=tuple(sorted(folds)),
        inner_fraction=max(fractions) if fractions else None,
        input_sizes={k: tuple(dict.fromkeys(v)) for k, v in sizes.items()},
        engines=tuple(sorted(engines)),
        packages=tuple(packages),
        n_comparisons=len(results.comparisons or []),
    )


def _training_sentence(approach: str, facts: tuple) -> str:
    lo, hi, cap, patience, tried, chosen = facts
    ran = (
        "an unrecorded number of"
        if lo is None
        else (f"{lo}" if lo == hi else f"{lo} to {hi}")
    )
    text = f"{approach} trained for {ran} epochs"
    if cap is not None:
        text += f" (at most {cap}, patience {patience}, best epoch restored)"
    lr = ", ".join(f"{v:g}" for v in chosen if v is not None)
    if len(tried) > 1:
        text += (
            f" with the learning rate chosen from {', '.join(f'{v:g}' for v in tried)}"
            f" ({lr})"
        )
    elif lr:
        text += f" with learning rate {lr}"
    return text


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


def comparison_blocks(results, context: dict) -> list:
    """Paired comparisons of the selected configuration with every other."""
    name = _metric_name(context)
    per_label = _per_label(context)
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
                    if per_label
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
    per_label = _per_label(context)
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


def _thresholds(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, list):
        return "; ".join(f"{v:.3f}" for v in value)
    return f"{value:.3f}"


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
                _thresholds(r.get("threshold")),
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
    per_label = Task.of_mapping(ds).per_label  # counts are positives per label
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
    facts = method_facts(results)
    n_boot = s.get("n_bootstraps")

    parts = [
        f"Data: {ds['source']}, {ds['n_images']} images in {len(ds['classes'])} "
        f"classes ({', '.join(ds['classes'])})."
        if not per_label
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
        "Preprocessing: images were resized to "
        + "; to ".join(
            f"{size} for {', '.join(approaches)}"
            for size, approaches in facts.input_sizes.items()
        )
        + ", and normalised with the mean and standard deviation of each "
        "backbone's pretrained weights.",
        f"Models: backbone(s) {', '.join(s.get('backbones', []))} (weights: "
        f"{s.get('weights')}) were combined with the transfer-learning approaches "
        f"{', '.join(s.get('approaches', []))}.",
        _tuning_sentence(facts, s.get("head_grid"))
        + f" The reported configuration was selected by its validation {metric}"
        + (f" (mean over {len(seeds)} seeds)" if len(seeds) > 1 else "")
        + " before the test partition was scored; the validation partition was "
        "predicted once per model, each model predicted the test partition once, "
        "and no test result fed any choice.",
    ]
    if calibrate != "none":
        parts.append(
            f"Probabilities were recalibrated ({calibrate}"
            + (", one calibrator per label" if per_label else "")
            + ") on the validation partition."
        )
    parts.append(
        "Per-label decision thresholds were chosen on the validation partition by "
        f"{_rule_text('youden', None)}."
        if per_label
        else "Sensitivity and specificity in the main results table are those of "
        "the most probable class (argmax); in the operating-point table, those at "
        "a binary decision threshold chosen on the validation partition by "
        f"{_rule_text(rule, target)}."
    )
    over_seeds = (
        "; with several seeds, the mean over seeds, its standard deviation and "
        "the interval of the mean"
        if len(seeds) > 1
        else ""
    )
    if per_label:
        parts.append(
            "Metrics: per label, AUC, accuracy, sensitivity and specificity at the "
            "validation thresholds, Brier score and expected calibration error "
            f"({ECE_BINS} equal-mass bins), each summarised by its mean over labels "
            "(the mean per-label AUC as MedMNIST reports it), and the micro-average "
            f"AUC, each with a {CONFIDENCE:.0%} percentile bootstrap confidence "
            f"interval over images ({n_boot} resamples){over_seeds}."
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
            + f", each with a {CONFIDENCE:.0%} stratified percentile bootstrap "
            f"confidence interval ({n_boot} resamples){over_seeds}."
        )
    parts.append(
        "Statistical analysis: the selected configuration was compared with each "
        f"of the {facts.n_comparisons} other configurations on the same test "
        f"images by a paired stratified percentile bootstrap ({n_boot} resamples) "
        "of the difference"
        + (
            " and DeLong's test for correlated ROC curves (of the mean of per-seed "
            "AUCs)"
            if len(ds["classes"]) == 2 and context["metric"] == "auc" and not per_label
            else ""
        )
        + (
            f" in the mean per-label {metric} (images resampled, stratified by the "
            "first label)"
            if per_label
            else ""
        )
        + f"; the {facts.n_comparisons} p-values of each test were corrected for "
        f"multiple comparisons with Holm's method (family-wise alpha = {ALPHA})."
        if facts.n_comparisons
        else "Statistical analysis: one configuration, no comparison."
    )
    used = ("skmedtl", "torch", "timm", "scikit-learn", "numpy", "python")
    software = ", ".join(
        f"{k} {v}"
        for k, v in packages.items()
        if v and (k in used or k in facts.packages)
    )
    parts.append(
        f"Software: {software or 'skmedtl ' + str(context.get('version'))}; "
        f"device: {s.get('device')}."
    )
    return " ".join(parts)


def _tuning_sentence(facts: MethodFacts, head_grid) -> str:
    """How each approach was fitted and tuned, as the cells recorded it."""
    tuned = "" if facts.heads_on_validation else " and tuned"
    text = f"Training and tuning: every model was fitted{tuned} on the training "
    text += "partition only."
    if facts.heads:
        folds = " or ".join(str(k) for k in facts.inner_folds) or "no"
        text += (
            f" The hyperparameters of the classifier heads ({', '.join(facts.heads)};"
            f" grid '{head_grid}') were chosen by {folds}-fold stratified "
            "cross-validation inside the training partition, then refitted on all "
            "of it."
        )
    if facts.heads_on_validation:
        text += (
            " The hyperparameters of the per-label classifier heads ("
            f"{', '.join(facts.heads_on_validation)}; grid '{head_grid}') were "
            "chosen on the validation partition, which therefore also tuned them."
        )
    if facts.training:
        share = (
            f"{facts.inner_fraction:.0%}"
            if facts.inner_fraction is not None
            else "a share"
        )
        text += (
            f" The trained approaches held out {share} of the training partition "
            "for early stopping and the learning rate: "
            + "; ".join(_training_sentence(a, f) for a, f in facts.training.items())
            + "."
        )
    return text


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
    n_seeds = len(s.get("seeds") or [])
    items.append(
        "The bootstrap intervals resample the test images with the trained models "
        "held fixed: variation from training randomness is not in them"
        + (
            "; one training seed per configuration, so it is not measured at all."
            if n_seeds < 2
            else f"; it shows only in the spread over the {n_seeds} seeds (SD and "
            "t interval beside the test score)."
        )
    )
    facts = method_facts(results)
    if len(facts.input_sizes) > 1:
        items.append(
            "Approaches saw different input sizes ("
            + "; ".join(f"{k}: {', '.join(v)}" for k, v in facts.input_sizes.items())
            + "): their comparison mixes the approach with the resolution."
        )
    if facts.heads_on_validation:
        items.append(
            "The per-label heads ("
            + ", ".join(facts.heads_on_validation)
            + ") were tuned on the validation set that also selects: their "
            "validation scores are more optimistic than the others'."
        )
    disclosed = (results.recommendation or {}).get("optimism")
    if disclosed is not None:
        items.append(
            "The selected configuration's validation score is optimistic (best of "
            f"{len(disclosed['selection_rates'])}): bias-corrected estimate "
            f"{disclosed['corrected']:.3f}, optimism {disclosed['optimism']:+.3f}; "
            "the test score is the estimate to publish."
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
