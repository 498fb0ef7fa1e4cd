"""What a fine-tuning cell's epoch history says: its selection record.

A :class:`~skmedtl.finetune.FineTuneClassifier` logs every epoch (losses, the
inner split's metric, the block groups trainable, whether the frozen trunk was
cached); a study cell keeps from it how its learning rate and epoch were
chosen and what was trained at the restored epoch.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "best_valid_loss",
    "cached_trunk",
    "finetune_selection",
    "groups_trained",
    "inner_metric",
]


def finetune_selection(ctx, clf, best, params: dict, grouped: bool) -> dict:
    """The ``selection`` field of a fine-tuning cell: how its lr was chosen."""
    fraction = params["validation_fraction"]
    return {
        "lr": best.candidate,
        "lrs_tried": list(ctx.profile.lrs),
        "inner_loss": -best.score,
        "inner_score": inner_metric(clf, ctx.metric),
        "best_epoch": clf.best_epoch_,
        "patience": params["patience"],
        "max_epochs": params["max_epochs"],
        "scheme": f"{fraction:.0%} of the training images held out"
        + (", patient-grouped" if grouped else "")
        + " for early stopping and the learning rate",
        "inner_fraction": fraction,
        **groups_trained(clf),
    }


def groups_trained(clf) -> dict:
    """Backbone block groups trainable at the restored epoch, and at most.

    ``gradual`` unfreezes one more group each time validation stops improving;
    a short budget can end (or restore an epoch) before it unfreezes any, and
    its model is then a head trained on the frozen backbone. The Methods and
    limitations say so from these two numbers.
    """
    entries = [e for e in clf.history_ if e.get("epoch") == clf.best_epoch_]
    entries = entries or clf.history_[-1:]
    trainable = entries[0].get("trainable") if entries else None
    return {
        "groups_at_best": (
            None if trainable is None else sum(1 for t in trainable if t != "head")
        ),
        "groups_max": int(clf.strategy_.stop),
    }


def inner_metric(clf, metric: str) -> float | None:
    """The inner split's ``metric`` at the restored (best) epoch, when logged."""
    key = {"auc": "valid_roc_auc"}.get(metric, f"valid_{metric}")
    for entry in clf.history_:
        if entry.get("epoch") == clf.best_epoch_ and entry.get(key) is not None:
            return float(entry[key])
    return None


def cached_trunk(clf) -> bool | None:
    """Whether any epoch ran on cached frozen-trunk activations (None: unknown)."""
    flags = [e["cached_trunk"] for e in clf.history_ if "cached_trunk" in e]
    return any(flags) if flags else None


def best_valid_loss(clf) -> float:
    losses = [e.get("valid_loss") for e in clf.history_]
    losses = [v for v in losses if v is not None and np.isfinite(v)]
    return float(min(losses)) if losses else float("inf")
