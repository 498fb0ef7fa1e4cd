"""Running one cell of the grid: fit on training, choose on validation, score on test.

Every cell fits on the training images only and predicts the study's one
validation set (the data set's own split, or one stratified, group-aware split
made once per study): hyperparameters, the learning rate, early stopping,
recalibration and the operating point are chosen there, and the validation
score is what the study selects configurations by. The test set is predicted
once, by the finished model.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np

from ..model_selection import select_on_validation
from ._approaches import Approach
from ._evaluate import evaluate
from ._finetune_history import best_valid_loss, cached_trunk, finetune_selection
from ._heads import count_head_params, head_grid
from ._measure import CellTimes, PeakMemory, Stopwatch, cpu_threads, describe_device
from ._per_label import finish_per_label, label_probabilities, per_label_metric
from ._stats import cell_statistics, score
from ._tuning import (
    INNER_FRACTION,
    OUT_OF_BAG,
    head_workers,
    inner_folds,
    refit,
    tune_by_cv,
    tune_forest_out_of_bag,
)

__all__ = ["Cell", "CellContext", "Embeddings", "run_cell"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Cell:
    """One (backbone, approach, seed) of the grid.

    Attributes
    ----------
    backbone : str
    approach : Approach
    seed : int
    settings : dict
        Everything its result depends on (hashed into ``key``).
    key : str
    """

    backbone: str
    approach: Approach
    seed: int
    settings: dict = field(compare=False, repr=False)
    key: str = field(compare=False, repr=False)

    @property
    def id(self) -> str:
        """Readable identifier: ``backbone / approach / seed``."""
        return f"{self.backbone} / {self.approach.name} / seed {self.seed}"


@dataclass
class CellContext:
    """What every cell of a run shares."""

    data: object  # StudyDataset
    dev: np.ndarray
    test: np.ndarray
    profile: object  # Profile
    weights: object
    metric: str
    batch_size: int
    device: str
    device_name: str
    cache_path: str
    n_jobs: int | None
    verbose: int
    run_id: str
    val_mask: np.ndarray | None = None  # over ``dev``: the validation images
    calibrate: str = "none"
    threshold_rule: str = "youden"
    threshold_target: float | None = None
    task: str = "classification"


@dataclass
class Embeddings:
    """Frozen-backbone embeddings of the development and test images, with cost."""

    dev: np.ndarray
    test: np.ndarray
    extract_time_s: float
    seconds_per_image: float
    peak_memory_mb: float
    peak_gpu_memory_mb: float | None
    method: str
    input_size: list
    engine: str = "torch"
    features: object = None  # the fitted CNNFeatures (saved with hybrid cells)


def _train_groups(ctx: CellContext) -> np.ndarray | None:
    """Patient ids of the cell's training images (``None`` without groups)."""
    groups = getattr(ctx.data, "groups", None)
    if groups is None:
        return None
    return np.asarray(groups)[ctx.dev][~ctx.val_mask]


def _torch_device(name: str):
    from ..utils._devices import resolve_device

    return resolve_device(name)


def _aligned(proba, model_classes, label_order) -> np.ndarray:
    """Probability columns in ``label_order`` (binary: the positive class last)."""
    model_classes = list(np.asarray(model_classes).tolist())
    columns = [model_classes.index(c) for c in label_order]
    return np.asarray(proba, dtype=float)[:, columns]


def _encoded(labels, label_order) -> np.ndarray:
    index = {c: i for i, c in enumerate(label_order)}
    return np.array([index[v] for v in np.asarray(labels).tolist()], dtype=int)


def _finish(
    ctx: CellContext, proba_val, proba_test, model_classes, y_val, times: CellTimes
) -> dict:
    """Test metrics of the finished model, and the validation-side statistics.

    The one step every cell ends with; the task decides how it scores
    (multi-label: :func:`~._per_label.finish_per_label`).
    """
    if ctx.data.task.per_label:
        return finish_per_label(ctx, proba_val, proba_test, y_val, times)
    data = ctx.data
    order = data.label_order()
    with times.stage("evaluation_s"):
        result = evaluate(
            data.labels[ctx.test],
            proba_test,
            model_classes,
            order,
            ctx.profile.n_bootstraps,
        )
    result["test_index"] = [int(i) for i in ctx.test]
    with times.stage("calibration_s"):
        statistics = cell_statistics(
            y_val=_encoded(y_val, order),
            proba_val=_aligned(proba_val, model_classes, order),
            y_test=np.asarray(result["y_true"]),
            proba_test=_aligned(proba_test, model_classes, order),
            metric=ctx.metric,
            calibrate=ctx.calibrate,
            threshold_rule=ctx.threshold_rule,
            target=ctx.threshold_target,
            task=ctx.task,
            n_bootstraps=ctx.profile.n_bootstraps,
        )
    result.update(statistics)
    return result


