"""The Methods paragraph, written from what the study was given and what it did.

Two typed sets of facts feed it: :class:`StudyFacts` (the data, partitions,
settings and software of the study, from its report context) and
:class:`MethodFacts` (what the finished cells recorded they did: epochs,
learning rates, tuning schemes, input sizes, engines). Each sentence is a small
function of these facts, so a sentence changes exactly when its fact does.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..metrics import CONFIDENCE
from ._evaluate import METRICS
from ._stats import ALPHA, ECE_BINS
from ._task import Task

__all__ = [
    "MethodFacts",
    "StudyFacts",
    "method_facts",
    "methods_paragraph",
    "methods_sentences",
    "rule_text",
    "study_facts",
]


def rule_text(rule: str, target) -> str:
    """The operating-point rule in words (as the Methods and tables state it)."""
    if rule == "sensitivity":
        return f"the most specific threshold with sensitivity >= {target:g}"
    if rule == "specificity":
        return f"the most sensitive threshold with specificity >= {target:g}"
    return "Youden's J (sensitivity + specificity - 1) at its maximum"


@dataclass(frozen=True)
class MethodFacts:
    """What the finished cells recorded they did, and what selection found.

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
        Other configurations compared with the selected one.
    n_missing : int
        Planned cells without a result.
    optimism : dict or None
        The selection's optimism disclosure (``None``: not estimated).
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
    n_missing: int = 0
    optimism: dict | None = None


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
        n_missing=results.n_cells - len(results.cells),
        optimism=(results.recommendation or {}).get("optimism"),
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


@dataclass(frozen=True)
class StudyFacts:
    """What the study was given, from its report context: the Methods' inputs.

    Attributes
    ----------
    source : str
        Where the images come from.
    n_images : int
    classes : tuple of str
        Class names (multi-label: label names).
    per_label : bool
        Multi-label: each label is a binary problem.
    ordinal : bool
        Ordinal task (kappa and MAE are reported).
    n_train, n_validation, n_test : int
        Images in the training, validation and test partitions.
    validation : str
        Where the validation partition comes from.
    test_protocol : str
        Where the test partition comes from.
    groups : int or None
        Number of patients (groups); ``None`` without patient ids.
    metric : str
        Selection metric (a key of ``METRICS``).
    n_seeds : int
    rule : str
        Operating-point rule (``"youden"``, ``"sensitivity"``, ``"specificity"``).
    target : float or None
        The rule's target sensitivity or specificity.
    calibrate : str
        Recalibration method (``"none"``: none).
    n_bootstraps : int or None
    backbones, approaches : tuple of str
    weights : str or None
    head_grid : str or None
    device : str or None
    packages : dict
        ``{package: version}`` recorded in the manifest.
    external : tuple of str
        Paths of the external test sets scored.
    version : str or None
        skmedtl's version (when the manifest has no packages).
    """

    source: str
    n_images: int
    classes: tuple
    per_label: bool
    ordinal: bool
    n_train: int
    n_validation: int
    n_test: int
    validation: str
    test_protocol: str
    groups: int | None
    metric: str
    n_seeds: int
    rule: str
    target: float | None
    calibrate: str
    n_bootstraps: int | None
    backbones: tuple
    approaches: tuple
    weights: str | None
    head_grid: str | None
    device: str | None
    packages: dict
    version: str | None
    external: tuple = ()

    @property
    def metric_name(self) -> str:
        """The selection metric's name (``"AUC"``)."""
        return METRICS[self.metric]


def study_facts(context: dict) -> StudyFacts:
    """The :class:`StudyFacts` of a report context."""
    ds, s = context["dataset"], context["settings"]
    counts = ds["counts"]  # multi-label: positives per label, not images
    n = ds.get("n_per_split") or {
        part: sum(counts[part].values()) for part in ("train", "val", "test")
    }
    n_val = context.get("n_validation", n["val"])
    rule, target = context.get("operating_point", ("youden", None))
    return StudyFacts(
        source=ds["source"],
        n_images=ds["n_images"],
        classes=tuple(ds["classes"]),
        per_label=Task.of_mapping(ds).per_label,
        ordinal=context.get("task") == "ordinal",
        n_train=n["train"] + n["val"] - n_val,
        n_validation=n_val,
        n_test=n["test"],
        validation=context["validation"],
        test_protocol=ds["test_protocol"],
        groups=ds.get("groups"),
        metric=context["metric"],
        n_seeds=len(s.get("seeds") or []),
        rule=rule,
        target=target,
        calibrate=context.get("calibrate", "none"),
        n_bootstraps=s.get("n_bootstraps"),
        backbones=tuple(s.get("backbones", [])),
        approaches=tuple(s.get("approaches", [])),
        weights=s.get("weights"),
        head_grid=s.get("head_grid"),
        device=s.get("device"),
        packages=dict((context.get("manifest") or {}).get("packages") or {}),
        version=context.get("version"),
        external=tuple(e["path"] for e in context.get("external") or []),
    )


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


def _software_sentence(f: StudyFacts, m: MethodFacts) -> str:
    software = ", ".join(
        f"{k} {v}"
        for k, v in f.packages.items()
        if v and (k in _CORE_PACKAGES or k in m.packages)
    )
    return f"Software: {software or 'skmedtl ' + str(f.version)}; device: {f.device}."


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
        _software_sentence(f, m),
    ]


def methods_paragraph(results, context: dict) -> str:
    """A Methods paragraph following the CLAIM items that apply to the study."""
    facts = study_facts(context)
    return " ".join(methods_sentences(facts, method_facts(results)))
