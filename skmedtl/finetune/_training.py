"""The training loop: stages, early stopping, best-epoch restore, history.

One :class:`Trainer` runs the epochs of one ``fit``:

- Before the first epoch and whenever the schedule advances, the
  :class:`~skmedtl.finetune._freezing.FreezePlan` of the stage is applied
  (``requires_grad``, eval mode of frozen modules) and a fresh optimizer is built
  over exactly the trainable parameters.
- Every epoch: ``model.train()``, then the frozen modules go back to eval mode,
  then one pass over shuffled mini-batches; then ``model.eval()`` and a pass over
  the validation split.
- With the lower block groups frozen and no augmentation, the frozen trunk's
  output is computed once per image and stage and the epochs train the top
  blocks on it (:mod:`skmedtl.finetune._trunk`); results equal uncached
  training within float tolerance.
- The weights of the best epoch (by the monitor) are kept as a deep copy on the
  CPU and loaded back at the end. A schedule that grows (``gradual``) advances
  after ``patience`` epochs without improvement, starting the new stage from the
  best weights so far; otherwise training stops after ``patience`` such epochs
  when early stopping is on.
"""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from tqdm.auto import tqdm

from ._data import minibatches
from ._freezing import FreezePlan
from ._monitor import Monitor, validation_metrics
from ._optim import build_optimizer, parameter_groups
from ._strategies import Strategy
from ._trunk import TrunkCache, find_boundary

__all__ = ["Trainer", "TrainingConfig"]

logger = logging.getLogger(__name__)

_AMP_DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16}
#: Frozen-trunk caching (see :mod:`skmedtl.finetune._trunk`); a switch for
#: benchmarks and tests that compare cached with uncached training.
CACHE_TRUNK = True


@dataclass(frozen=True)
class TrainingConfig:
    """The estimator's training parameters, validated and resolved."""

    max_epochs: int
    batch_size: int
    lr: float
    lr_decay: float
    optimizer: str
    weight_decay: float
    early_stopping: bool
    patience: int
    monitor: str
    precision: str
    verbose: int
    description: str = "fine-tuning"


@dataclass
class TrainingResult:
    """What one :meth:`Trainer.run` did."""

    history: list[dict] = field(default_factory=list)
    best_epoch: int | None = None
    n_trainable_params: int = 0
    training_time: float = 0.0


