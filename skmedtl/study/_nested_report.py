"""The report section of a nested cross-validation, written from its recorded facts.

Every sentence is built from the ``nested_cv`` entry of ``study.json``
(:meth:`~._nested_summary.NestedSummary.to_dict`): what the report says is
what the file records.
"""

from __future__ import annotations

from ._evaluate import METRICS

__all__ = ["nested_section"]


def _f(value) -> str:
    return "-" if value is None else f"{value:.3f}"


def _design_text(facts: dict) -> str:
    grouping = ", patient-grouped (no patient in two folds)" if facts["grouped"] else ""
    tests = [f["sizes"]["n_test"] for f in facts["folds"]]
    size = f"{min(tests)}" if min(tests) == max(tests) else f"{min(tests)}-{max(tests)}"
    return (
        f"The whole selection protocol ran in {facts['k']} outer folds, stratified"
        f"{grouping} (random_state={facts['random_state']}; cv={facts['requested']}); "
        f"each outer test fold holds {size} images. In each fold the outer-training "
        "images were split into training and validation as the study splits them, "
        "every configuration was tuned inside its training images and selected on "
        "the fold's validation images by the study's rule, and the outer test fold "
        "was predicted once per finished model: no outer test label reached a "
        "choice."
    )


def _estimate_text(facts: dict, metric: str) -> str:
    n = facts["n_complete"]
    if facts["estimate"] is None:
        return "No outer fold has finished all its cells yet: no estimate."
    text = (
        f"**Estimate of the selection procedure** (the number to publish): "
        f"{metric} {_f(facts['estimate'])}, the mean over {n} outer "
        f"{'fold' if n == 1 else 'folds'} of the "
        "selected configuration's outer test score"
    )
    if facts["sd"] is not None:
        text += (
            f" (SD {_f(facts['sd'])} over folds; 95% t-interval "
            f"[{_f(facts['low'])}, {_f(facts['high'])}], approximate: the folds "
            "share training images)"
        )
    gap = facts["selected_validation_mean"] - facts["estimate"]
    return text + (
        f". The selected configurations' validation {metric} averaged "
        f"{_f(facts['selected_validation_mean'])}, {gap:+.3f} from their outer "
        "test score: the optimism of selecting on validation. The estimate "
        "describes the procedure (select among these configurations on a "
        "validation split, then use the selected model); the saved model is the "
        "procedure applied once, to the study's single split, whose test score "
        "in the main table is one draw of it."
    )


def _stability_text(facts: dict) -> str:
    n = facts["n_complete"]
    counts = sorted(
        (c for c in facts["configs"] if c["n_selected"]),
        key=lambda c: -c["n_selected"],
    )
    if not counts:
        return ""
    parts = [f"{c['config']} in {c['n_selected']} of {n}" for c in counts]
    text = "Selection stability: selected " + "; ".join(parts) + " folds."
    study = facts["study_selected"]
    if study is not None:
        times = next(
            (c["n_selected"] for c in facts["configs"] if c["config"] == study), 0
        )
        text += (
            f" The single-split study selected {study} (selected in {times} of "
            f"{n} outer folds)."
        )
    return text


def nested_section(facts: dict) -> list:
    """The report blocks of the nested cross-validation (``facts``: study.json's)."""
    metric = METRICS.get(facts["metric"], facts["metric"])
    blocks: list = [
        ("h2", "Nested cross-validation"),
        ("p", _design_text(facts)),
        ("p", _estimate_text(facts, metric)),
    ]
    stability = _stability_text(facts)
    if stability:
        blocks.append(("p", stability))
    missing = [str(f["fold"] + 1) for f in facts["folds"] if not f["complete"]]
    if missing:
        blocks.append(
            (
                "p",
                f"{'Outer fold' if len(missing) == 1 else 'Outer folds'} "
                f"{', '.join(missing)} {'has' if len(missing) == 1 else 'have'} "
                "unfinished cells and take no part in the estimate; run the study "
                "again to finish them.",
            )
        )
    return blocks + _tables(facts, metric)


def _tables(facts: dict, metric: str) -> list:
    """The per-fold table and the per-configuration table."""
    blocks: list = []
    fold_rows = [
        [
            str(f["fold"] + 1),
            f"{f['sizes']['n_train']} / {f['sizes']['n_validation']} / "
            f"{f['sizes']['n_test']}",
            f["selected"] or "-",
            _f(f["selected_validation"]),
            _f(f["selected_test"]),
        ]
        for f in facts["folds"]
    ]
    blocks.append(
        (
            "table",
            [
                "fold",
                "train / validation / test images",
                "selected",
                f"validation {metric}",
                f"outer test {metric}",
            ],
            fold_rows,
        )
    )
    config_rows = [
        [
            c["config"],
            f"{_f(c['test_mean'])} ({_f(c['test_sd'])})",
            _f(c["validation_mean"]),
            f"{c['n_selected']} of {facts['n_complete']}",
        ]
        for c in facts["configs"]
    ]
    blocks.append(
        (
            "table",
            [
                "configuration",
                f"outer test {metric}, mean (SD)",
                f"validation {metric}, mean",
                "selected",
            ],
            config_rows,
        )
    )
    return blocks