def _hybrid_costs(
    ctx: CellContext, emb: Embeddings, train, infer, memory, trainable_params
) -> dict:
    """The cost fields of a hybrid cell: embeddings' cost plus the head's."""
    return {
        "extract_time_s": emb.extract_time_s,
        "train_time_s": train.seconds,
        "inference_ms_per_image": 1e3
        * (emb.seconds_per_image + infer.seconds / len(ctx.test)),
        "trainable_params": trainable_params,
        "peak_memory_mb": max(emb.peak_memory_mb, memory.peak_mb),
        "peak_gpu_memory_mb": emb.peak_gpu_memory_mb,
        "input_size": emb.input_size,
    }


def run_hybrid(
    ctx: CellContext, cell: Cell, emb: Embeddings, times: CellTimes | None = None
) -> dict:
    """A hybrid head on frozen embeddings (one per label for a multi-label task):
    tuned inside the training images (:func:`_tune_head`), then the validation
    set scored once and the test set predicted once."""
    from sklearn.model_selection import ParameterGrid

    from ..hybrid import head_pipeline

    times = CellTimes() if times is None else times
    task, head = ctx.data.task, cell.approach.head
    y_dev, mask = ctx.data.labels[ctx.dev], ctx.val_mask
    pipe = head_pipeline(
        head,
        class_weight="balanced",
        random_state=cell.seed,
        n_jobs=ctx.n_jobs,
        **task.head_options(),
    )
    X_train, y_train = emb.dev[~mask], y_dev[~mask]
    X_val, y_val = emb.dev[mask], y_dev[mask]
    grid = list(ParameterGrid(_task_grid(head, ctx)))
    folds = inner_folds(y_train, _train_groups(ctx), seed=cell.seed)
    proba_of, score_of = _head_scoring(ctx)
    with PeakMemory() as memory, Stopwatch() as train:
        params, inner, model, scheme = _tune_head(
            ctx, pipe, grid, (X_train, y_train), folds, times, (proba_of, score_of)
        )
    with times.stage("prediction_s"):
        proba_val = proba_of(model, X_val)  # the validation set, once
    value = score_of(model, y_val, proba_val)
    with Stopwatch() as infer, times.stage("prediction_s"):
        proba = proba_of(model, emb.test)
    result = {
        **_hybrid_costs(ctx, emb, train, infer, memory, _head_size(model, task)),
        "selection": {
            "params": {k.removeprefix(task.head_prefix): v for k, v in params.items()},
            "validation_score": float(value),
            "inner_score": inner,
            **scheme,
            "n_candidates": len(grid),
        },
    }
    classes = None if task.per_label else model.classes_
    result.update(_finish(ctx, proba_val, proba, classes, y_val, times))
    result["_model"] = model  # the fitted head; popped before the record is logged
    return result