class Trainer:
    """Runs the epochs of one fit.

    Parameters
    ----------
    network : FineTuneNetwork
        On ``device`` already.
    strategy : Strategy
        Which block groups train at each stage.
    config : TrainingConfig
        Epochs, batches, optimisation and stopping.
    train, valid : callable
        ``input(indices) -> tensor`` on ``device``: images for the whole network,
        or precomputed features when ``head_only``. ``valid`` may be ``None``.
    y_train, y_valid : ndarray of int
        Encoded labels.
    device : torch.device
        Where to train.
    rng : RandomState
        Shuffles the mini-batches.
    head_only : bool, default=False
        The inputs are pooled features: only the head runs and trains.
    class_weight : tensor, optional
        Per-class weights of the cross-entropy loss.
    augment : callable, optional
        Applied to each training batch.
    first_epoch : int, default=1
        Number of the first epoch (``warm_start`` continues the count).
    """

    def __init__(
        self,
        network: nn.Module,
        strategy: Strategy,
        config: TrainingConfig,
        *,
        train,
        y_train: np.ndarray,
        valid,
        y_valid: np.ndarray | None,
        device: torch.device,
        rng: np.random.RandomState,
        head_only: bool = False,
        class_weight: torch.Tensor | None = None,
        augment=None,
        first_epoch: int = 1,
    ):
        self.network = network
        self.strategy = strategy
        self.config = config
        self.train_input, self.valid_input = train, valid
        self.y_train = torch.as_tensor(y_train, dtype=torch.long, device=device)
        self.y_valid = y_valid
        self.device = device
        self.rng = rng
        self.head_only = head_only
        self.class_weight = class_weight
        self.augment = augment
        self.first_epoch = first_epoch
        self.groups = network.block_groups()
        self.forward = network.head if head_only else network
        self.plan: FreezePlan | None = None
        self.optimizer: torch.optim.Optimizer | None = None
        self.scaler = torch.amp.GradScaler(
            device.type, enabled=config.precision == "float16"
        )
        # Frozen-trunk caching needs the same input every epoch (no
        # augmentation) and a backbone that runs (not only its head).
        self.cache_trunk = CACHE_TRUNK and augment is None and not head_only
        self.trunk: TrunkCache | None = None
        self._trunk_stale = True
        self.trunk_seconds = 0.0

    # -- stages ---------------------------------------------------------------------
    def set_stage(self, stage: int) -> None:
        """Freeze for ``stage`` and rebuild the optimizer over what trains."""
        n = 0 if self.head_only else self.strategy.n_trainable(stage)
        self.plan = FreezePlan.from_groups(self.groups, n)
        self.plan.apply(self.network.backbone)
        self.network.head.requires_grad_(True)
        groups = parameter_groups(
            self.network.head,
            None if self.head_only else self.network.backbone,
            self.plan,
            self.config.lr,
            self.config.lr_decay,
        )
        self.optimizer = build_optimizer(
            self.config.optimizer, groups, self.config.weight_decay
        )
        self._trunk_stale = True

    @property
    def trainable(self) -> list[str]:
        """Trained parts, top first: ``["head", <top group>, ...]``."""
        return ["head", *self.plan.trainable_groups]

    def n_trainable_params(self) -> int:
        return sum(p.numel() for g in self.optimizer.param_groups for p in g["params"])

    # -- epochs ---------------------------------------------------------------------
    def run(self) -> TrainingResult:
        cfg = self.config
        result = TrainingResult()
        monitor = Monitor(cfg.monitor)
        best_state, stage, waited = None, 0, 0
        self.set_stage(stage)
        bar = tqdm(
            total=cfg.max_epochs,
            desc=cfg.description,
            unit="epoch",
            disable=cfg.verbose <= 0,
            leave=False,
        )
        start = time.perf_counter()
        with bar, contextlib.closing(self):
            for i in range(cfg.max_epochs):
                epoch = self.first_epoch + i
                tic = time.perf_counter()
                entry = {
                    "epoch": epoch,
                    "stage": stage,
                    "trainable": self.trainable,
                    "n_trainable_params": self.n_trainable_params(),
                    "lr": {g["name"]: g["lr"] for g in self.optimizer.param_groups},
                    "train_loss": self.train_epoch(),
                }
                entry["cached_trunk"] = self.trunk is not None
                improved = False
                if self.valid_input is not None:
                    scores = self.evaluate()
                    entry.update({f"valid_{k}": v for k, v in scores.items()})
                    improved = monitor.update(scores[cfg.monitor])
                    if improved:
                        best_state = self.snapshot()
                        result.best_epoch = epoch
                entry["best"] = improved
                entry["duration"] = time.perf_counter() - tic
                result.history.append(entry)
                bar.update(1)
                bar.set_postfix(_postfix(entry, cfg.monitor))
                logger.debug("epoch %s", entry)
                if self.valid_input is None or i + 1 == cfg.max_epochs:
                    continue
                waited = 0 if improved else waited + 1
                if waited < cfg.patience:
                    continue
                if stage + 1 < self.strategy.n_stages and not self.head_only:
                    # Next stage: from the best weights so far, one more group.
                    self.restore(best_state)
                    stage, waited = stage + 1, 0
                    self.set_stage(stage)
                    logger.info(
                        "Epoch %d: %s stopped improving; unfreezing %s.",
                        epoch,
                        cfg.monitor,
                        self.plan.trainable_groups[-1],
                    )
                elif cfg.early_stopping:
                    logger.info(
                        "Early stopping after epoch %d: no improvement of %s for "
                        "%d epochs; best epoch %s.",
                        epoch,
                        cfg.monitor,
                        waited,
                        result.best_epoch,
                    )
                    break
        if best_state is not None:
            self.restore(best_state)
        elif self.valid_input is not None:
            logger.warning(
                "Validation %s was never defined (NaN) in %d epochs; keeping the "
                "last epoch's weights.",
                cfg.monitor,
                len(result.history),
            )
        self.network.eval()
        result.training_time = time.perf_counter() - start
        result.n_trainable_params = self.n_trainable_params()
        return result

    def close(self) -> None:
        """Drop the cached trunk activations (and their temporary file)."""
        if self.trunk is not None:
            self.trunk.close()
            self.trunk = None
        self._trunk_stale = True

    def _update_trunk(self) -> None:
        """(Re)compute the frozen trunk's output when the stage changed."""
        if not self.cache_trunk or not self._trunk_stale:
            return
        self._trunk_stale = False
        self.close()
        self._trunk_stale = False
        n_train = len(self.y_train)
        probe = self.train_input(np.arange(min(n_train, 2)))
        boundary = find_boundary(self.network, self.plan, probe)
        if boundary is None:
            logger.debug("Frozen-trunk caching: no frozen prefix at this stage.")
            return
        inputs = {"train": (self.train_input, n_train)}
        if self.valid_input is not None:
            inputs["valid"] = (self.valid_input, len(self.y_valid))
        trunk = TrunkCache(
            self.network,
            self.plan,
            boundary,
            inputs,
            self.config.batch_size,
            self.device,
        )
        if not trunk.matches(self.train_input, n_train):
            trunk.close()
            return
        self.trunk = trunk
        self.trunk_seconds += trunk.seconds
        logger.info(
            "Frozen trunk (up to %s) computed once for %d images in %.1fs; epochs "
            "train %s on it.",
            boundary,
            sum(n for _, n in inputs.values()),
            trunk.seconds,
            ", ".join(self.trainable),
        )

    def _train_source(self):
        if self.trunk is not None:
            return self.trunk.input("train"), self.trunk.forward
        return self.train_input, self.forward

    def train_epoch(self) -> float:
        """One pass over the shuffled training set; the mean training loss."""
        self._update_trunk()
        train_input, forward = self._train_source()
        self.network.train()
        if self.head_only:
            self.network.backbone.eval()
        else:
            self.plan.eval_frozen(self.network.backbone)
        if self.config.batch_size < 2 and _trains_batchnorm(self.network):
            raise ValueError(
                f"batch_size={self.config.batch_size} cannot train this network: its "
                "trainable BatchNorm layers need at least 2 images per batch. Use "
                "batch_size=2 or more (or strategy='feature_extractor', which "
                "trains the head only)."
            )
        total, count = 0.0, 0
        for idx in minibatches(len(self.y_train), self.config.batch_size, self.rng):
            x = train_input(idx)
            if self.augment is not None:
                x = self.augment(x)
            y = self.y_train[torch.as_tensor(idx, device=self.device)]
            with self._autocast():
                logits = forward(x)
                loss = self.loss(logits.float(), y)
            self.optimizer.zero_grad(set_to_none=True)
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
            total += float(loss.detach()) * len(idx)
            count += len(idx)
        return total / count

    def loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The training loss of a batch (multi-label: ``MultiLabelTrainer``)."""
        return F.cross_entropy(logits, y, weight=self.class_weight)

    def valid_logits(self) -> torch.Tensor:
        """Float32 CPU logits of the validation split (through the frozen trunk)."""
        self._update_trunk()
        forward, valid_input = self.forward, self.valid_input
        if self.trunk is not None and "valid" in self.trunk.arrays:
            forward, valid_input = self.trunk.forward, self.trunk.input("valid")
        self.network.eval()
        return predict_logits(
            forward,
            valid_input,
            len(self.y_valid),
            self.config.batch_size,
            self._autocast,
        )

    def evaluate(self) -> dict:
        """Validation metrics of the current weights (eval mode, no gradients)."""
        logits = self.valid_logits()
        y = torch.as_tensor(self.y_valid, dtype=torch.long)
        weight = None if self.class_weight is None else self.class_weight.cpu()
        loss = float(F.cross_entropy(logits, y, weight=weight))
        proba = torch.softmax(logits, dim=1).numpy()
        return validation_metrics(self.y_valid, proba, loss)

    # -- weights --------------------------------------------------------------------
    def snapshot(self) -> dict[str, torch.Tensor]:
        """A deep copy of the trained weights, on the CPU."""
        module = self.network.head if self.head_only else self.network
        return {
            k: v.detach().to("cpu", copy=True) for k, v in module.state_dict().items()
        }

    def restore(self, state: dict[str, torch.Tensor] | None) -> None:
        if state is not None:
            module = self.network.head if self.head_only else self.network
            module.load_state_dict(state)

    def _autocast(self):
        dtype = _AMP_DTYPES.get(self.config.precision)
        if dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=dtype)


def _trains_batchnorm(network) -> bool:
    """Whether a BatchNorm layer of ``network`` is in training mode."""
    from torch import nn

    return any(
        isinstance(m, nn.modules.batchnorm._BatchNorm) and m.training
        for m in network.modules()
    )


def predict_logits(forward, inputs, n: int, batch_size: int, autocast=None):
    """Float32 CPU logits of ``inputs(indices)`` for all ``n`` items, in order."""
    out = []
    with torch.inference_mode():
        for idx in minibatches(n, batch_size, None):
            with autocast() if autocast is not None else contextlib.nullcontext():
                out.append(forward(inputs(idx)).float().cpu())
    return torch.cat(out)


def _postfix(entry: dict, monitor: str) -> dict:
    post = {"loss": f"{entry['train_loss']:.4f}"}
    if f"valid_{monitor}" in entry:
        post[f"valid_{monitor}"] = f"{entry[f'valid_{monitor}']:.4f}"
    return post
