"""Planning a study: its grid resolved from the profile, its cells and their keys.

Everything here is decided before any cell runs and depends only on the
parameters and the data: the profile with the user's overrides, the seeds, the
operating-point rule, the one validation split shared by every cell, and each
cell's settings, whose hash is its key (a changed setting makes a new cell; a
finished cell with the same key is not run again).
"""

from __future__ import annotations

import hashlib
import numbers
import os

import numpy as np

from ..utils._validation import Interval
from ._approaches import Approach
from ._cells import Cell
from ._heads import head_grid
from ._profiles import Profile
from ._records import settings_key

__all__ = [
    "ValidationSplit",
    "cell_settings",
    "check_device",
    "check_grid",
    "check_lrs",
    "check_operating_point",
    "input_sizes",
    "operating_point",
    "ordered_grades",
    "plan_cells",
    "profile_overrides",
    "study_seeds",
    "validation_split",
]

#: Share of the training images held out for validation when the data set has
#: no validation split of its own.
VALIDATION_SHARE = 0.2


def check_lrs(lrs) -> None:
    """``lrs``: one positive number or a non-empty list of them."""
    values = [lrs] if isinstance(lrs, (str, bytes)) else lrs
    positive = Interval(numbers.Real, 0, None, closed="neither")
    try:
        ok = len(values) > 0 and all(positive.is_satisfied_by(v) for v in values)
    except TypeError:
        ok = False
    if not ok:
        raise ValueError(f"lrs must be positive numbers; got {lrs!r}.")


def check_device(device) -> None:
    """A device the machine has (``"auto"``, ``"cpu"``, ``"cuda:0"``, ...)."""
    from ..utils._devices import resolve_device

    resolve_device(device)


def check_grid(profile: Profile, approaches: list[Approach], weights) -> None:
    """Errors before any work: unknown backbones, missing weights or XGBoost,
    fine-tuning deeper than a backbone."""
    from ..backbones import get_backbone

    for backbone in profile.backbones:
        spec = get_backbone(backbone)  # unknown names: "Did you mean ...?"
        if (
            weights == "imagenet"
            and not spec.weights
            and any(a.family != "random_init" for a in approaches)
        ):
            raise ValueError(
                f"Backbone {backbone!r} has no pretrained weights; use "
                "weights=None (random) or another backbone."
            )
        for a in approaches:
            n_groups = len(spec.block_group_names)
            if a.trainable_blocks is not None and a.trainable_blocks > n_groups:
                raise ValueError(
                    f"Approach {a.name!r}: {backbone} has only {n_groups} block "
                    f"groups ({', '.join(spec.block_group_names)}); use "
                    f"fine_tune:{n_groups} at most, or 'full'."
                )
    if "hybrid-xgboost" in [a.name for a in approaches]:
        try:
            import xgboost  # noqa: F401
        except ImportError as e:
            raise ImportError(
                "Approach 'hybrid-xgboost' needs XGBoost: pip install "
                '"skmedtl[xgboost]", or leave the approach out.'
            ) from e


def profile_overrides(profile: Profile, params: dict) -> Profile:
    """``profile`` with every parameter of ``params`` that is not ``None``."""
    changes = {}
    backbones = params.get("backbones")
    if backbones is not None:
        if isinstance(backbones, str):
            names = [b.strip() for b in backbones.split(",") if b.strip()]
        else:
            names = [b.strip() for b in backbones]
        if not names:
            raise ValueError("backbones is empty: name at least one backbone.")
        changes["backbones"] = tuple(names)
    for name in ("fine_tune_blocks", "max_epochs", "n_bootstraps"):
        if params.get(name) is not None:
            changes[name] = int(params[name])
    changes.update(input_sizes(params))
    lrs = params.get("lrs")
    if lrs is not None:
        lrs = [lrs] if isinstance(lrs, numbers.Real) else list(lrs)
        changes["lrs"] = tuple(float(v) for v in lrs)
    return profile.replace(**changes)


