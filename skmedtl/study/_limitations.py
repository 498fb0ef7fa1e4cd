"""The limitations a reviewer would list, from the study's own facts.

Each item is a small function of the study's :class:`~._methods.StudyFacts`
(source, partitions, seeds, weights, external sets) or of the cells'
:class:`~._methods.MethodFacts` (input sizes, heads tuned on validation,
completeness, the optimism of the selection); it returns the item, or nothing
when the limitation does not apply.
"""

from __future__ import annotations

from ._facts import MethodFacts, StudyFacts, method_facts, study_facts

__all__ = ["limitation_items", "limitations"]


def _source(f: StudyFacts) -> str:
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


def _patients(f: StudyFacts) -> list[str]:
    if f.groups:
        return []
    return [
        "No patient identifiers: images of one patient may be in more than one "
        "partition, which can make validation and test results optimistic."
    ]


def _small_sets(f: StudyFacts) -> list[str]:
    items = []
    if f.n_test < 300:
        items.append(
            f"Small test set ({f.n_test} images): wide intervals; "
            "differences of a few points between configurations cannot be detected."
        )
    if f.n_validation < 200:
        items.append(
            f"Small validation set ({f.n_validation} images): the "
            "selection among configurations is noisy."
        )
    return items


def _training_randomness(f: StudyFacts) -> str:
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
    if m.head_only:
        one = len(m.head_only) == 1
        items.append(
            f"{', '.join(m.head_only)} had no backbone block trainable at "
            + ("its" if one else "their")
            + " restored epoch (the budget of epochs and patience ended first): "
            + ("it measures" if one else "they measure")
            + " a trained head on the frozen backbone, not fine-tuning; a larger "
            "budget (more epochs, e.g. the standard profile) lets it unfreeze."
        )
    if m.heads_on_validation:
        items.append(
            f"The per-label heads ({', '.join(m.heads_on_validation)}) were tuned "
            "on the validation set that also selects: their validation scores are "
            "more optimistic than the others'."
        )
    return items


#: Images at least this many times their input size were resized down enough
#: for the limitation to name it.
DOWNSAMPLED = 2.0


def _downsampled(f: StudyFacts, m: MethodFacts) -> list[str]:
    """Approaches that saw the images much smaller than they are."""
    if not f.image_size:
        return []
    native = min(f.image_size)
    small: dict = {}
    for approach, side in m.input_sides.items():
        if side * DOWNSAMPLED <= native:
            small.setdefault(side, []).append(approach)
    items = []
    height, width = f.image_size
    for side, approaches in sorted(small.items()):
        items.append(
            f"The images (median {height} x {width} pixels) were resized down to "
            f"{side} pixels on the shorter side for {', '.join(approaches)} "
            f"({native / side:.1f}x smaller), so detail at the images' own "
            "resolution was not available to them; a larger input size "
            "(input_size, or the standard profile's native sizes) may score "
            "higher on these images."
        )
    return items


def _optimism(f: StudyFacts, m: MethodFacts) -> list[str]:
    if m.optimism is None:
        return []
    d = m.optimism
    publish = (
        "the nested cross-validation estimate of the selection procedure is the "
        "one to publish"
        if f.outer_folds
        else "the test score is the estimate to publish"
    )
    return [
        "The selected configuration's validation score is optimistic (best of "
        f"{len(d['selection_rates'])}): bias-corrected estimate "
        f"{d['corrected']:.3f}, optimism {d['optimism']:+.3f}; {publish}."
    ]


def _weights(f: StudyFacts) -> list[str]:
    if f.weights is not None:
        return []
    return [
        "Random initial weights (weights=None): this is not a transfer-learning result."
    ]


def _incomplete(m: MethodFacts) -> list[str]:
    if m.n_missing <= 0:
        return []
    return [f"Incomplete: {m.n_missing} planned cells have no result."]


def limitation_items(f: StudyFacts, m: MethodFacts) -> list[str]:
    """The limitations that apply to a study and its cells, in order."""
    return [
        _source(f),
        _PREVALENCE,
        *_patients(f),
        *_small_sets(f),
        _training_randomness(f),
        *_cells(m),
        *_downsampled(f, m),
        *_optimism(f, m),
        *_weights(f),
        *_incomplete(m),
    ]


def limitations(results, context: dict) -> list[str]:
    """Limitations a reviewer would list, from the study's own settings."""
    return limitation_items(study_facts(context), method_facts(results))
