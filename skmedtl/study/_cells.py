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
from ._measure import PeakMemory, Stopwatch, describe_device
from ._stats import cell_statistics, score

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


def _finish(ctx: CellContext, proba_val, proba_test, model_classes, y_val) -> dict:
    """Test metrics of the finished model, and the validation-side statistics."""
    data = ctx.data
    order = data.label_order()
    result = evaluate(
        data.labels[ctx.test],
        proba_test,
        model_classes,
        order,
        ctx.profile.n_bootstraps,
    )
    result["test_index"] = [int(i) for i in ctx.test]
    result.update(
        cell_statistics(
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
    )
    return result


def run_hybrid(ctx: CellContext, cell: Cell, emb: Embeddings) -> dict:
    """A hybrid head on frozen embeddings: fitted on train, tuned on validation."""
    from sklearn.base import clone
    from sklearn.model_selection import ParameterGrid

    from ..hybrid import head_pipeline

    if ctx.data.labels.ndim == 2:  # multi-label: one head per label
        from ._multilabel import run_multilabel_hybrid

        return run_multilabel_hybrid(ctx, cell, emb)
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
    grid = list(ParameterGrid(head_grid(head, ctx.profile.head_grid)))

    def validation_score(model) -> float:
        proba_val = _aligned(model.predict_proba(X_val), model.classes_, order)
        return score(ctx.metric, y_val_enc, proba_val)

    with PeakMemory() as memory, Stopwatch() as train:
        best = select_on_validation(
            grid,
            fit=lambda params: clone(pipe).set_params(**params).fit(X_train, y_train),
            score=validation_score,
        )
    value, params, model = best.score, best.candidate, best.model
    proba_val = model.predict_proba(X_val)
    with Stopwatch() as infer:
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
            "scheme": "validation split",
            "n_candidates": len(grid),
        },
    }
    result.update(_finish(ctx, proba_val, proba, model.classes_, y_val))
    result["_model"] = model  # the fitted head; popped before the record is logged
    return result


def run_finetune(ctx: CellContext, cell: Cell, emb: Embeddings | None) -> dict:
    """A FineTuneClassifier strategy; the learning rate chosen on validation."""
    from ..finetune import FineTuneClassifier

    data, profile, approach = ctx.data, ctx.profile, cell.approach
    X_dev = data.take(ctx.dev)
    y_dev = data.labels[ctx.dev]
    X_test = data.take(ctx.test)
    head_only = approach.family == "feature_extractor"
    mask = ctx.val_mask
    fraction = float(mask.mean())  # informational: the mask is the validation set
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
    multilabel = data.labels.ndim == 2  # sigmoid head, thresholds on validation
    if multilabel:
        params["threshold"] = "youden"
    device = _torch_device(ctx.device)
    with PeakMemory(device) as memory, Stopwatch() as train:
        best = select_on_validation(  # the lowest validation loss, first on ties
            profile.lrs,
            fit=lambda lr: FineTuneClassifier(cell.backbone, lr=lr, **params).fit(
                X_dev, y_dev, validation_mask=mask
            ),
            score=lambda clf: -_best_valid_loss(clf),
        )
    valid_loss, lr, clf = -best.score, best.candidate, best.model
    clf.predict_proba(data.take(ctx.test[:1]))  # warm-up: first-call overheads
    with Stopwatch() as infer:
        proba = clf.predict_proba(X_test)
    proba_val = clf.predict_proba(data.take(ctx.dev[mask]))
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
            "validation_loss": valid_loss,
            "best_epoch": clf.best_epoch_,
            "validation_fraction": round(fraction, 4),
        },
    }
    if multilabel:  # per-label metrics at the thresholds chosen on validation
        from ._multilabel import evaluate_multilabel

        result.update(
            evaluate_multilabel(
                data.labels[ctx.test],
                proba,
                clf.thresholds_,
                data.class_names,
                profile.n_bootstraps,
            )
        )
        result["test_index"] = [int(i) for i in ctx.test]
        from ._multilabel import multilabel_statistics

        result.update(multilabel_statistics(ctx, y_dev[mask], proba_val, proba))
        result["_model"] = clf  # popped before the record is logged
        return result
    result.update(_finish(ctx, proba_val, proba, clf.classes_, y_dev[mask]))
    result["_model"] = clf  # popped before the record is logged
    return result


def _best_valid_loss(clf) -> float:
    losses = [e.get("valid_loss") for e in clf.history_]
    losses = [v for v in losses if v is not None and np.isfinite(v)]
    return float(min(losses)) if losses else float("inf")


def run_cell(ctx: CellContext, cell: Cell, emb: Embeddings | None) -> dict:
    """Fit, score and cost one cell; returns its record (without bookkeeping)."""
    start = time.perf_counter()
    if cell.approach.family == "hybrid":
        result = run_hybrid(ctx, cell, emb)
    else:
        result = run_finetune(ctx, cell, emb)
    extract = result.get("extract_time_s") or 0.0
    result["compute_time_s"] = extract + result["train_time_s"]
    result["wall_time_s"] = time.perf_counter() - start
    # Described where the cell ran (a cluster's worker may have a GPU the
    # driver lacks); in the driver's process this equals ctx.device_name.
    result["device"] = describe_device(_torch_device(ctx.device))
    if emb is not None and cell.approach.frozen and emb.engine != "torch":
        result["device"] += f", embeddings by {emb.engine}"
    return result
