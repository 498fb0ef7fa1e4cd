"""The transfer-learning approaches a study compares, as small value objects."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .._constants import APPROACHES
from ..utils._naming import did_you_mean

__all__ = ["APPROACHES", "Approach", "parse_approach", "parse_approaches"]


#: The review's name of each family (used to group the report).
CATEGORIES = {
    "feature_extractor": "feature extractor",
    "hybrid": "feature-extractor hybrid",
    "fine_tune": "fine-tuning",
    "gradual": "fine-tuning (gradual unfreezing)",
    "full": "fine-tuning from scratch",
    "random_init": "training from random weights",
}

_FINE_TUNE = re.compile(r"^fine_tune:(\d+)$")


@dataclass(frozen=True)
class Approach:
    """One approach of the grid.

    Attributes
    ----------
    name : str
        Canonical name: ``"hybrid-svm"``, ``"fine_tune:2"``, ``"full"``, ...
    family : str
        ``"feature_extractor"``, ``"hybrid"``, ``"fine_tune"``, ``"gradual"``,
        ``"full"`` or ``"random_init"``.
    head : str or None
        Hybrid head (``"svm"``, ``"logreg"``, ``"rf"``, ``"xgboost"``).
    trainable_blocks : int or None
        Block groups trained by ``fine_tune``.
    """

    name: str
    family: str
    head: str | None = None
    trainable_blocks: int | None = None

    @property
    def frozen(self) -> bool:
        """Whether the backbone stays frozen (its embeddings can be cached)."""
        return self.family in ("feature_extractor", "hybrid")

    @property
    def category(self) -> str:
        """The review's name of the approach."""
        return CATEGORIES[self.family]

    @property
    def strategy(self) -> str | None:
        """The :class:`~skmedtl.finetune.FineTuneClassifier` strategy, if any."""
        return None if self.family == "hybrid" else self.family


def parse_approach(name, fine_tune_blocks: int = 1) -> Approach:
    """The :class:`Approach` named ``name``.

    Parameters
    ----------
    name : str
        One of :data:`APPROACHES`, or ``"fine_tune:K"`` for the top ``K`` block
        groups.
    fine_tune_blocks : int, default=1
        ``K`` for a bare ``"fine_tune"``.

    Examples
    --------
    >>> parse_approach("fine_tune", fine_tune_blocks=2).name
    'fine_tune:2'
    >>> parse_approach("hybrid-rf").head
    'rf'
    """
    if not isinstance(name, str):
        raise TypeError(f"Approach names are strings; got {name!r}.")
    name = name.strip()
    match = _FINE_TUNE.match(name)
    if match or name == "fine_tune":
        k = int(match.group(1)) if match else int(fine_tune_blocks)
        if k < 1:
            raise ValueError(
                f"Approach {name!r}: fine_tune needs at least one trainable block "
                "group; use 'feature_extractor' for a frozen backbone."
            )
        return Approach(f"fine_tune:{k}", "fine_tune", trainable_blocks=k)
    if name.startswith("hybrid-") and name in APPROACHES:
        return Approach(name, "hybrid", head=name.removeprefix("hybrid-"))
    if name in APPROACHES:
        return Approach(name, name)
    raise ValueError(
        f"Unknown approach {name!r}.{did_you_mean(name, APPROACHES)} Choose from "
        f"{', '.join(APPROACHES)} (fine_tune:K trains the top K block groups)."
    )


def parse_approaches(names, fine_tune_blocks: int = 1) -> list[Approach]:
    """Parse a list (or a comma-separated string) of approaches, without repeats."""
    if isinstance(names, str):
        names = [n for n in names.split(",") if n.strip()]
    approaches: list[Approach] = []
    for name in names:
        approach = parse_approach(name, fine_tune_blocks)
        if approach not in approaches:
            approaches.append(approach)
    if not approaches:
        raise ValueError("approaches is empty: name at least one approach.")
    return approaches
