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
from ._heads import count_head_params, head_grid
from ._measure import CellTimes, PeakMemory, Stopwatch, describe_device
from ._stats import cell_statistics, score
from ._tuning import INNER_FRACTION, inner_folds, tune_by_cv

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
    """Test metrics of the finished model, and the validation-side statistics."""
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


def run_hybrid(
    ctx: CellContext, cell: Cell, emb: Embeddings, times: CellTimes | None = None
) -> dict:
    """A hybrid head on frozen embeddings: fitted on train, tuned on validation."""
    from sklearn.base import clone
    from sklearn.model_selection import ParameterGrid

    from ..hybrid import head_pipeline

    if ctx.data.task.per_label:  # one head per label
        from ._per_label import run_per_label_hybrid

        return run_per_label_hybrid(ctx, cell, emb)
    times = CellTimes() if times is None else times
    head = cell.approach.head
    data = ctx.data
    y_dev = data.labels[ctx.dev]
    mask = ctx.val_mask
    order = data.label_order()
    pipe = head_pipeline(
        head, class_weight="balanced", random_state=cell.seed, n_jobs=ctx.n_jobs
    )
    X_train, y_train = emb.dev[~mask], y_dev[~mask]
    X_val, y_val = emb.dev[mask], y_dev[mask]
    y_val_enc = _encoded(y_val, order)
    # tuning sees the training images only; the validation set is scored once
    grid = list(ParameterGrid(head_grid(head, ctx.profile.head_grid)))
    groups = _train_groups(ctx)
    folds = inner_folds(y_train, groups, seed=cell.seed)

    def fit(params, index=None):
        index = slice(None) if index is None else index
        return clone(pipe).set_params(**params).fit(X_train[index], y_train[index])

    def inner_score(model, held_out) -> float:
        proba = _aligned(model.predict_proba(X_train[held_out]), model.classes_, order)
        return score(ctx.metric, _encoded(y_train[held_out], order), proba)

    workers = _head_workers(ctx)
    with PeakMemory() as memory, Stopwatch() as train:
        with times.stage("head_tuning_s"):
            params, inner = tune_by_cv(grid, fit, inner_score, folds, workers)
        with times.stage("head_fit_s"):  # refitted on every training image
            model = _refit(fit, params, pipe, workers)
    with times.stage("prediction_s"):
        proba_val = model.predict_proba(X_val)  # the validation set, once
    value = score(ctx.metric, y_val_enc, _aligned(proba_val, model.classes_, order))
    with Stopwatch() as infer, times.stage("prediction_s"):
        proba = model.predict_proba(emb.test)
    result = {
        "extract_time_s": emb.extract_time_s,
        "train_time_s": train.seconds,
        "inference_ms_per_image": 1e3
        * (emb.seconds_per_image + infer.seconds / len(ctx.test)),
        "trainable_params": count_head_params(model.named_steps["clf"]),
        "peak_memory_mb": max(emb.peak_memory_mb, memory.peak_mb),
        "peak_gpu_memory_mb": emb.peak_gpu_memory_mb,
        "input_size": emb.input_size,
        "selection": {
            "params": {k.removeprefix("clf__"): v for k, v in params.items()},
            "validation_score": float(value),
            "inner_score": inner,
            "scheme": f"{folds.n_splits}-fold inner CV of the training images"
            + (", patient-grouped" if folds.grouped else ""),
            "inner_folds": folds.n_splits,
            "inner_note": folds.note,
            "n_candidates": len(grid),
        },
    }
    result.update(_finish(ctx, proba_val, proba, model.classes_, y_val, times))
    result["_model"] = model  # the fitted head; popped before the record is logged
    return result


