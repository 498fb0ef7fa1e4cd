"""Nested cross-validation of a study: the whole selection protocol in K outer folds.

With ``cv=K`` (data sets without an official test split), the images are cut
into ``K`` outer folds, stratified and patient-grouped
(:func:`~skmedtl.model_selection.make_cv`). In each fold the study's protocol
runs as it runs on its single split: the outer-training images are split into
training and validation by the study's own rule
(:func:`~._plan.validation_split`), every cell tunes inside its training
images, the configuration is selected on that validation set (the study's own
rule, :func:`~._summary.recommend`) and the outer test fold is predicted once
per finished model. The mean over folds of the selected configuration's
outer-test score estimates the *selection procedure* (Varma & Simon 2006);
the saved model and the main tables stay the single-split study's.

A fold cell is the study's cell with the fold in its settings (its key, and
resume, follow it), logged as a ``"nested"`` record; frozen cells slice the
study's embeddings (the same images, embedded once).
"""

from __future__ import annotations

import dataclasses
import hashlib
import numbers
from dataclasses import dataclass

import numpy as np

from ._cells import Cell, CellContext, Embeddings
from ._derived import run_derived
from ._plan import validation_split
from ._records import settings_key
from ._run import now

__all__ = [
    "AUTO_K",
    "AUTO_MAX_IMAGES",
    "NestedCell",
    "NestedPlan",
    "OuterFold",
    "parse_cv",
    "plan_nested",
    "run_nested",
]


AUTO = "auto"
#: Outer folds of ``cv="auto"``.
AUTO_K = 5
#: ``cv="auto"`` runs nested CV below this many images (see
#: benchmarks/protocol/RESULTS.md: from about 1000 images a single 20% test
#: split estimates the procedure within the fold-to-fold noise of K=5).
AUTO_MAX_IMAGES = 1000
_OFF = ("0", "none", "off", "no", "false")
OFFICIAL = "the data set's own test split"


def parse_cv(value) -> int | str | None:
    """``cv`` as a number of outer folds (>= 2), ``"auto"`` or ``None`` (off).

    ``None``, ``0``, ``"0"``, ``"none"`` and ``"off"`` turn nested
    cross-validation off; anything else that is not an integer >= 2 or
    ``"auto"`` raises a ``ValueError`` naming ``cv`` (``--cv``).
    """
    if value is None or value is False:
        return None
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _OFF:
            return None
        if text == AUTO:
            return AUTO
        try:
            value = int(text)
        except ValueError:
            raise ValueError(
                f"cv (--cv) must be a number of outer folds (2 or more), 'auto' "
                f"or 'none'; got {value!r}."
            ) from None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(
            f"cv (--cv) must be a number of outer folds (2 or more), 'auto' or "
            f"'none'; got {value!r}."
        )
    if value == 0:
        return None
    if value < 2:
        raise ValueError(
            f"cv (--cv) must be at least 2 outer folds; got {value}. Use 0 or "
            "'none' to turn nested cross-validation off."
        )
    return int(value)


@dataclass(frozen=True)
class OuterFold:
    """One outer fold: its outer-training images, split as the study splits.

    Attributes
    ----------
    index : int
    dev : ndarray of int
        The outer-training images (indices into the data set).
    test : ndarray of int
        The outer test fold (indices into the data set).
    val_mask : ndarray of bool
        Over ``dev``: the fold's validation images.
    digest : str
        Hash of the fold's three parts (part of its cells' keys).
    """

    index: int
    dev: np.ndarray = dataclasses.field(repr=False, compare=False)
    test: np.ndarray = dataclasses.field(repr=False, compare=False)
    val_mask: np.ndarray = dataclasses.field(repr=False, compare=False)
    digest: str = ""

    def sizes(self, groups) -> dict:
        """Images (and patients) in training, validation and the outer test."""
        parts = {
            "train": self.dev[~self.val_mask],
            "validation": self.dev[self.val_mask],
            "test": self.test,
        }
        sizes = {f"n_{k}": int(len(v)) for k, v in parts.items()}
        if groups is not None:
            sizes.update(
                {
                    f"n_{k}_patients": len(set(groups[v].tolist()))
                    for k, v in parts.items()
                }
            )
        return sizes


@dataclass(frozen=True)
class NestedCell:
    """A study cell in one outer fold."""

    fold: int
    cell: Cell
    base: Cell  # the study's own cell (its embeddings are sliced)


@dataclass(frozen=True)
class NestedPlan:
    """The outer folds of a study and their cells, in run order.

    Attributes
    ----------
    k : int
    folds : tuple of OuterFold
    cells : tuple of NestedCell
    grouped : bool
        Whether the folds keep each patient in one fold.
    requested : str
        The ``cv`` asked for (``"auto"`` or the number).
    random_state : int
    """

    k: int
    folds: tuple[OuterFold, ...]
    cells: tuple[NestedCell, ...]
    grouped: bool
    requested: str
    random_state: int


