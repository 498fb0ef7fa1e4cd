"""Multi-label fine-tuning: indicator targets, sigmoid head, BCE, thresholds.

:class:`~skmedtl.finetune.FineTuneClassifier` takes a 2-D indicator ``y`` of shape
``(n_images, n_labels)`` (1 = the finding is present) as scikit-learn's
multi-label classifiers do. Everything that differs from the single-label path
lives here:

- targets: a 0/1 matrix (``type_of_target`` ``"multilabel-indicator"``), every
  label with positive and negative training images; ``classes_`` is a list of
  ``array([0, 1])``, one per label, as ``MultiOutputClassifier`` has it;
- the validation split: iterative stratification (Sechidis et al., 2011),
  patient-level with ``groups``;
- the loss: binary cross-entropy with logits, one sigmoid output per label, with
  ``pos_weight = n_negative / n_positive`` per label for
  ``class_weight="balanced"``;
- validation metrics under the single-label names, so every ``monitor`` works:
  ``roc_auc`` is the mean per-label AUC, ``accuracy`` the mean per-label
  accuracy at 0.5 (MedMNIST's ACC), ``balanced_accuracy`` its balanced mean;
- decision thresholds: 0.5 or a number, or per label on the validation split
  (``threshold="youden"``).
"""

from __future__ import annotations

import math
import numbers

import numpy as np
import torch
from sklearn.utils.multiclass import type_of_target
from torch.nn import functional as F

from ._training import Trainer, predict_logits

__all__ = [
    "MultiLabelTrainer",
    "check_multilabel_targets",
    "fit_thresholds",
    "is_multilabel_target",
    "multilabel_pos_weight",
    "multilabel_validation_metrics",
    "multilabel_validation_split",
]

THRESHOLD_METHODS = ("youden",)


def is_multilabel_target(y) -> bool:
    """Whether ``y`` is 2-D with several columns (the multi-label path)."""
    if y is None:
        return False
    shape = getattr(y, "shape", None)
    if shape is None:
        try:
            shape = np.shape(y)
        except ValueError:  # ragged
            return False
    return len(shape) == 2 and shape[1] > 1


def check_multilabel_targets(y, n: int):
    """``(Y, classes, Y)``: the 0/1 matrix, ``[array([0, 1])] * n_labels``, again.

    Raises a ValueError naming the problem (not 0/1, wrong length, a label with
    a single value).
    """
    Y = np.asarray(y)
    kind = type_of_target(Y)
    if kind != "multilabel-indicator":
        raise ValueError(
            f"y has shape {Y.shape} (several columns), so it is read as multi-label: "
            "a 0/1 indicator matrix, one column per label (1 = present). It is "
            f"{kind!r} instead. Give one label per image as a 1-D y, or a 0/1 "
            "matrix."
        )
    if len(Y) != n:
        raise ValueError(f"X has {n} images but y has {len(Y)} rows.")
    Y = Y.astype(np.int64)
    positives = Y.sum(axis=0)
    constant = np.flatnonzero((positives == 0) | (positives == n))
    if len(constant):
        j = int(constant[0])
        raise ValueError(
            f"Label column {j} of y is {'never' if positives[j] == 0 else 'always'} "
            f"present ({len(constant)} such column(s)); a classifier needs positive "
            "and negative images of every label. Drop the column(s)."
        )
    classes = [np.array([0, 1]) for _ in range(Y.shape[1])]
    return Y, classes, Y


