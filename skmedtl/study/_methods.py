"""The Methods paragraph, written from what the study was given and what it did.

Two typed sets of facts feed it (:mod:`._facts`): :class:`StudyFacts` (what
the study was given) and :class:`MethodFacts` (what its cells recorded they
did). Each sentence is a small function of these facts, so a sentence changes
exactly when its fact does.
"""

from __future__ import annotations

from ..metrics import CONFIDENCE
from ._facts import MethodFacts, StudyFacts, method_facts, study_facts
from ._stats import ALPHA, ECE_BINS

__all__ = ["methods_paragraph", "methods_sentences", "rule_text"]


def rule_text(rule: str, target) -> str:
    """The operating-point rule in words (as the Methods and tables state it)."""
    if rule == "sensitivity":
        return f"the most specific threshold with sensitivity >= {target:g}"
    if rule == "specificity":
        return f"the most sensitive threshold with specificity >= {target:g}"
    return "Youden's J (sensitivity + specificity - 1) at its maximum"


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
    if facts.heads_out_of_bag:
        text += (
            " The hyperparameters of the random-forest heads ("
            f"{', '.join(facts.heads_out_of_bag)}; grid '{head_grid}') were chosen "
            "by the out-of-bag predictions of their trees on the training "
            "partition (each image scored by the trees that did not draw it); "
            "the chosen forest is the one fitted on all of it."
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
    if facts.head_only:
        text += (
            f" {_names(facts.head_only)} unfroze no backbone block group before "
            "the restored epoch: "
            + ("its model is" if len(facts.head_only) == 1 else "their models are")
            + " a classifier head trained on the frozen backbone."
        )
    return text


def _names(approaches) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    *rest, last = approaches
    return f"{', '.join(rest)} and {last}" if rest else last


def _data_sentence(f: StudyFacts) -> str:
    names = ", ".join(f.classes)
    if f.per_label:
        return (
            f"Data: {f.source}, {f.n_images} images with {len(f.classes)} binary "
            f"labels ({names}), several possible per image."
        )
    return (
        f"Data: {f.source}, {f.n_images} images in {len(f.classes)} classes ({names})."
    )


def _partitions_sentence(f: StudyFacts) -> str:
    return (
        f"Partitions: {f.n_train} training, {f.n_validation} validation "
        f"({f.validation}) and {f.n_test} test images ({f.test_protocol})."
    )


def _patients_sentence(f: StudyFacts) -> str:
    if f.groups:
        return (
            f"Images were grouped by patient ({f.groups} patients) so that no patient "
            "contributed images to more than one partition."
        )
    return "No patient identifiers were available; images were treated as independent."


def _preprocessing_sentence(m: MethodFacts) -> str:
    sizes = "; to ".join(
        f"{size} for {', '.join(approaches)}"
        for size, approaches in m.input_sizes.items()
    )
    return (
        f"Preprocessing: images were resized to {sizes}, and normalised with the "
        "mean and standard deviation of each backbone's pretrained weights."
    )


def _models_sentence(f: StudyFacts) -> str:
    return (
        f"Models: backbone(s) {', '.join(f.backbones)} (weights: {f.weights}) were "
        "combined with the transfer-learning approaches "
        f"{', '.join(f.approaches)}."
    )


def _selection_sentence(f: StudyFacts) -> str:
    seeds = f" (mean over {f.n_seeds} seeds)" if f.n_seeds > 1 else ""
    return (
        f"The reported configuration was selected by its validation {f.metric_name}"
        f"{seeds} before the test partition was scored; the validation partition "
        "was predicted once per model, each model predicted the test partition "
        "once, and no test result fed any choice."
    )


def _calibration_sentence(f: StudyFacts) -> list[str]:
    if f.calibrate == "none":
        return []
    per_label = ", one calibrator per label" if f.per_label else ""
    return [
        f"Probabilities were recalibrated ({f.calibrate}{per_label}) on the "
        "validation partition."
    ]


def _threshold_sentence(f: StudyFacts) -> str:
    if f.per_label:
        return (
            "Per-label decision thresholds were chosen on the validation partition "
            f"by {rule_text('youden', None)}."
        )
    return (
        "Sensitivity and specificity in the main results table are those of "
        "the most probable class (argmax); in the operating-point table, those at "
        "a binary decision threshold chosen on the validation partition by "
        f"{rule_text(f.rule, f.target)}."
    )


def _metrics_sentence(f: StudyFacts) -> str:
    over_seeds = (
        "; with several seeds, the mean over seeds, its standard deviation and "
        "the interval of the mean"
        if f.n_seeds > 1
        else ""
    )
    if f.per_label:
        return (
            "Metrics: per label, AUC, accuracy, sensitivity and specificity at the "
            "validation thresholds, Brier score and expected calibration error "
            f"({ECE_BINS} equal-mass bins), each summarised by its mean over labels "
            "(the mean per-label AUC as MedMNIST reports it), and the micro-average "
            f"AUC, each with a {CONFIDENCE:.0%} percentile bootstrap confidence "
            f"interval over images ({f.n_bootstraps} resamples){over_seeds}."
        )
    ordinal = ", quadratic weighted kappa and mean absolute error" if f.ordinal else ""
    return (
        "Metrics: accuracy, balanced accuracy, area under the ROC curve (AUC; "
        "macro one-vs-rest for more than two classes), sensitivity, specificity, "
        f"Brier score and expected calibration error ({ECE_BINS} equal-mass bins)"
        f"{ordinal}, each with a {CONFIDENCE:.0%} stratified percentile bootstrap "
        f"confidence interval ({f.n_bootstraps} resamples){over_seeds}."
    )


def _statistics_sentence(f: StudyFacts, m: MethodFacts) -> str:
    k = m.n_comparisons
    if not k:
        return "Statistical analysis: one configuration, no comparison."
    delong = len(f.classes) == 2 and f.metric == "auc" and not f.per_label
    return (
        "Statistical analysis: the selected configuration was compared with each "
        f"of the {k} other configurations on the same test images by a paired "
        f"stratified percentile bootstrap ({f.n_bootstraps} resamples) of the "
        "difference"
        + (
            " and DeLong's test for correlated ROC curves (of the mean of per-seed "
            "AUCs)"
            if delong
            else ""
        )
        + (
            f" in the mean per-label {f.metric_name} (images resampled, stratified "
            "by the first label)"
            if f.per_label
            else ""
        )
        + f"; the {k} p-values of each test were corrected for multiple "
        f"comparisons with Holm's method (family-wise alpha = {ALPHA})."
    )


#: Packages every study uses (others are named when a cell used them).
_CORE_PACKAGES = ("skmedtl", "torch", "timm", "scikit-learn", "numpy", "python")


def _nested_sentence(f: StudyFacts) -> list[str]:
    if not f.outer_folds:
        return []
    grouping = ", patient-grouped" if f.outer_grouped else ""
    return [
        f"The whole selection protocol was also repeated in {f.outer_folds} "
        f"stratified{grouping} outer folds (nested cross-validation); the mean "
        "outer-test score of the configuration selected in each fold estimates "
        "the selection procedure."
    ]


def _software_sentence(f: StudyFacts, m: MethodFacts) -> str:
    software = ", ".join(
        f"{k} {v}"
        for k, v in f.packages.items()
        if v and (k in _CORE_PACKAGES or k in m.packages)
    )
    return f"Software: {software or 'skmedtl ' + str(f.version)}; device: {f.device}."


def _threads_sentence(m: MethodFacts) -> list[str]:
    """How many CPU threads trained the networks: their results depend on it."""
    if not m.train_threads:
        return []
    if len(m.train_threads) == 1:
        n = m.train_threads[0]
        return [
            f"The trained approaches ran on {n} PyTorch CPU thread"
            f"{'s' if n != 1 else ''}; PyTorch splits its CPU sums by thread, so "
            f"they reproduce on {n} (n_threads={n}, --threads {n})."
        ]
    counts = " and ".join(str(n) for n in m.train_threads)
    return [
        f"The trained approaches' cells ran on {counts} PyTorch CPU threads; "
        "PyTorch splits its CPU sums by thread, so each cell reproduces only on "
        "its own count (the device column)."
    ]


def methods_sentences(f: StudyFacts, m: MethodFacts) -> list[str]:
    """The Methods paragraph's sentences, in order (CLAIM items that apply)."""
    return [
        _data_sentence(f),
        _partitions_sentence(f),
        _patients_sentence(f),
        _preprocessing_sentence(m),
        _models_sentence(f),
        f"{_tuning_sentence(m, f.head_grid)} {_selection_sentence(f)}",
        *_calibration_sentence(f),
        _threshold_sentence(f),
        _metrics_sentence(f),
        _statistics_sentence(f, m),
        *_nested_sentence(f),
        _software_sentence(f, m),
        *_threads_sentence(m),
    ]


def methods_paragraph(results, context: dict) -> str:
    """A Methods paragraph following the CLAIM items that apply to the study."""
    facts = study_facts(context)
    return " ".join(methods_sentences(facts, method_facts(results)))