def resolve_cv(value, data) -> int | None:
    """The number of outer folds for ``data``, or ``None`` (no nested CV).

    ``"auto"``: :data:`AUTO_K` folds when the data set has no official test
    split, one class per image and fewer than :data:`AUTO_MAX_IMAGES` images
    (fewer folds when a class has fewer patients). An explicit ``K`` is refused
    on an official split, above the smallest class's number of patients, or on
    data sets with several labels per image.
    """
    cv = parse_cv(value)
    if cv is None:
        return None
    smallest = _smallest_class(data)
    if cv == AUTO:
        if (
            data.test_protocol == OFFICIAL
            or data.task.per_label
            or data.n_images() >= AUTO_MAX_IMAGES
            or smallest < 2
        ):
            return None
        return min(AUTO_K, smallest)
    if data.test_protocol == OFFICIAL:
        raise ValueError(
            f"cv (--cv) {cv}: the data set has its own test split ({data.source}); "
            "nested cross-validation is for data sets without one. Remove --cv "
            "(or pass --cv 0) to use the official split."
        )
    if data.task.per_label:
        raise ValueError(
            f"cv (--cv) {cv}: nested cross-validation needs one class per image; "
            "this data set has several labels per image. Pass --cv 0."
        )
    if cv > smallest:
        unit = "patients" if data.groups is not None else "images"
        raise ValueError(
            f"cv (--cv) {cv} is more outer folds than the smallest class has "
            f"{unit} ({smallest}); every outer fold needs one of each class. "
            f"Pass --cv {max(2, smallest)} or fewer."
        )
    return cv


def _smallest_class(data) -> int:
    """Patients (images without groups) of the rarest class."""
    labels = np.asarray(data.labels)
    if labels.ndim != 1:
        return 0
    ids = np.arange(len(labels)) if data.groups is None else np.asarray(data.groups)
    return min(len(set(ids[labels == c].tolist())) for c in np.unique(labels))


def plan_nested(study) -> NestedPlan | None:
    """The outer folds and fold cells of a prepared study (``None``: no nested CV)."""
    from ..model_selection import make_cv

    data = study.data_
    k = resolve_cv(study.cv, data)
    if k is None:
        return None
    labels = np.asarray(data.labels)
    groups = None if data.groups is None else np.asarray(data.groups)
    splitter = make_cv(k, groups=groups, random_state=study.random_state)
    folds = []
    for i, (_, test) in enumerate(
        splitter.split(np.zeros(len(labels)), labels, groups)
    ):
        folds.append(_outer_fold(data, i, np.sort(test), study.random_state))
    cells = []
    for base in study.cells_:
        for fold in folds:
            settings = {
                **base.settings,
                "outer_fold": {"k": k, "fold": fold.index, "digest": fold.digest},
            }
            cell = Cell(
                base.backbone,
                base.approach,
                base.seed,
                settings,
                settings_key(settings),
            )
            cells.append(NestedCell(fold.index, cell, base))
    return NestedPlan(
        k,
        tuple(folds),
        tuple(cells),
        groups is not None,
        str(study.cv),
        int(study.random_state),
    )


def _outer_fold(data, index: int, test: np.ndarray, random_state: int) -> OuterFold:
    """Fold ``index``: the rest split into training and validation as the study
    splits a data set without a validation split."""
    split = np.full(len(data.labels), "train", dtype=object)
    split[test] = "test"
    fold_data = dataclasses.replace(data, split=split)
    dev = fold_data.indices("train", "val")
    mask = validation_split(fold_data, random_state).mask
    digest = hashlib.sha256(
        np.asarray(test, np.int64).tobytes() + np.asarray(dev[mask], np.int64).tobytes()
    ).hexdigest()[:16]
    return OuterFold(index, dev, test, mask, digest)


def fold_context(ctx: CellContext, fold: OuterFold) -> CellContext:
    """The study's cell context with the fold's development, validation and test."""
    return dataclasses.replace(
        ctx, dev=fold.dev, test=fold.test, val_mask=fold.val_mask
    )


def fold_embeddings(
    emb: Embeddings | None, ctx: CellContext, fold: OuterFold
) -> Embeddings | None:
    """The fold's rows of the study's embeddings (``ctx``: the study's context)."""
    if emb is None:
        return None
    rows = np.full(len(ctx.data.labels), -1)
    rows[ctx.dev] = np.arange(len(ctx.dev))
    rows[ctx.test] = len(ctx.dev) + np.arange(len(ctx.test))
    every = np.concatenate([emb.dev, emb.test])
    return dataclasses.replace(
        emb, dev=every[rows[fold.dev]], test=every[rows[fold.test]]
    )


def run_nested(run, ctx: CellContext, plan: NestedPlan) -> list[dict]:
    """Run the unfinished fold cells of ``plan``; returns their failures.

    ``run`` is the :class:`~._runner.StudyRun` (its embeddings, through the
    cache, and its store are reused); ``ctx`` the study's context.
    """
    folds = {f.index: f for f in plan.folds}

    def derive(item: NestedCell, shipped: CellContext, emb):
        fold = folds[item.fold]
        return fold_context(shipped, fold), fold_embeddings(emb, shipped, fold)

    return run_derived(
        run,
        ctx,
        plan.cells,
        what="Nested cross-validation",
        kinds=("nested",),
        base=lambda item: item.base,
        derive=derive,
        record=lambda item, run_id, result: _record(item, plan.k, run_id, result),
        label=lambda item: _label(item, plan.k),
    )


def _record(item: NestedCell, k: int, run_id: str, result: dict) -> dict:
    """The log's ``"nested"`` record of a finished fold cell."""
    return {
        "type": "nested",
        "key": item.cell.key,
        "cell_id": _label(item, k),
        "backbone": item.cell.backbone,
        "approach": item.cell.approach.name,
        "category": item.cell.approach.category,
        "seed": item.cell.seed,
        "fold": item.fold,
        "settings": item.cell.settings,
        "run_id": run_id,
        "finished": now(),
        **result,
    }


def _label(item: NestedCell, k: int) -> str:
    return f"{item.cell.id} / outer fold {item.fold + 1} of {k}"