def _head_workers(ctx: CellContext) -> int:
    """Threads for a hybrid head's inner fits: the run's PyTorch threads.

    The study's ``n_threads`` (load-aware by default) is how many cores the run
    may use; the cells run one after the other, so a head's tuning may use them
    all: that many fits at once, each with ``ctx.n_jobs`` threads of its own.
    """
    import torch

    return max(1, torch.get_num_threads() // max(1, int(ctx.n_jobs or 1)))


#: Head parameters whose value changes how fast the head fits, not what it
#: learns: a random forest draws every tree's seed before fitting any (its
#: trees are fitted in threads). Not the calibrated SVM (its ``n_jobs`` starts
#: processes: 2x slower for the demo's refit) nor XGBoost (its thread count can
#: change its sums, and its OpenMP threads spin on a busy CPU).
_PARALLEL_FIT = {"RandomForestClassifier": "clf__n_jobs"}


def _refit(fit, params: dict, pipe, workers: int):
    """``fit(params)`` on every training image, on ``workers`` threads where the
    head learns the same whatever its threads (:data:`_PARALLEL_FIT`).

    The parameter is set back afterwards, so the fitted model predicts (the
    forest sums its trees in order) and is saved as if fitted on one thread.
    """
    key = _PARALLEL_FIT.get(type(pipe.named_steps["clf"]).__name__)
    if key is None or workers < 2 or key in params:
        return fit(params)
    before = pipe.get_params()[key]
    if before not in (None, 1):  # the user's own n_jobs: left as it is
        return fit(params)
    model = fit({**params, key: workers})
    return model.set_params(**{key: before})


def run_finetune(
    ctx: CellContext,
    cell: Cell,
    emb: Embeddings | None,
    times: CellTimes | None = None,
) -> dict:
    """A FineTuneClassifier strategy; the learning rate chosen on validation."""
    from ..finetune import FineTuneClassifier

    times = CellTimes() if times is None else times
    data, profile, approach = ctx.data, ctx.profile, cell.approach
    y_dev = data.labels[ctx.dev]
    mask = ctx.val_mask
    X_train, y_train = data.take(ctx.dev[~mask]), y_dev[~mask]
    groups = _train_groups(ctx)
    X_test = data.take(ctx.test)
    head_only = approach.family == "feature_extractor"
    # early stopping and the learning rate: a split carved out of training
    fraction = INNER_FRACTION
    params = dict(
        weights=ctx.weights,
        strategy=approach.strategy,
        trainable_blocks=approach.trainable_blocks,
        max_epochs=profile.head_max_epochs if head_only else profile.max_epochs,
        patience=profile.head_patience if head_only else profile.patience,
        batch_size=ctx.batch_size,
        validation_fraction=fraction,
        class_weight="balanced",
        input_size=profile.input_size if head_only else profile.train_input_size,
        device=ctx.device,
        cache_path=ctx.cache_path if head_only else None,
        random_state=cell.seed,
        verbose=ctx.verbose,
    )
    per_label = data.task.per_label  # sigmoid head, thresholds on validation
    if per_label:
        params["threshold"] = "youden"
    device = _torch_device(ctx.device)
    with (
        PeakMemory(device) as memory,
        Stopwatch() as train,
        times.stage("training_s"),
    ):
        best = select_on_validation(  # the lowest inner loss, first on ties
            profile.lrs,
            fit=lambda lr: FineTuneClassifier(cell.backbone, lr=lr, **params).fit(
                X_train, y_train, groups=groups
            ),
            score=lambda clf: -_best_valid_loss(clf),
        )
    valid_loss, lr, clf = -best.score, best.candidate, best.model
    times.cached_trunk = _cached_trunk(clf)
    with times.stage("prediction_s"):
        clf.predict_proba(data.take(ctx.test[:1]))  # warm-up: first-call overheads
        with Stopwatch() as infer:
            proba = clf.predict_proba(X_test)
        proba_val = clf.predict_proba(data.take(ctx.dev[mask]))  # once, for selection
    per_image = infer.seconds / len(ctx.test)
    if head_only and emb is not None:  # its embeddings came from the cache
        per_image += emb.seconds_per_image
    size = list(clf.preprocessing_.input_size)
    result = {
        "extract_time_s": emb.extract_time_s if head_only and emb is not None else None,
        "train_time_s": train.seconds,
        "inference_ms_per_image": 1e3 * per_image,
        "trainable_params": int(clf.n_trainable_params_),
        "peak_memory_mb": max(
            memory.peak_mb, emb.peak_memory_mb if head_only and emb else 0.0
        ),
        "peak_gpu_memory_mb": memory.peak_gpu_mb,
        "input_size": size,
        "epochs": int(clf.n_epochs_),
        "lr": lr,
        "selection": {
            "lr": lr,
            "lrs_tried": list(profile.lrs),
            "inner_loss": valid_loss,
            "inner_score": _inner_metric(clf, ctx.metric),
            "best_epoch": clf.best_epoch_,
            "patience": params["patience"],
            "max_epochs": params["max_epochs"],
            "scheme": f"{fraction:.0%} of the training images held out"
            + (", patient-grouped" if groups is not None else "")
            + " for early stopping and the learning rate",
            "inner_fraction": fraction,
        },
    }
    if per_label:  # per-label metrics at the thresholds chosen on validation
        from ..metrics import choose_thresholds
        from ._per_label import evaluate_per_label

        # After selection, like every operating point: on the validation set
        # (the network's own thresholds came from its inner split).
        thresholds = choose_thresholds(y_dev[mask], proba_val)
        result.update(
            evaluate_per_label(
                data.labels[ctx.test],
                proba,
                thresholds,
                data.class_names,
                profile.n_bootstraps,
            )
        )
        result["test_index"] = [int(i) for i in ctx.test]
        from ._per_label import per_label_statistics

        result.update(per_label_statistics(ctx, y_dev[mask], proba_val, proba))
        result["_model"] = clf  # popped before the record is logged
        return result
    result.update(_finish(ctx, proba_val, proba, clf.classes_, y_dev[mask], times))
    result["_model"] = clf  # popped before the record is logged
    return result


def _inner_metric(clf, metric: str) -> float | None:
    """The inner split's ``metric`` at the restored (best) epoch, when logged."""
    key = {"auc": "valid_roc_auc"}.get(metric, f"valid_{metric}")
    for entry in clf.history_:
        if entry.get("epoch") == clf.best_epoch_ and entry.get(key) is not None:
            return float(entry[key])
    return None


def _cached_trunk(clf) -> bool | None:
    """Whether any epoch ran on cached frozen-trunk activations (None: unknown)."""
    flags = [e["cached_trunk"] for e in clf.history_ if "cached_trunk" in e]
    return any(flags) if flags else None


def _best_valid_loss(clf) -> float:
    losses = [e.get("valid_loss") for e in clf.history_]
    losses = [v for v in losses if v is not None and np.isfinite(v)]
    return float(min(losses)) if losses else float("inf")


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
    result["device"] = describe_device(_torch_device(ctx.device))
    if emb is not None and cell.approach.frozen and emb.engine != "torch":
        result["device"] += f", embeddings by {emb.engine}"
    return result
