"""The report's protocol sections: data and splits, settings, tuning choices.

What the study was given and what each cell chose inside its training images,
stated from the dataset summary, the settings and the cells' ``selection``
records.
"""

from __future__ import annotations

from ._report_results import cells_table

__all__ = ["appendix_blocks", "data_items", "selection_text", "settings_items"]


def selection_text(selection: dict) -> str:
    """What one cell's tuning chose, and on what evidence."""
    inner = selection.get("inner_score")
    inner_text = "" if inner is None else f"inner score {inner:.3f}, "
    if "params" in selection:
        params = ", ".join(f"{k}={v}" for k, v in selection["params"].items())
        note = f"; {selection['inner_note']}" if selection.get("inner_note") else ""
        return (
            f"{params} ({selection['scheme']}{note}, {inner_text}validation score "
            f"{selection['validation_score']:.3f}, {selection['n_candidates']} "
            "candidates)"
        )
    if "inner_loss" in selection:
        lrs = selection["lrs_tried"]
        lr_text = (
            f"lr={selection['lr']:g} chosen of {lrs}"
            if len(lrs) > 1
            else f"lr={selection['lr']:g}"
        )
        return (
            f"{lr_text} ({selection['scheme']}; inner loss "
            f"{selection['inner_loss']:.4f}, {inner_text}best epoch "
            f"{selection['best_epoch']} of at most {selection['max_epochs']}, "
            f"patience {selection['patience']})"
        )
    return (
        f"lr={selection['lr']:g} of {selection['lrs_tried']} (validation loss "
        f"{selection['validation_loss']:.4f}, best epoch {selection['best_epoch']},"
        f" validation share {selection['validation_fraction']:.0%})"
    )


def data_items(ds: dict, context: dict | None = None) -> list[str]:
    """The "Data and protocol" list: source, splits, validation, patients."""
    counts = ds["counts"]
    parts = []
    for split in ("train", "val", "test"):
        n = ds.get("n_per_split", {}).get(split)  # multi-label: images per split
        n = sum(counts[split].values()) if n is None else n
        if n:
            per_class = ", ".join(f"{k}: {v}" for k, v in counts[split].items())
            parts.append(f"{split} {n} ({per_class})")
    items = [
        f"Source: {ds['source']}; {ds['n_images']} images, classes: "
        f"{', '.join(ds['classes'])}.",
        f"Splits: {'; '.join(parts)}.",
        f"Test set: {ds['test_protocol']}; touched only to score each finished model.",
        f"Validation: {(context or {}).get('validation', ds['validation'])} "
        f"({(context or {}).get('n_validation', '?')} images), the same for every "
        "cell. Every model is fitted and tuned on the training images only: "
        "hybrid heads choose their hyperparameters by inner cross-validation of "
        "the training images, trained approaches take early stopping, best epoch "
        "and learning rate from a share of the training images held out. The "
        "validation images are predicted once per model: the configuration is "
        "selected by its validation score, and recalibration and the operating "
        "point are fitted there.",
    ]
    if ds.get("positive_class") is not None:
        items.append(
            f"Positive class (sensitivity): {ds['positive_class']}. Predictions take "
            "the most probable class; every approach weights classes as 'balanced'."
        )
    items.append(
        "Patients: "
        + (
            f"{ds['groups']} groups; no group is on two sides of a split."
            if ds.get("groups")
            else "no patient ids given (images are assumed independent)."
        )
    )
    return items


def settings_items(s: dict) -> list[str]:
    """The "Settings" list: profile, backbones, approaches, training, device."""

    def size(v):
        return "native" if v is None else f"{v} px"

    return [
        f"Profile: {s.get('profile')} ({s.get('profile_description')}); explicit "
        "options override it.",
        f"Backbones: {', '.join(s.get('backbones', []))}; weights: {s.get('weights')}.",
        f"Approaches: {', '.join(s.get('approaches', []))}.",
        f"Seeds: {s.get('seeds')}; selection metric: {s.get('metric')}; cost: "
        f"{s.get('cost')}.",
        f"Input size: frozen approaches {size(s.get('input_size'))}, trained "
        f"approaches {size(s.get('train_input_size'))}.",
        f"Training: at most {s.get('max_epochs')} epochs (patience "
        f"{s.get('patience')}), feature_extractor head {s.get('head_max_epochs')} "
        f"epochs; learning rates {s.get('lrs')}; batch size {s.get('batch_size')}; "
        f"hybrid grids '{s.get('head_grid')}', searched by inner CV of the training "
        "images.",
        f"Device: {s.get('device')}.",
    ]


def appendix_blocks(results, context: dict) -> list:
    """Data, settings, per-seed scores, tuning choices, failures, completeness."""
    ds = context["dataset"]
    blocks = [("h2", "Data and protocol"), ("ul", data_items(ds, context))]
    blocks += [("h2", "Settings"), ("ul", settings_items(context["settings"]))]
    if any(r["n_seeds"] > 1 for r in results.table):
        blocks += [("h2", "Per seed"), cells_table(results.cells)]
    selection = [
        f"{c['cell']}: {selection_text(c['selection'])}"
        for c in results.cells
        if c.get("selection")
    ]
    if selection:
        blocks += [
            ("h2", "Hyperparameters chosen inside the training images"),
            ("ul", selection),
        ]
    if results.failures:
        blocks += [
            ("h2", "Failed cells"),
            ("ul", [f"{f['cell']}: {f['error']}" for f in results.failures]),
        ]
    if len(results.cells) < results.n_cells:
        blocks.append(
            (
                "p",
                f"**Incomplete**: {results.n_cells - len(results.cells)} cells have "
                "no result yet; run the study again to finish them.",
            )
        )
    return blocks
