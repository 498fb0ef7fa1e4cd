"""Learning curves of a study: its cells on subsamples of the training partition.

With ``train_sizes``, every backbone x approach of the study also runs on
repeated, nested, stratified (group-aware) subsamples of the *training*
partition (:func:`~skmedtl.model_selection.subsample_indices`); the validation
and test images stay the study's. A curve cell is the study's cell with the
subsample in its settings (so its key, and resume, follow it); size ``"all"``
is the study's own cell. Frozen cells slice the embeddings already computed
for the study (no new extraction). Curve cells are logged as ``"curve"``
records: the study's selection and saved model ignore them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import numbers
from dataclasses import dataclass

import numpy as np

from ._cells import Cell, CellContext, Embeddings
from ._derived import run_derived
from ._records import settings_key
from ._run import now

__all__ = [
    "CurvePlan",
    "CurvePoint",
    "parse_train_sizes",
    "plan_curves",
    "run_curves",
]


ALL = "all"


def parse_train_sizes(value) -> list | None:
    """``train_sizes`` as a list of positive ints and ``"all"`` (``None``: none).

    Accepts ``"25,50,all"`` or a list; raises a ``ValueError`` naming
    ``train_sizes`` (``--train-sizes``) for anything else.
    """
    if value is None:
        return None
    items = value.split(",") if isinstance(value, str) else list(value)
    sizes: list = []
    for item in items:
        size = item.strip().lower() if isinstance(item, str) else item
        if isinstance(size, str) and size != ALL:
            try:
                size = int(size)
            except ValueError:
                size = None
        if size != ALL and (
            size is None
            or isinstance(size, bool)
            or not isinstance(size, numbers.Integral)
            or size < 1
        ):
            raise ValueError(
                "train_sizes (--train-sizes) must be positive numbers of training "
                f"images or 'all', e.g. 25,50,100,all; got {item!r} in {value!r}."
            )
        size = size if size == ALL else int(size)
        if size in sizes:
            raise ValueError(f"train_sizes (--train-sizes) lists {size!r} twice.")
        sizes.append(size)
    if not sizes:
        raise ValueError("train_sizes (--train-sizes) is empty; e.g. 25,50,100,all.")
    return sizes


@dataclass(frozen=True)
class CurvePoint:
    """One learning-curve cell: a study cell on one training subsample.

    Attributes
    ----------
    cell : Cell
        Settings include the subsample (size ``"all"``: the study's cell).
    size : int or "all"
    repeat : int
    n_train : int
        Training images in the subsample.
    train : ndarray of int
        Positions in the study's training partition (``dev[~val_mask]``).
    """

    cell: Cell
    size: object
    repeat: int
    n_train: int
    train: np.ndarray = dataclasses.field(repr=False, compare=False)


@dataclass(frozen=True)
class CurvePlan:
    """The learning-curve cells of a study and the sizes skipped (in words)."""

    points: tuple[CurvePoint, ...]
    skipped: tuple[str, ...]
    sizes: tuple
    n_repeats: int
    n_train: int


def min_per_class(approach, profile) -> int:
    """Training images of each class an approach needs.

    Hybrid heads are tuned on the validation split, but the SVM's Platt
    scaling runs an internal cross-validation: ``profile.cv_folds`` images of
    each class; the trained approaches need one of each class.
    """
    if approach.family == "hybrid":
        return max(2, int(getattr(profile, "cv_folds", 2) or 2))
    return 1


def plan_curves(study, sizes: list, n_repeats: int) -> CurvePlan:
    """The curve cells of a prepared study, in run order (frozen cells first)."""
    from ..model_selection import subsample_indices

    data = study.data_
    dev = data.indices("train", "val")
    train = np.flatnonzero(~study.val_mask_)  # positions in dev
    y = data.labels[dev][train]
    groups = None if data.groups is None else data.groups[dev][train]
    points, skipped = [], []
    seed = study.seeds_[0]
    for approach in sorted(study.approaches_, key=lambda a: not a.frozen):
        plan = subsample_indices(
            y,
            sizes,
            n_repeats,
            groups=groups,
            min_per_class=min_per_class(approach, study.profile_),
            random_state=study.random_state,  # the same draws for every approach
        )
        for s in plan.skipped:
            repeat = "every repeat" if s.repeat is None else f"repeat {s.repeat + 1}"
            skipped.append(f"{approach.name}, size {s.size} ({repeat}): {s.reason}")
        for backbone in study.profile_.backbones:
            base = next(
                c
                for c in study.cells_
                if c.backbone == backbone
                and c.approach.name == approach.name
                and c.seed == seed
            )
            for sub in plan:
                if sub.size == ALL:
                    if sub.repeat:  # the full partition is one draw
                        continue
                    cell = base  # the study's own cell
                else:
                    digest = hashlib.sha256(
                        np.asarray(sub.indices, np.int64).tobytes()
                    ).hexdigest()[:16]
                    settings = {
                        **base.settings,
                        "train_subsample": {
                            "size": sub.size,
                            "repeat": sub.repeat,
                            "n_train": sub.n_samples,
                            "digest": digest,
                        },
                    }
                    cell = Cell(
                        backbone, approach, seed, settings, settings_key(settings)
                    )
                points.append(
                    CurvePoint(cell, sub.size, sub.repeat, sub.n_samples, sub.indices)
                )
    return CurvePlan(tuple(points), tuple(skipped), tuple(sizes), n_repeats, len(y))


def subsample_context(ctx: CellContext, point: CurvePoint) -> tuple[CellContext, list]:
    """The cell context of a subsample, and its positions in the study's ``dev``."""
    dev_positions = np.arange(len(ctx.dev))
    train_pos = dev_positions[~ctx.val_mask][point.train]
    val_pos = dev_positions[ctx.val_mask]
    positions = np.concatenate([train_pos, val_pos])
    mask = np.zeros(len(positions), bool)
    mask[len(train_pos) :] = True
    sub = dataclasses.replace(ctx, dev=ctx.dev[positions], val_mask=mask)
    return sub, positions


def subsample_embeddings(emb: Embeddings | None, positions) -> Embeddings | None:
    """The study's frozen embeddings of a subsample (sliced, not extracted)."""
    if emb is None:
        return None
    return dataclasses.replace(emb, dev=emb.dev[positions])


def run_curves(run, ctx: CellContext, plan: CurvePlan) -> list[dict]:
    """Run the unfinished curve cells of ``plan``; returns their failures.

    ``run`` is the :class:`~._runner.StudyRun`: its embeddings (one extraction
    per backbone, through the cache) and its store are reused. The size
    ``"all"`` is the study's own cell (a ``"cell"`` record counts as done).
    """

    def derive(point: CurvePoint, shipped: CellContext, emb):
        sub, positions = subsample_context(shipped, point)
        return sub, subsample_embeddings(emb, positions)

    return run_derived(
        run,
        ctx,
        plan.points,
        what="Learning curves",
        kinds=("curve", "cell"),
        base=lambda point: point.cell,
        derive=derive,
        record=_curve_record,
        label=_label,
    )


def _curve_record(point: CurvePoint, run_id: str, result: dict) -> dict:
    """The logged record of a finished curve cell."""
    return {
        "type": "curve",
        "key": point.cell.key,
        "cell_id": _label(point),
        "backbone": point.cell.backbone,
        "approach": point.cell.approach.name,
        "category": point.cell.approach.category,
        "seed": point.cell.seed,
        "size": point.size,
        "repeat": point.repeat,
        "n_train": point.n_train,
        "settings": point.cell.settings,
        "run_id": run_id,
        "finished": now(),
        **result,
    }


def _label(point: CurvePoint) -> str:
    return (
        f"{point.cell.id} / {point.n_train} training images (repeat {point.repeat + 1})"
    )