def _tune_head(ctx, pipe, grid, training, folds, times, scoring):
    """Choose a hybrid head's grid value inside the training images and fit it.

    By the inner folds, then refitted on every training image; a random
    forest without patient groups (single-label) by its trees' out-of-bag
    predictions instead, one fit per grid value (not across patients: an
    image's trees drew the patient's other images). Returns the chosen
    parameters, their inner score, the fitted head and the selection fields
    saying how. ``scoring`` is ``(proba_of, score_of)`` of :func:`_head_scoring`.
    """
    from sklearn.base import clone
    from sklearn.ensemble import RandomForestClassifier

    X_train, y_train = training
    proba_of, score_of = scoring
    workers = head_workers(ctx.n_jobs)
    forest = isinstance(pipe.named_steps["clf"], RandomForestClassifier)
    if forest and folds.splits and not folds.grouped:  # per label: a wrapper
        with times.stage("head_tuning_s"):  # the chosen fit is the model
            params, inner, model = tune_forest_out_of_bag(
                pipe, grid, X_train, y_train, score_of, workers
            )
        return params, inner, model, {"scheme": OUT_OF_BAG, "inner_folds": None}
    unfitted: list = []  # inner fits a grid value could not make

    def fit(params, index=None):
        if index is None:
            return clone(pipe).set_params(**params).fit(X_train, y_train)
        try:  # e.g. an SVM's calibration folds on a label's few positives
            return clone(pipe).set_params(**params).fit(X_train[index], y_train[index])
        except ValueError as error:
            unfitted.append(f"{params}: {error}")
            return None

    def inner_score(model, held_out) -> float:
        if model is None:
            return float("nan")
        return score_of(model, y_train[held_out], proba_of(model, X_train[held_out]))

    with times.stage("head_tuning_s"):
        params, inner = tune_by_cv(grid, fit, inner_score, folds, workers)
    with times.stage("head_fit_s"):  # refitted on every training image
        model = refit(fit, params, pipe, workers)
    scheme = {
        "scheme": f"{folds.n_splits}-fold inner CV of the training images"
        + (", patient-grouped" if folds.grouped else ""),
        "inner_folds": folds.n_splits,
        "inner_note": _inner_note(folds.note, unfitted, len(grid) * folds.n_splits),
    }
    return params, inner, model, scheme


def _inner_note(note: str | None, unfitted: list, n_fits: int) -> str | None:
    """The folds' note, and how many inner fits failed (scored NaN, so a grid
    value that fails on every fold is never chosen; all failing: the first)."""
    if not unfitted:
        return note
    failed = (
        f"{len(unfitted)} of {n_fits} inner fits could not be made and were "
        f"scored NaN (first: {unfitted[0]})"
    )
    return failed if note is None else f"{note}; {failed}"


def _task_grid(head: str, ctx: CellContext) -> dict:
    """The profile's grid of ``head``, keyed where the task's pipeline has it."""
    return head_grid(head, ctx.profile.head_grid, prefix=ctx.data.task.head_prefix)


def _head_scoring(ctx: CellContext):
    """``proba_of(model, X)`` and ``score_of(model, y, proba)`` of the task.

    Single-label: the head's own probability columns, scored in the study's
    label order. Multi-label: each label's positive probability, scored by the
    mean per-label metric.
    """
    if ctx.data.task.per_label:
        metric = per_label_metric(ctx.metric)
        return label_probabilities, lambda model, y, proba: metric(y, proba)
    order = ctx.data.label_order()

    def score_of(model, y, proba) -> float:
        aligned = _aligned(proba, model.classes_, order)
        return score(ctx.metric, _encoded(y, order), aligned)

    return (lambda model, X: model.predict_proba(X)), score_of


def _head_size(model, task) -> int | None:
    """Numbers the fitted head learned (every label's head, multi-label)."""
    clf = model.named_steps["clf"]
    if task.per_label:
        return int(sum(count_head_params(e) or 0 for e in clf.estimators_))
    return count_head_params(clf)


def run_finetune(
    ctx: CellContext,
    cell: Cell,
    emb: Embeddings | None,
    times: CellTimes | None = None,
) -> dict:
    """A FineTuneClassifier strategy; the learning rate chosen on validation."""
    times = CellTimes() if times is None else times
    head_only = cell.approach.family == "feature_extractor"
    emb = emb if head_only else None  # only a head on cached embeddings uses them
    params = _finetune_params(ctx, cell, head_only)
    clf, best, cost = _fit_finetune(ctx, cell, params, times)
    mask = ctx.val_mask
    with times.stage("prediction_s"):
        clf.predict_proba(ctx.data.take(ctx.test[:1]))  # warm-up: first-call costs
        with Stopwatch() as infer:
            proba = clf.predict_proba(ctx.data.take(ctx.test))
        proba_val = clf.predict_proba(ctx.data.take(ctx.dev[mask]))  # once
    per_image = infer.seconds / len(ctx.test)
    if emb is not None:  # its embeddings came from the cache
        per_image += emb.seconds_per_image
    result = {
        "extract_time_s": emb.extract_time_s if emb is not None else None,
        "train_time_s": cost.train.seconds,
        "inference_ms_per_image": 1e3 * per_image,
        "trainable_params": int(clf.n_trainable_params_),
        "peak_memory_mb": max(
            cost.memory.peak_mb, emb.peak_memory_mb if emb is not None else 0.0
        ),
        "peak_gpu_memory_mb": cost.memory.peak_gpu_mb,
        "input_size": list(clf.preprocessing_.input_size),
        "epochs": int(clf.n_epochs_),
        "lr": best.candidate,
        "selection": finetune_selection(ctx, clf, best, params, cost.grouped),
    }
    y_val = ctx.data.labels[ctx.dev][mask]
    result.update(_finish(ctx, proba_val, proba, clf.classes_, y_val, times))
    result["_model"] = clf  # popped before the record is logged
    return result


