"""The model card of a model a study saved: ``model_card.json`` and ``model_card.md``.

:func:`model_card` gathers the facts (selection, data, splits, validation and
test scores, decisions, input, intended use, limitations) into one
JSON-serialisable dict, each group from its own small function;
:func:`model_card_markdown` renders that dict, one function per section. The
Markdown is a function of the JSON alone, so a card read back from
``model_card.json`` renders the same text.
"""

from __future__ import annotations

from datetime import datetime, timezone

from ._task import MULTILABEL, Task

__all__ = ["model_card", "model_card_markdown"]

#: How a multi-label study chooses its per-label thresholds (model card).
MULTILABEL_THRESHOLD_RULE = (
    "youden: one threshold per label maximising sensitivity + specificity - 1 on "
    "the validation set, applied to the model's own (uncalibrated) probability"
)
#: The external-set metrics a card lists.
_EXTERNAL_METRICS = ("auc", "balanced_accuracy", "sensitivity", "specificity")


# -- the facts -------------------------------------------------------------------
def model_card(study, results, record: dict, cell, choice: str, metadata: dict):
    """The model card (JSON-serialisable dict) of a saved model.

    Parameters
    ----------
    study : TransferStudy
        The prepared study.
    results : StudyResults
        Its results, with the recommendation.
    record : dict
        The saved cell's record.
    cell : Cell
    choice : {"best", "recommended"}
    metadata : dict
        The saved model's ``metadata.json``.
    """
    context = study._report_context()
    source = study.data_.summary()["source"]
    return {
        "model": metadata["config"],
        "selected_as": choice,
        "selection": _selection(results.recommendation, choice, study.cost),
        "cell": cell.id,
        "cell_key": cell.key,
        "seed": cell.seed,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "dataset": {
            "source": source,
            "classes": metadata["class_names"],
            "positive_class": metadata["positive_class"],
            "counts": study.data_.summary()["counts"],
        },
        "splits": _splits(study),
        "validation": _validation(results, record, metadata["config"]),
        "test": dict(record["metrics"].items()),
        "test_extras": record.get("extras"),
        **_per_label_card(record, metadata),
        "operating_point": metadata["operating_point"],
        "calibration": metadata["calibration"],
        "external": context.get("external") or [],
        "input": metadata["input"],
        "packages": context["manifest"].get("packages", {}),
        "intended_use": _intended_use(source, metadata["class_names"]),
        "limitations": _limitations(results, context, cell.seed),
    }


def _selection(rec: dict, choice: str, cost: str) -> str:
    """How the model was selected, in words."""
    how = (
        "highest validation score"
        if choice == "best"
        else "the cheapest configuration non-inferior to the selected one on "
        "validation (95% CI lower bound of the paired difference above "
        f"-{rec['margin']:g})"
    )
    return how + f" ({rec['metric']}, {cost} as cost)"


def _splits(study) -> dict:
    """Images in each split (training without the validation images)."""
    data, n_validation = study.data_, int(study.val_mask_.sum())
    return {
        "train": int(len(data.indices("train", "val")) - n_validation),
        "validation": n_validation,
        "test": int(data.n_images("test")),
        "validation_source": study.validation_source_,
    }


def _validation(results, record: dict, config: str) -> dict:
    """The model's validation score and its configuration's (mean and CI)."""
    row = next(r for r in results.table if r["config"] == config)
    return {
        "metric": results.recommendation["metric"],
        "score": record["validation"]["score"],
        "configuration_mean": row.get("validation_score"),
        "configuration_ci": [row.get("validation_low"), row.get("validation_high")],
    }


def _intended_use(source: str, class_names: list[str]) -> str:
    return (
        f"Research use: classifying images like the study's ({source}; classes "
        f"{', '.join(class_names)}) from the same kind of source. Not a medical "
        "device; not validated for clinical decisions."
    )


def _limitations(results, context: dict, seed: int) -> list[str]:
    """The report's limitations, and those of one fitted model."""
    from ._report_stats import limitations

    return [
        *limitations(results, context),
        f"Test metrics are of this one fitted model (seed {seed}); the report's "
        "table pools seeds when there are several.",
        "Images unlike the training images (other channels, bit depth, modality or "
        "view) are outside what the model was evaluated on.",
    ]


def _per_label_card(record: dict, metadata: dict) -> dict:
    """The multi-label fields of a model card (none for single-label models)."""
    if not Task.of_mapping(metadata).per_label:
        return {}
    per_label = record.get("per_label") or {}
    return {
        "task": MULTILABEL,
        "labels": list(metadata["class_names"]),
        "thresholds": metadata["thresholds"],
        "threshold_rule": metadata["threshold_rule"],
        "test_micro_auc": record.get("micro_auc"),
        "test_per_label": {
            name: {
                k: per_label[name].get(k)
                for k in ("n_positive", "auc", "sensitivity", "specificity")
            }
            for name in metadata["class_names"]
            if name in per_label
        },
    }