def input_sizes(params: dict) -> dict:
    """The profile's input sizes that ``input_size`` / ``train_input_size`` set.

    Like for like by default: ``input_size`` is the size of every approach,
    frozen and trained; ``train_input_size`` is the explicit request for
    another size for the approaches that train the backbone (the report then
    flags their rows). ``"native"`` is the weights' own size (``None`` in the
    profile).

    Examples
    --------
    >>> input_sizes({"input_size": 128})
    {'input_size': 128, 'train_input_size': 128}
    >>> input_sizes({"input_size": "native", "train_input_size": 64})
    {'input_size': None, 'train_input_size': 64}
    >>> input_sizes({})
    {}
    """

    def pixels(value):
        return None if value == "native" else int(value)

    changes = {}
    if params.get("input_size") is not None:
        changes["input_size"] = changes["train_input_size"] = pixels(
            params["input_size"]
        )
    if params.get("train_input_size") is not None:
        changes["train_input_size"] = pixels(params["train_input_size"])
    return changes


def study_seeds(seeds, random_state: int) -> list[int]:
    """The seeds: ``seeds`` from ``random_state`` on, or the listed seeds."""
    if isinstance(seeds, numbers.Integral) and not isinstance(seeds, bool):
        if seeds < 1:
            raise ValueError(f"seeds must be at least 1; got {seeds!r}.")
        return [int(random_state) + i for i in range(int(seeds))]
    try:
        values = [int(s) for s in seeds]
    except (TypeError, ValueError) as e:
        raise ValueError(
            f"seeds must be a count or a list of integers; got {seeds!r}."
        ) from e
    if not values or len(set(values)) != len(values):
        raise ValueError(f"seeds must be distinct integers; got {seeds!r}.")
    return values


def ordered_grades(data, task: str, grades):
    """``data`` with its grade order (ordinal studies), or an error saying why not.

    The order of an ordinal study's classes must be known: ``grades`` gives
    it; without it, numeric labels are taken in increasing order and text
    labels are refused (their alphabetical order is no grading).
    """
    if task != "ordinal":
        if grades is not None:
            raise ValueError(
                "grades orders the classes of an ordinal study "
                "(task='ordinal'); leave grades out, or make the study ordinal."
            )
        return data
    if data.task.per_label:
        raise ValueError(
            "task='ordinal' needs one grade per image; this data set is multi-label."
        )
    if grades is None:
        if np.asarray(data.labels).dtype.kind not in "biuf":
            raise ValueError(
                f"task='ordinal' with text classes {data.class_names}: their order "
                "cannot be known; give grades, lowest first (grades=['low', "
                "'medium', 'high'], or --grades low,medium,high)."
            )
        return data
    data = data.with_grades(grades)
    if data.pos_label is not None and data.grades[-1] != data.pos_label:
        raise ValueError(
            f"grades: the positive class {data.pos_label!r} of a two-class study "
            "must be the highest grade (last); reorder grades or change pos_label."
        )
    return data


def check_operating_point(rule: str, data) -> None:
    """A target sensitivity / specificity needs one positive class."""
    per_label = data.task.per_label
    n_classes = 0 if per_label else len(np.unique(data.labels))
    if rule != "youden" and n_classes != 2:
        kind = "multi-label" if per_label else f"{n_classes}-class"
        raise ValueError(
            f"target_{rule} sets the operating point of a two-class study (the "
            f"positive class's threshold); this data set is {kind}, where the "
            "report uses the most probable class (per label: Youden's J). Leave "
            f"target_{rule} (--target-{rule}) out."
        )


def operating_point(target_sensitivity, target_specificity) -> tuple[str, float | None]:
    """The operating-point rule and its target (Youden's J without a target)."""
    targets = {
        name: value
        for name, value in (
            ("sensitivity", target_sensitivity),
            ("specificity", target_specificity),
        )
        if value is not None
    }
    if len(targets) > 1:
        raise ValueError(
            "Give target_sensitivity or target_specificity, not both: the "
            "operating point has one target."
        )
    if not targets:
        return "youden", None
    name, value = next(iter(targets.items()))
    return name, float(value)


