"""The limitations a reviewer would list, from the study's own facts.

Each item is a small function of :class:`LimitationFacts` (the study's source,
partitions, seeds, weights, external sets, completeness and the optimism of
its selection) and of the cells' :class:`~._methods.MethodFacts`; it returns
the item, or nothing when the limitation does not apply.
"""

from __future__ import annotations

from dataclasses import dataclass

from ._methods import MethodFacts, method_facts

__all__ = ["LimitationFacts", "limitation_items", "limitation_facts", "limitations"]


@dataclass(frozen=True)
class LimitationFacts:
    """What the limitations are stated from.

    Attributes
    ----------
    source : str
        Where the images come from.
    external : tuple of str
        Paths of the external test sets scored.
    groups : int or None
        Number of patients; ``None`` without patient ids.
    n_test : int
        Test images.
    n_validation : int or None
        Validation images (``None``: not recorded).
    n_seeds : int
    weights : str or None
        The backbones' initial weights (``None``: random).
    n_missing : int
        Planned cells without a result.
    optimism : dict or None
        The selection's optimism disclosure (``None``: not estimated).
    """

    source: str
    external: tuple
    groups: int | None
    n_test: int
    n_validation: int | None
    n_seeds: int
    weights: str | None
    n_missing: int
    optimism: dict | None


def limitation_facts(results, context: dict) -> LimitationFacts:
    """The :class:`LimitationFacts` of a study's results and report context."""
    ds, s = context["dataset"], context["settings"]
    return LimitationFacts(
        source=ds["source"],
        external=tuple(e["path"] for e in context.get("external") or []),
        groups=ds.get("groups"),
        n_test=context["n_test"],
        n_validation=context.get("n_validation"),
        n_seeds=len(s.get("seeds") or []),
        weights=s.get("weights"),
        n_missing=results.n_cells - len(results.cells),
        optimism=(results.recommendation or {}).get("optimism"),
    )


def _source(f: LimitationFacts) -> str:
    if not f.external:
        return (
            f"No external test set: all images come from one source ({f.source}); "
            "performance on data from other sites, scanners or populations is "
            "unknown."
        )
    return (
        f"External test sets: {len(f.external)} ({', '.join(f.external)}); "
        "performance at other sites, scanners or populations than these is unknown."
    )


_PREVALENCE = (
    "The test set's class prevalence is the data set's, not a clinical "
    "population's; predictive values are therefore not reported."
)


def _patients(f: LimitationFacts) -> list[str]:
    if f.groups:
        return []
    return [
        "No patient identifiers: images of one patient may be in more than one "
        "partition, which can make validation and test results optimistic."
    ]


def _small_sets(f: LimitationFacts) -> list[str]:
    items = []
    if f.n_test < 300:
        items.append(
            f"Small test set ({f.n_test} images): wide intervals; "
            "differences of a few points between configurations cannot be detected."
        )
    if (f.n_validation if f.n_validation is not None else 0) < 200:
        items.append(
            f"Small validation set ({f.n_validation} images): the "
            "selection among configurations is noisy."
        )
    return items


def _training_randomness(f: LimitationFacts) -> str:
    if f.n_seeds < 2:
        seeds = "; one training seed per configuration, so it is not measured at all."
    else:
        seeds = (
            f"; it shows only in the spread over the {f.n_seeds} seeds (SD and "
            "t interval beside the test score)."
        )
    return (
        "The bootstrap intervals resample the test images with the trained models "
        "held fixed: variation from training randomness is not in them" + seeds
    )


def _cells(m: MethodFacts) -> list[str]:
    items = []
    if len(m.input_sizes) > 1:
        sizes = "; ".join(f"{k}: {', '.join(v)}" for k, v in m.input_sizes.items())
        items.append(
            f"Approaches saw different input sizes ({sizes}): their comparison "
            "mixes the approach with the resolution."
        )
    if m.heads_on_validation:
        items.append(
            f"The per-label heads ({', '.join(m.heads_on_validation)}) were tuned "
            "on the validation set that also selects: their validation scores are "
            "more optimistic than the others'."
        )
    return items


def _optimism(f: LimitationFacts) -> list[str]:
    if f.optimism is None:
        return []
    d = f.optimism
    return [
        "The selected configuration's validation score is optimistic (best of "
        f"{len(d['selection_rates'])}): bias-corrected estimate "
        f"{d['corrected']:.3f}, optimism {d['optimism']:+.3f}; "
        "the test score is the estimate to publish."
    ]


def _weights_and_completeness(f: LimitationFacts) -> list[str]:
    items = []
    if f.weights is None:
        items.append(
            "Random initial weights (weights=None): this is not a transfer-learning "
            "result."
        )
    if f.n_missing > 0:
        items.append(f"Incomplete: {f.n_missing} planned cells have no result.")
    return items


def limitation_items(f: LimitationFacts, m: MethodFacts) -> list[str]:
    """The limitations that apply, in order."""
    return [
        _source(f),
        _PREVALENCE,
        *_patients(f),
        *_small_sets(f),
        _training_randomness(f),
        *_cells(m),
        *_optimism(f),
        *_weights_and_completeness(f),
    ]


def limitations(results, context: dict) -> list[str]:
    """Limitations a reviewer would list, from the study's own settings."""
    return limitation_items(limitation_facts(results, context), method_facts(results))
