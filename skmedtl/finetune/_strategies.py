"""The fine-tuning strategies of the review's Fig. 2, as small rule objects.

A :class:`Strategy` says two things: whether the backbone starts from pretrained
weights, and how many block groups (counted from the top) are trainable at each
stage of training. Everything else (which modules, which parameters, which
learning rates) follows from the backbone's block groups, in ``_freezing.py``.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

from .._constants import STRATEGIES
from ..utils._validation import Interval, StrOptions, validate_params

__all__ = ["STRATEGIES", "Strategy", "resolve_strategy"]

#: The strategy names, in the order of the review's Fig. 2.


@dataclass(frozen=True)
class Strategy:
    """How many block groups train, stage by stage.

    Parameters
    ----------
    name : str
        One of :data:`STRATEGIES`.
    pretrained : bool
        Start from the pretrained weights (``False``: random initialisation).
    start : int
        Block groups trainable at the first epoch, counted from the top.
    stop : int
        Most block groups ever trainable. ``stop > start`` makes a schedule that
        unfreezes one more group per stage (``gradual``).

    Examples
    --------
    >>> s = resolve_strategy("gradual", None, n_groups=3)
    >>> [s.n_trainable(stage) for stage in range(s.n_stages)]
    [0, 1, 2, 3]
    """

    name: str
    pretrained: bool
    start: int
    stop: int

    @property
    def n_stages(self) -> int:
        """Number of distinct trainable sets the schedule goes through."""
        return self.stop - self.start + 1

    @property
    def trains_backbone(self) -> bool:
        """Whether any block group is ever trainable."""
        return self.stop > 0

    def n_trainable(self, stage: int) -> int:
        """Block groups trainable (from the top) at ``stage`` (0-based)."""
        return min(self.start + stage, self.stop)


def resolve_strategy(
    strategy: str, trainable_blocks: int | None, n_groups: int
) -> Strategy:
    """The :class:`Strategy` for the estimator's parameters.

    Parameters
    ----------
    strategy : str
        One of :data:`STRATEGIES`.
    trainable_blocks : int or None
        ``fine_tune``: the top ``k`` block groups train (``None``: 1).
        ``gradual``: unfreeze at most ``k`` groups (``None``: all of them).
        Ignored by the other strategies.
    n_groups : int
        Block groups of the backbone.
    """
    check_strategy(strategy)
    if strategy == "feature_extractor":
        return Strategy(strategy, True, 0, 0)
    if strategy in ("full", "random_init"):
        return Strategy(strategy, strategy == "full", n_groups, n_groups)
    default = 1 if strategy == "fine_tune" else n_groups
    k = check_trainable_blocks(trainable_blocks, n_groups, default)
    if strategy == "fine_tune":
        return Strategy(strategy, True, k, k)
    return Strategy(strategy, True, 0, k)


def check_strategy(strategy) -> None:
    validate_params({"strategy": strategy}, {"strategy": [StrOptions(STRATEGIES)]})


def check_trainable_blocks(value, n_groups: int | None, default: int) -> int:
    """``trainable_blocks`` as an int in ``[0, n_groups]`` (``None``: default)."""
    validate_params(
        {"trainable_blocks": value},
        {"trainable_blocks": [Interval(numbers.Integral, 0), None]},
    )
    if value is None:
        return default
    if n_groups is not None and value > n_groups:
        raise ValueError(
            f"trainable_blocks={value} but the backbone has only {n_groups} block "
            f"groups. Use at most {n_groups}, or strategy='full' to train them all."
        )
    return int(value)