def multilabel_validation_split(
    Y: np.ndarray,
    fraction: float,
    rng: np.random.RandomState,
    groups: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Iteratively stratified ``(train indices, validation indices)``, sorted."""
    from ..model_selection import iterative_train_test_split

    seed = rng.randint(np.iinfo(np.int32).max)
    try:
        train, valid = iterative_train_test_split(
            Y, groups=groups, test_size=fraction, random_state=seed
        )
    except ValueError as e:
        raise ValueError(
            f"Cannot hold out a validation split: {e} Or set validation_fraction="
            "None (which also turns off early stopping and best-epoch restore)."
        ) from e
    missing = np.flatnonzero(Y[train].sum(axis=0) == 0)
    if len(missing):
        raise ValueError(
            f"The validation split took every positive image of label column "
            f"{int(missing[0])}, so it has none to train on. Provide more images "
            "of that label, or set validation_fraction=None."
        )
    return np.sort(train), np.sort(valid)


def multilabel_pos_weight(class_weight, Y: np.ndarray, device) -> torch.Tensor | None:
    """Per-label ``pos_weight`` of the BCE loss: ``n_negative / n_positive``."""
    if class_weight is None:
        return None
    if isinstance(class_weight, str) and class_weight == "balanced":
        pos = Y.sum(axis=0).astype(float)
        weight = (len(Y) - pos) / pos
        return torch.as_tensor(weight, dtype=torch.float32, device=device)
    raise ValueError(
        f"Invalid class_weight {class_weight!r} for multi-label y: use None or "
        "'balanced' (each label's positives weighted by n_negative / n_positive)."
    )


def multilabel_validation_metrics(Y: np.ndarray, proba: np.ndarray, loss: float):
    """The monitors of one validation pass (mean per-label AUC, accuracy...)."""
    from ..metrics._multilabel import _auc_columns

    pred = proba >= 0.5
    pos = Y.sum(axis=0)
    neg = len(Y) - pos
    tp = (pred & (Y == 1)).sum(axis=0)
    tn = (~pred & (Y == 0)).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        sens = np.where(pos > 0, tp / np.maximum(pos, 1), np.nan)
        spec = np.where(neg > 0, tn / np.maximum(neg, 1), np.nan)
    auc = _auc_columns(Y, proba)
    return {
        "loss": float(loss),
        "accuracy": float(((tp + tn) / len(Y)).mean()),
        "balanced_accuracy": _nanmean(np.nanmean(np.vstack([sens, spec]), axis=0)),
        "roc_auc": _nanmean(auc),
    }


def _nanmean(values: np.ndarray) -> float:
    values = values[~np.isnan(values)]
    return float(values.mean()) if len(values) else math.nan


class MultiLabelTrainer(Trainer):
    """The training loop with a sigmoid per label and binary cross-entropy.

    ``class_weight`` is the per-label ``pos_weight`` tensor (or None).
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.y_train = self.y_train.to(torch.float32)

    def loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.binary_cross_entropy_with_logits(
            logits, y.to(logits.dtype), pos_weight=self.class_weight
        )

    def valid_proba(self) -> np.ndarray:
        """Per-label probabilities of the validation split (current weights)."""
        self.network.eval()
        logits = predict_logits(
            self.forward,
            self.valid_input,
            len(self.y_valid),
            self.config.batch_size,
            self._autocast,
        )
        return torch.sigmoid(logits).numpy()

    def evaluate(self) -> dict:
        logits = self.valid_logits()
        y = torch.as_tensor(self.y_valid, dtype=torch.float32)
        pos_weight = None if self.class_weight is None else self.class_weight.cpu()
        loss = float(
            F.binary_cross_entropy_with_logits(logits, y, pos_weight=pos_weight)
        )
        proba = torch.sigmoid(logits).numpy()
        return multilabel_validation_metrics(np.asarray(self.y_valid), proba, loss)


def check_threshold(threshold) -> None:
    """``threshold``: a number in (0, 1) or ``"youden"``."""
    if isinstance(threshold, str):
        if threshold in THRESHOLD_METHODS:
            return
    elif isinstance(threshold, numbers.Real) and not isinstance(threshold, bool):
        if 0 < threshold < 1:
            return
    raise ValueError(
        f"threshold must be a number in (0, 1) or one of {THRESHOLD_METHODS} "
        f"(per-label thresholds chosen on the validation split); got {threshold!r}."
    )


def fit_thresholds(threshold, trainer: MultiLabelTrainer, n_labels: int) -> np.ndarray:
    """The per-label decision thresholds after training."""
    check_threshold(threshold)
    if not isinstance(threshold, str):
        return np.full(n_labels, float(threshold))
    if trainer.valid_input is None:
        raise ValueError(
            f"threshold={threshold!r} chooses thresholds on the validation split, "
            "but validation_fraction is None. Set validation_fraction, or a fixed "
            "threshold such as 0.5."
        )
    from ..metrics import choose_thresholds

    return choose_thresholds(
        np.asarray(trainer.y_valid), trainer.valid_proba(), method=threshold
    )
