"""Optimizers over exactly the trainable parameters, with discriminative rates.

The head trains at ``lr``; the top block group at ``lr * lr_decay``, the one
below at ``lr * lr_decay**2``, and so on down to the stem: deeper, more generic
layers move less. One optimizer parameter group per block group, named after it.
"""

from __future__ import annotations

import torch
from torch import nn

from .._constants import OPTIMIZERS
from ..utils._validation import StrOptions, validate_params
from ._freezing import FreezePlan

__all__ = ["OPTIMIZERS", "build_optimizer", "parameter_groups"]

#: Optimizer names accepted by ``FineTuneClassifier(optimizer=...)``.


def parameter_groups(
    head: nn.Module,
    backbone: nn.Module | None,
    plan: FreezePlan | None,
    lr: float,
    lr_decay: float,
) -> list[dict]:
    """Optimizer parameter groups: the head, then the trainable block groups.

    Parameters
    ----------
    head : nn.Module
        The new classification head (always trains, at ``lr``).
    backbone : nn.Module or None
        The backbone, or ``None`` when only the head is trained.
    plan : FreezePlan or None
        Which block groups train.
    lr : float
        Learning rate of the head.
    lr_decay : float
        Factor per block group of depth.

    Returns
    -------
    list of dict
        ``{"name", "params", "lr"}``, top first.
    """
    groups = [{"name": "head", "params": list(head.parameters()), "lr": lr}]
    if backbone is not None and plan is not None:
        for name, params in plan.parameters_by_group(backbone):
            rate = lr * lr_decay ** plan.depth(name)
            groups.append({"name": name, "params": params, "lr": rate})
    return groups


def build_optimizer(
    name: str, groups: list[dict], weight_decay: float
) -> torch.optim.Optimizer:
    """A fresh optimizer over ``groups`` (see :func:`parameter_groups`)."""
    check_optimizer(name)
    if name == "adamw":
        return torch.optim.AdamW(groups, weight_decay=weight_decay)
    if name == "adam":
        return torch.optim.Adam(groups, weight_decay=weight_decay)
    return torch.optim.SGD(
        groups, momentum=0.9, nesterov=True, weight_decay=weight_decay
    )


def check_optimizer(name) -> None:
    validate_params({"optimizer": name}, {"optimizer": [StrOptions(OPTIMIZERS)]})