def _finetune_params(ctx: CellContext, cell: Cell, head_only: bool) -> dict:
    """FineTuneClassifier parameters of a cell (all but the learning rate).

    Early stopping and the learning rate use a split carved out of the
    training images (``INNER_FRACTION``); the task adds its own (multi-label:
    thresholds chosen on that split).
    """
    profile, approach = ctx.profile, cell.approach
    return dict(
        weights=ctx.weights,
        strategy=approach.strategy,
        trainable_blocks=approach.trainable_blocks,
        max_epochs=profile.head_max_epochs if head_only else profile.max_epochs,
        patience=profile.head_patience if head_only else profile.patience,
        batch_size=ctx.batch_size,
        validation_fraction=INNER_FRACTION,
        class_weight="balanced",
        input_size=profile.input_size if head_only else profile.train_input_size,
        device=ctx.device,
        cache_path=ctx.cache_path if head_only else None,
        random_state=cell.seed,
        verbose=ctx.verbose,
        **ctx.data.task.finetune_options(),
    )


@dataclass
class _FitCost:
    """Training cost of a fine-tuning cell, and whether its split was grouped."""

    train: Stopwatch
    memory: PeakMemory
    grouped: bool


def _fit_finetune(ctx: CellContext, cell: Cell, params: dict, times: CellTimes):
    """Fit one network per learning rate; keep the lowest inner loss (first on
    ties). Returns the network, the selection and the training cost."""
    from ..finetune import FineTuneClassifier

    mask = ctx.val_mask
    X_train = ctx.data.take(ctx.dev[~mask])
    y_train = ctx.data.labels[ctx.dev][~mask]
    groups = _train_groups(ctx)
    device = _torch_device(ctx.device)
    with (
        PeakMemory(device) as memory,
        Stopwatch() as train,
        times.stage("training_s"),
    ):
        best = select_on_validation(
            ctx.profile.lrs,
            fit=lambda lr: FineTuneClassifier(cell.backbone, lr=lr, **params).fit(
                X_train, y_train, groups=groups
            ),
            score=lambda clf: -best_valid_loss(clf),
        )
    times.cached_trunk = cached_trunk(best.model)
    return best.model, best, _FitCost(train, memory, groups is not None)


def run_cell(ctx: CellContext, cell: Cell, emb: Embeddings | None) -> dict:
    """Fit, score and cost one cell; returns its record (without bookkeeping).

    The record's ``timings`` is the cell's :class:`~._measure.CellTimes`.
    """
    start = time.perf_counter()
    times = CellTimes()
    if cell.approach.family == "hybrid":
        result = run_hybrid(ctx, cell, emb, times)
    else:
        result = run_finetune(ctx, cell, emb, times)
    result["timings"] = times.to_dict()
    # charged alike for every approach: the training side (the embeddings of
    # the development images, training, tuning) plus predicting the test set
    # from its images (embedding included)
    extract = result.get("extract_time_s") or 0.0
    n_dev, n_test = len(ctx.dev), len(ctx.test)
    result["test_inference_s"] = result["inference_ms_per_image"] * n_test / 1e3
    result["compute_time_s"] = (
        extract * n_dev / (n_dev + n_test)
        + result["train_time_s"]
        + result["test_inference_s"]
    )
    result["engine"] = (
        emb.engine if emb is not None and cell.approach.frozen else "torch"
    )
    result["wall_time_s"] = time.perf_counter() - start
    # Described where the cell ran (a cluster's worker may have a GPU the
    # driver lacks); in the driver's process this equals ctx.device_name.
    device = _torch_device(ctx.device)
    result["device"] = describe_device(device)
    # A trained network depends on the thread count: for the Methods paragraph.
    result["cpu_threads"] = None if cell.approach.frozen else cpu_threads(device)
    if emb is not None and cell.approach.frozen and emb.engine != "torch":
        result["device"] += f", embeddings by {emb.engine}"
    return result
