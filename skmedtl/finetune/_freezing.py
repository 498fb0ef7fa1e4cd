"""Frozen means frozen: which parameters train, which modules stay in eval mode.

A :class:`FreezePlan` splits a backbone's block groups (stem first, as the
registry lists them) into the top ``n_trainable`` groups, which train, and the
rest, which are frozen. Frozen parameters get ``requires_grad=False`` and every
module whose parameters and buffers are all frozen is kept in eval mode, so its
BatchNorm statistics, dropout and stochastic depth behave as at inference. The
training loop re-applies :meth:`FreezePlan.eval_frozen` after every
``model.train()``.

Parameters or buffers that belong to no block group count with the stem: they
train only when every group does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from torch import nn

__all__ = ["FreezePlan"]

Groups = Sequence[tuple[str, Sequence[str]]]


@dataclass(frozen=True)
class FreezePlan:
    """The top ``n_trainable`` block groups train; the others are frozen.

    Parameters
    ----------
    groups : tuple of (str, tuple of str)
        ``(group name, module names)`` of the backbone, stem first.
    n_trainable : int
        Block groups that train, counted from the top.

    Examples
    --------
    >>> plan = FreezePlan.from_groups(
    ...     [("stem", ["conv"]), ("block1", ["b1"]), ("block2", ["b2"])], 1
    ... )
    >>> plan.trainable_groups, plan.frozen_groups
    (('block2',), ('stem', 'block1'))
    >>> plan.depth("block2"), plan.depth("stem")
    (1, 3)
    """

    groups: tuple[tuple[str, tuple[str, ...]], ...]
    n_trainable: int

    @classmethod
    def from_groups(cls, groups: Groups, n_trainable: int) -> FreezePlan:
        """A plan from the registry's ``[(group, [modules])]``."""
        frozen = tuple((name, tuple(modules)) for name, modules in groups)
        if not 0 <= n_trainable <= len(frozen):
            raise ValueError(
                f"n_trainable must be in [0, {len(frozen)}]; got {n_trainable}."
            )
        return cls(frozen, int(n_trainable))

    # -- names --------------------------------------------------------------------
    @property
    def group_names(self) -> tuple[str, ...]:
        """All block groups, stem first."""
        return tuple(name for name, _ in self.groups)

    @property
    def trainable_groups(self) -> tuple[str, ...]:
        """The trainable block groups, top first."""
        names = self.group_names
        return tuple(reversed(names[len(names) - self.n_trainable :]))

    @property
    def frozen_groups(self) -> tuple[str, ...]:
        """The frozen block groups, stem first."""
        names = self.group_names
        return names[: len(names) - self.n_trainable]

    def depth(self, group: str) -> int:
        """1 for the top block group, 2 for the one below, ... (the head is 0)."""
        names = self.group_names
        return len(names) - names.index(group)

    def group_of(self, name: str) -> str:
        """Block group of a parameter, buffer or module name of the backbone."""
        owners = self._owners()
        parts = name.split(".")
        for end in range(len(parts), 0, -1):
            group = owners.get(".".join(parts[:end]))
            if group is not None:
                return group
        return self.groups[0][0]  # ungrouped: counts with the stem

    def _owners(self) -> dict[str, str]:
        owners = self.__dict__.get("_owner_cache")
        if owners is None:
            owners = {m: g for g, modules in self.groups for m in modules}
            object.__setattr__(self, "_owner_cache", owners)
        return owners

    def is_trainable(self, name: str) -> bool:
        """Whether the parameter (or module) ``name`` of the backbone trains."""
        return self.group_of(name) in self.trainable_groups

    # -- applying the plan ------------------------------------------------------
    def parameters_by_group(self, backbone: nn.Module) -> list[tuple[str, list]]:
        """``[(group, [parameters])]`` of the trainable groups, top first."""
        by_group: dict[str, list] = {g: [] for g in self.trainable_groups}
        for name, param in backbone.named_parameters():
            group = self.group_of(name)
            if group in by_group:
                by_group[group].append(param)
        return [(g, params) for g, params in by_group.items() if params]

    def frozen_modules(self, backbone: nn.Module) -> list[str]:
        """The outermost modules whose parameters and buffers are all frozen.

        ``""`` (the whole backbone) when nothing trains. Modules without any
        tensors of their own follow their parent (a dropout inside a frozen
        block is frozen with it).
        """
        frozen, trainable = set(), set()
        for name, module in backbone.named_modules():
            tensors = [*module.named_parameters(recurse=False)]
            tensors += [*module.named_buffers(recurse=False)]
            if not tensors:
                continue
            mark = trainable if self.is_trainable(name) else frozen
            parts = name.split(".") if name else []
            for end in range(len(parts) + 1):
                mark.add(".".join(parts[:end]))
        fully = frozen - trainable
        return [
            name
            for name in sorted(fully, key=lambda n: (n.count("."), n))
            if name == "" or not _has_ancestor_in(name, fully)
        ]

    def apply(self, backbone: nn.Module) -> None:
        """Set ``requires_grad`` of every parameter and eval mode of frozen modules."""
        for name, param in backbone.named_parameters():
            param.requires_grad_(self.is_trainable(name))
        self.eval_frozen(backbone)

    def eval_frozen(self, backbone: nn.Module) -> None:
        """Put the frozen modules back in eval mode (call after ``train()``)."""
        for name in self.frozen_modules(backbone):
            backbone.get_submodule(name).eval()


def _has_ancestor_in(name: str, names: set[str]) -> bool:
    parts = name.split(".")
    return any(".".join(parts[:end]) in names for end in range(len(parts)))
