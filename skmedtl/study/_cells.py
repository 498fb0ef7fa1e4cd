"""Running one cell of the grid: fit on the development data, score on the test set."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np

from ._approaches import Approach
from ._evaluate import evaluate
from ._heads import count_head_params, head_grid
from ._measure import PeakMemory, Stopwatch

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


def _torch_device(name: str):
    from ..utils._devices import resolve_device

    return resolve_device(name)


def _selection_scoring(metric: str, n_classes: int) -> str:
    if metric == "auc":
        return "roc_auc" if n_classes == 2 else "roc_auc_ovr"
    return metric


def _inner_cv(ctx: CellContext, seed: int):
    """Validation scheme of the hybrid heads: the data set's val split, or inner CV."""
    from sklearn.model_selection import PredefinedSplit

    from ..model_selection import make_cv

    data = ctx.data
    split = data.split[ctx.dev]
    if data.has_validation:
        return PredefinedSplit(np.where(split == "val", 0, -1)), None
    y = data.labels[ctx.dev]
    groups = None if data.groups is None else data.groups[ctx.dev]
    smallest = min(
        len(np.unique(groups[y == c])) if groups is not None else int((y == c).sum())
        for c in np.unique(y)
    )
    n_splits = max(2, min(ctx.profile.cv_folds, smallest))
    return make_cv(n_splits, groups=groups, random_state=seed), groups


def run_hybrid(ctx: CellContext, cell: Cell, emb: Embeddings) -> dict:
    """A hybrid head on frozen embeddings, tuned on validation, refitted on dev."""
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    from ..hybrid import hybrid_head

    head = cell.approach.head
    data = ctx.data
    y_dev = data.labels[ctx.dev]
    n_classes = len(np.unique(data.labels))
    pipe = Pipeline(
        [
            ("scale", "passthrough" if head in ("rf", "xgboost") else StandardScaler()),
            (
                "clf",
                hybrid_head(
                    head,
                    class_weight="balanced",
                    random_state=cell.seed,
                    n_jobs=ctx.n_jobs,
                ),
            ),
        ]
    )
    cv, groups = _inner_cv(ctx, cell.seed)
    search = GridSearchCV(
        pipe,
        head_grid(head, ctx.profile.head_grid),
        scoring=_selection_scoring(ctx.metric, n_classes),
        cv=cv,
        refit=True,
        error_score="raise",
    )
    with PeakMemory() as memory, Stopwatch() as train:
        search.fit(emb.dev, y_dev, groups=groups)
    with Stopwatch() as infer:
        proba = search.predict_proba(emb.test)
    model = search.best_estimator_
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
            "params": {
                k.removeprefix("clf__"): v for k, v in search.best_params_.items()
            },
            "validation_score": float(search.best_score_),
            "scheme": type(cv).__name__,
            "n_candidates": len(search.cv_results_["params"]),
        },
    }
    result.update(
        evaluate(
            data.labels[ctx.test],
            proba,
            model.classes_,
            data.label_order(),
            ctx.profile.n_bootstraps,
        )
    )
    return result


def run_finetune(ctx: CellContext, cell: Cell, emb: Embeddings | None) -> dict:
    """A FineTuneClassifier strategy; the learning rate chosen on validation."""
    from ..finetune import FineTuneClassifier

    data, profile, approach = ctx.data, ctx.profile, cell.approach
    X_dev = data.take(ctx.dev)
    y_dev = data.labels[ctx.dev]
    X_test = data.take(ctx.test)
    head_only = approach.family == "feature_extractor"
    n_val = data.n_images("val")
    fraction = n_val / len(ctx.dev) if n_val else 0.2
    # With patient ids, the classifier's validation split holds whole patients.
    groups = None if data.groups is None else data.groups[ctx.dev]
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
    device = _torch_device(ctx.device)
    fits = []
    with PeakMemory(device) as memory, Stopwatch() as train:
        for lr in profile.lrs:
            clf = FineTuneClassifier(cell.backbone, lr=lr, **params).fit(
                X_dev, y_dev, groups=groups
            )
            fits.append((_best_valid_loss(clf), lr, clf))
    valid_loss, lr, clf = min(fits, key=lambda f: f[0])
    clf.predict_proba(data.take(ctx.test[:1]))  # warm-up: first-call overheads
    with Stopwatch() as infer:
        proba = clf.predict_proba(X_test)
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
    result.update(
        evaluate(
            data.labels[ctx.test],
            proba,
            clf.classes_,
            data.label_order(),
            profile.n_bootstraps,
        )
    )
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
    result["device"] = ctx.device_name
    if emb is not None and cell.approach.frozen and emb.engine != "torch":
        result["device"] += f", embeddings by {emb.engine}"
    return result