# -- the Markdown ----------------------------------------------------------------
def model_card_markdown(card: dict) -> str:
    """The model card as Markdown."""
    labelwise = Task.of_mapping(card).per_label
    lines = [
        *_header(card),
        *_data_section(card),
        *_performance_section(card, labelwise),
        *_use_section(card, labelwise),
        "",
        "## Intended use",
        "",
        card["intended_use"],
        "",
        "## Limitations",
        "",
        *[f"- {item}" for item in card["limitations"]],
    ]
    if card.get("refitted"):
        lines += ["", f"Note: {card['refitted']}"]
    versions = ", ".join(f"{k} {v}" for k, v in card["packages"].items() if v)
    return "\n".join([*lines, "", "## Versions", "", versions, ""])


def _ci(triple) -> str:
    """``value [low, high]`` (``n/a`` when missing or NaN)."""
    if not triple or triple[0] is None or triple[0] != triple[0]:
        return "n/a"
    return f"{triple[0]:.3f} [{triple[1]:.3f}, {triple[2]:.3f}]"


def _header(card: dict) -> list[str]:
    return [
        f"# Model card: {card['model']}",
        "",
        f"Selected as **{card['selected_as']}**: {card['selection']}.",
        f"Cell `{card['cell']}` (key `{card['cell_key']}`), saved {card['date']}.",
    ]


def _data_section(card: dict) -> list[str]:
    data, splits = card["dataset"], card["splits"]
    positive = data["positive_class"]
    return [
        "",
        "## Data",
        "",
        f"- Data set: {data['source']}; classes {', '.join(data['classes'])}"
        + (f"; positive class {positive}" if positive is not None else ""),
        f"- Splits: {splits['train']} training, {splits['validation']} validation "
        f"({splits['validation_source']}), {splits['test']} test images.",
    ]


def _performance_section(card: dict, labelwise: bool) -> list[str]:
    """Validation and test scores (per label too), and the external sets."""
    v = card["validation"]
    low, high = v["configuration_ci"]
    configuration = ""
    if v["configuration_mean"] is not None and low is not None:
        mean = v["configuration_mean"]
        configuration = f"; configuration {mean:.3f} [{low:.3f}, {high:.3f}]"
    lines = [
        "",
        "## Performance",
        "",
        f"- Validation {v['metric']}: {v['score']:.3f} (this model){configuration}",
        "- Test (95% bootstrap CI):",
        *[f"  - {name}: {_ci(value)}" for name, value in card["test"].items()],
    ]
    extras = card.get("test_extras") or {}
    if labelwise:  # per-label values go to the per-label table
        extras = {k: v for k, v in extras.items() if "_label_" not in k}
        if card.get("test_micro_auc"):
            lines.append(f"  - micro-averaged AUC: {_ci(card['test_micro_auc'])}")
    lines += [f"  - {name}: {_ci(value)}" for name, value in extras.items()]
    if labelwise:
        lines += _per_label_markdown(card)
    for ext in card.get("external") or []:  # external test sets, scored once
        lines += _external_lines(ext)
    return lines


def _per_label_markdown(card: dict) -> list[str]:
    """The per-label table of a multi-label model card."""
    lines = [
        "",
        "## Per-label decisions",
        "",
        f"Thresholds chosen on validation ({card['threshold_rule']}); test "
        "metrics at them (95% bootstrap CI):",
        "",
        "| label | threshold | test positives | AUC | sensitivity | specificity |",
        "|---|---|---|---|---|---|",
    ]
    for name in card["labels"]:
        row = card["test_per_label"].get(name, {})
        lines.append(
            f"| {name} | {card['thresholds'][name]:.4f} | "
            f"{row.get('n_positive', '')} | {_ci(row.get('auc'))} | "
            f"{_ci(row.get('sensitivity'))} | {_ci(row.get('specificity'))} |"
        )
    return lines


def _external_lines(ext: dict) -> list[str]:
    """One external test set: its metrics and their drop from the internal set."""
    return [
        f"- External test set {ext['path']} ({ext['n_images']} images):",
        *[
            f"  - {name}: {_ci(ext[name]['external'])} (external - internal: "
            f"{_ci(ext[name]['difference'])})"
            for name in _EXTERNAL_METRICS
            if name in ext
        ],
    ]


def _use_section(card: dict, labelwise: bool) -> list[str]:
    """Calibration, the decision rule, the expected input, how to predict."""
    calibration = card["calibration"]
    if labelwise and calibration != "none":
        calibration += " (one calibrator per label)"
    given = card["input"]
    suffixes = f", file types {given['suffixes']}" if given["suffixes"] else ""
    return [
        "",
        "## Use",
        "",
        f"- Calibration: {calibration}.",
        _decision(card, labelwise),
        f"- Expected input: {given['from']}, channels {given['channels']}, dtypes "
        f"{given['dtypes']}{suffixes}, intensity policy {given['intensity']!r}.",
        "- Predict: `skmedtl predict --model DIR --images PATH...`; in Python "
        "`skmedtl.load(DIR)`.",
    ]


def _decision(card: dict, labelwise: bool) -> str:
    """How the model turns probabilities into decisions."""
    op = card.get("operating_point")
    if labelwise:
        return (
            "- Decisions: label j is present when its probability (the model's "
            "own, before any recalibration) is at least its threshold above; "
            "`predict` gives the 0/1 matrix."
        )
    if op:
        target = f" target {op['target']}" if op.get("target") is not None else ""
        return (
            f"- Operating point (chosen on validation, {op['rule']}{target}): "
            f"positive when p >= {op['threshold']:.4f} ({op['on']} probability)."
        )
    return "- No operating point (more than two classes): the most probable class."
