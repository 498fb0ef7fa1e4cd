"""Frozen-trunk caching: run the frozen lower blocks once per image, not per epoch.

With the lower block groups frozen (``fine_tune``, the early stages of
``gradual``) and augmentation off, the frozen *trunk* gives every image the same
activation in every epoch: its modules are in eval mode (BatchNorm running
statistics, no dropout or stochastic depth) and get no gradients. So the
trunk's output is computed once per image and stage, kept in memory (or in a
temporary file when it would take more than a quarter of the available
memory), and each epoch runs only the trainable top blocks and the head on it.

How the network is cut, for any registered backbone:

1. The frozen trunk is the set of outermost modules whose parameters and
   buffers are all frozen (:meth:`FreezePlan.frozen_modules`). One forward pass
   with hooks finds the *boundary*: the frozen module that finishes last. The
   cut is refused when a frozen module runs twice, or a trainable module runs
   before the boundary has finished (the trunk is then not a prefix of the
   network).
2. The boundary's output is what is cached.
3. Training runs the network with the frozen modules' ``forward`` replaced
   (instance attributes, removed afterwards): each passes its input through,
   except the boundary, which returns the cached batch. Parameter-free
   operations below the cut see a placeholder input.
4. Before use, the cut network is checked against the whole network on a few
   training images (eval mode); any difference above float tolerance, or an
   error, turns the caching off for that stage and training proceeds uncached.

With augmentation on the trunk's input changes every epoch (random flips,
crops, intensity jitter), so its output does too: nothing can be cached, and
the caching is off.

Results equal uncached training: the order of batches is unchanged (the same
``rng`` shuffles them), the trainable part consumes the global random generator
(dropout) exactly as before, and the trunk runs at the batch sizes training and
validation run it at (see :meth:`TrunkCache._compute`), so the cached activations
are the uncached ones bit for bit, except those of the images in an epoch's short
last training batch, where oneDNN may round differently in the last bits.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import time

import numpy as np
import torch
from torch import nn

from ..features._batching import available_memory
from ._data import minibatches
from ._freezing import FreezePlan

__all__ = ["TrunkCache", "find_boundary"]

logger = logging.getLogger(__name__)

#: Share of the available memory the cached activations may take before they
#: go to a temporary file instead.
MEMORY_FRACTION = 0.25
_CHECK_IMAGES = 4
_CHECK_RTOL = 1e-4


class _Stop(Exception):
    pass


def _frozen_units(backbone: nn.Module, plan: FreezePlan) -> list[str]:
    """Outermost fully frozen modules; the direct children when all is frozen."""
    frozen = plan.frozen_modules(backbone)
    if frozen == [""]:
        frozen = [
            name
            for name, child in backbone.named_children()
            if any(True for _ in child.parameters())
            or any(True for _ in child.buffers())
        ]
    return frozen


def find_boundary(network, plan: FreezePlan, x: torch.Tensor) -> str | None:
    """The frozen module whose output feeds the trainable part, or ``None``.

    ``None`` when nothing is frozen or when the frozen modules are not a prefix
    of the network's execution (see the module docstring).
    """
    backbone = network.backbone
    if plan.n_trainable >= len(plan.groups):
        return None
    frozen = _frozen_units(backbone, plan)
    if not frozen:
        return None
    frozen_set = set(frozen)
    trainable = [
        name
        for name, module in backbone.named_modules()
        if name
        and not any(_inside(name, f) for f in frozen_set)
        and any(p.requires_grad for p in module.parameters(recurse=False))
    ]
    events: list[tuple[str, str]] = []
    handles = []
    for name in frozen:
        module = backbone.get_submodule(name)
        handles.append(
            module.register_forward_hook(
                lambda m, i, o, n=name: events.append(("frozen", n))
            )
        )
    for name in trainable:
        module = backbone.get_submodule(name)
        handles.append(
            module.register_forward_pre_hook(
                lambda m, i, n=name: events.append(("trainable", n))
            )
        )
    was_training = network.training
    try:
        network.eval()
        with torch.no_grad():
            network.features(x)
    finally:
        for h in handles:
            h.remove()
        network.train(was_training)
    names = [n for kind, n in events if kind == "frozen"]
    if not names or len(names) != len(set(names)):
        return None
    boundary = names[-1]
    last_frozen = max(i for i, (kind, _) in enumerate(events) if kind == "frozen")
    first_trainable = next(
        (i for i, (kind, _) in enumerate(events) if kind == "trainable"), None
    )
    if first_trainable is not None and first_trainable < last_frozen:
        return None
    return boundary


def _inside(name: str, ancestor: str) -> bool:
    return name == ancestor or name.startswith(ancestor + ".")


class TrunkCache:
    """The frozen trunk's output for the training and validation images of a stage.

    Parameters
    ----------
    network : FineTuneNetwork
    plan : FreezePlan
        The stage's freezing.
    boundary : str
        See :func:`find_boundary`.
    inputs : dict of str to (callable, int)
        ``name -> (input(indices) -> image tensor on the device, n)``.
    batch_size : int
    device : torch.device
    """

    def __init__(self, network, plan, boundary, inputs, batch_size, device):
        self.network = network
        self.plan = plan
        self.boundary = boundary
        self.device = device
        self.units = _frozen_units(network.backbone, plan)
        self._tmp: tempfile.TemporaryDirectory | None = None
        self.arrays: dict[str, np.ndarray] = {}
        self._placeholders: dict[int, torch.Tensor] = {}
        self._feed: torch.Tensor | None = None
        tic = time.perf_counter()
        for name, (fn, n) in inputs.items():
            # Training batches are shuffled, validation ones are not: see _compute.
            self.arrays[name] = self._compute(fn, n, batch_size, pad=name == "train")
        self.seconds = time.perf_counter() - tic

    # -- building -----------------------------------------------------------------
    def _trunk(self, x: torch.Tensor) -> torch.Tensor:
        captured = {}

        def hook(module, inputs, output):
            captured["out"] = output
            raise _Stop

        module = self.network.backbone.get_submodule(self.boundary)
        handle = module.register_forward_hook(hook)
        try:
            self.network.features(x)
        except _Stop:
            pass
        finally:
            handle.remove()
        out = captured.get("out")
        if not isinstance(out, torch.Tensor):
            raise TypeError(f"{self.boundary!r} returned {type(out).__name__}")
        return out

    def _compute(self, fn, n: int, batch_size: int, pad: bool) -> np.ndarray:
        """The trunk's output for images ``0 .. n-1``, in the batches training sees.

        oneDNN's convolutions give an image the same result wherever it sits in a
        batch, but not at every batch size (the last bits change). Validation runs
        the same sequential batches as :func:`predict_logits`, so its cache is
        bit-equal to what uncached validation computes. Training batches are
        shuffled: with ``pad`` a short last batch is filled up to ``batch_size``
        (with repeated images, whose rows are dropped) so every image is computed
        at the size of a full training batch, as all but the epoch's last batch
        compute it without the cache.
        """
        was_training = self.network.training
        self.network.eval()
        out = None
        try:
            with torch.no_grad():
                padded = pad and n > batch_size
                if padded:
                    batches = [
                        np.arange(i, min(i + batch_size, n))
                        for i in range(0, n, batch_size)
                    ]
                else:
                    batches = minibatches(n, batch_size, None)
                for idx in batches:
                    run = np.resize(idx, batch_size) if padded else idx
                    x = fn(run)
                    self._placeholders.setdefault(0, torch.zeros_like(x[:1]))
                    part = self._trunk(x).float().cpu().numpy()[: len(idx)]
                    if out is None:
                        out = self._allocate((n, *part.shape[1:]))
                    out[idx] = part
        finally:
            self.network.train(was_training)
        return out

    def _allocate(self, shape: tuple[int, ...]) -> np.ndarray:
        nbytes = int(np.prod(shape)) * 4
        if nbytes <= MEMORY_FRACTION * available_memory():
            return np.empty(shape, dtype=np.float32)
        if self._tmp is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="skmedtl-trunk-")
        path = os.path.join(self._tmp.name, f"{len(self.arrays)}.f32")
        logger.info(
            "Frozen-trunk activations (%.1f GB) go to a temporary file %s",
            nbytes / 1e9,
            path,
        )
        return np.lib.format.open_memmap(path, "w+", np.float32, shape)

    # -- use ----------------------------------------------------------------------
    def input(self, name: str):
        """``input(indices) -> cached trunk activations`` on the device."""
        array = self.arrays[name]

        def get(idx) -> torch.Tensor:
            t = torch.from_numpy(np.ascontiguousarray(array[np.asarray(idx)]))
            t = t.to(self.device, non_blocking=True)
            if t.ndim == 4:
                t = t.contiguous(memory_format=torch.channels_last)
            return t

        return get

    @contextlib.contextmanager
    def _cut(self, feed: torch.Tensor):
        backbone = self.network.backbone
        modules = [backbone.get_submodule(n) for n in self.units]

        def passthrough(*args, **kwargs):
            return args[0] if args else next(iter(kwargs.values()))

        def fed(*args, **kwargs):
            return feed

        try:
            for name, module in zip(self.units, modules, strict=True):
                module.forward = fed if name == self.boundary else passthrough
            yield
        finally:
            for module in modules:
                module.__dict__.pop("forward", None)

    def forward(self, feed: torch.Tensor) -> torch.Tensor:
        """Logits of the network for cached trunk activations ``feed``."""
        x = self._placeholder(feed.shape[0])
        with self._cut(feed):
            return self.network(x)

    def _placeholder(self, n: int) -> torch.Tensor:
        # Real zeros, not an expanded view: in-place operations below the cut
        # (ReLU(inplace=True) after a passed-through stem) write to it.
        ph = self._placeholders.get(n)
        if ph is None:
            one = self._placeholders[0]
            ph = torch.zeros((n, *one.shape[1:]), dtype=one.dtype, device=one.device)
            self._placeholders[n] = ph
        return ph

    def matches(self, fn, n: int) -> bool:
        """Whether the cut network equals the whole one on the first images."""
        idx = np.arange(min(n, _CHECK_IMAGES))
        was_training = self.network.training
        self.network.eval()
        try:
            with torch.no_grad():
                full = self.network(fn(idx)).float()
                cut = self.forward(self.input("train")(idx)).float()
        except Exception as e:  # noqa: BLE001 - any failure: train uncached
            logger.info("Frozen-trunk caching unavailable (%s); training uncached.", e)
            return False
        finally:
            self.network.train(was_training)
        scale = float(full.abs().max()) or 1.0
        diff = float((full - cut).abs().max())
        if cut.shape != full.shape or not diff <= _CHECK_RTOL * max(scale, 1.0):
            logger.info(
                "Frozen-trunk caching unavailable for this network (cut differs from "
                "the whole network by %.2e); training uncached.",
                diff,
            )
            return False
        return True

    def close(self) -> None:
        self.arrays.clear()
        self._placeholders.clear()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