class ValidationSplit:
    """The study's one validation set, over the development (train + val) images.

    Attributes
    ----------
    mask : ndarray of bool
        Over ``data.indices("train", "val")``: the validation images.
    source : str
        Where it comes from, in words (for the report).
    digest : str
        Hash of the split, part of every cell's settings.
    """

    def __init__(self, mask: np.ndarray, source: str):
        self.mask = mask
        self.source = source
        self.digest = hashlib.sha256(
            np.flatnonzero(mask).tobytes() + repr(source).encode()
        ).hexdigest()[:16]


def validation_split(data, random_state: int) -> ValidationSplit:
    """The data set's own validation split, else one made once for all cells."""
    from ..model_selection import train_test_split_by_group

    dev = data.indices("train", "val")
    if data.has_validation:
        return ValidationSplit(
            data.split[dev] == "val", "the data set's own validation split"
        )
    groups = None if data.groups is None else data.groups[dev]
    _, val = train_test_split_by_group(
        data.labels[dev],
        groups=groups,
        test_size=VALIDATION_SHARE,
        random_state=random_state,
    )
    mask = np.zeros(len(dev), bool)
    mask[val] = True
    source = (
        f"one stratified{' patient-level' if groups is not None else ''} "
        f"split of {VALIDATION_SHARE:.0%} of the training images, made "
        f"once (random_state={random_state}) and shared by all cells"
    )
    return ValidationSplit(mask, source)


def common_settings(study) -> dict:
    """The settings every cell's result depends on (part of every key)."""
    from .. import __version__

    settings = {
        "skmedtl": __version__,
        "dataset": study.fingerprint_,
        "pos_label": study.data_.pos_label,
        "weights": None if study.weights is None else os.fspath(study.weights),
        "metric": study.metric,
        "n_bootstraps": study.profile_.n_bootstraps,
        "batch_size": int(study.batch_size),
        "validation": study.validation_digest_,
        "calibrate": study.calibrate,
        "operating_point": [study.threshold_rule_, study.threshold_target_],
        "task": study.task,
        "class_weight": "balanced",
        # hyperparameters, early stopping and learning rate are tuned inside
        # the training images (validation only selects): not the earlier cells
        "tuning": "inner",
    }
    if study.data_.grades is not None:  # only then: earlier keys stay valid
        settings["grades"] = [str(g) for g in study.data_.grades]
    return settings


def cell_settings(
    common: dict, profile: Profile, backbone: str, approach: Approach, seed: int
) -> dict:
    """Everything one cell's result depends on."""
    p = profile
    s = {"backbone": backbone, "approach": approach.name, "seed": seed}
    s.update(common)
    if approach.family == "hybrid":
        s.update(input_size=p.input_size, grid=head_grid(approach.head, p.head_grid))
    elif approach.family == "feature_extractor":
        s.update(
            input_size=p.input_size,
            max_epochs=p.head_max_epochs,
            patience=p.head_patience,
            lrs=list(p.lrs),
        )
    else:
        s.update(
            input_size=p.train_input_size,
            max_epochs=p.max_epochs,
            patience=p.patience,
            lrs=list(p.lrs),
        )
    if approach.family == "random_init":
        s["weights"] = None
    return s


def plan_cells(
    common: dict, profile: Profile, approaches: list[Approach], seeds: list[int]
) -> list[Cell]:
    """The grid's cells in run order, each with its settings and key.

    Backbone by backbone, frozen approaches first: they share one extraction.
    """
    ordered = sorted(approaches, key=lambda a: not a.frozen)
    cells = []
    for backbone in profile.backbones:
        for seed in seeds:
            for approach in ordered:
                settings = cell_settings(common, profile, backbone, approach, seed)
                cells.append(
                    Cell(backbone, approach, seed, settings, settings_key(settings))
                )
    return cells
