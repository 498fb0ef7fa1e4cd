"""Is the cached/uncached difference of frozen-trunk training a bug or the noise floor?

ResNet-50 (random weights) ``fine_tune`` with one trainable group at 224 px on a few
Kermany chest X-rays. Runs, all with the same seed, in one process:

- ``cached``: frozen-trunk caching on (the default);
- ``uncached`` and ``uncached again``: caching off, twice (is training itself
  deterministic?);
- ``uncached + noise``: caching off, the boundary module's output multiplied by
  ``1 + eps * N(0, 1)`` (eps = 1e-6, a few float32 ulps) in every training
  batch: how far a last-bits perturbation of the trunk carries.

It also records the trunk activations the uncached run computes batch by batch
and compares them with the cached array (same images): are they bit-equal?

Usage::

    nice python benchmarks/finetune/diag_trunk.py --n 64 --epochs 2 --threads 1
    nice python benchmarks/finetune/diag_trunk.py --n 64 --epochs 2 --optimizer sgd
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "speed"))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", default="resnet50")
    parser.add_argument("--n", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--eps", type=float, default=1e-6)
    parser.add_argument("--optimizer", default="adamw")
    parser.add_argument("--data", default="/work/shared/data")
    args = parser.parse_args(argv)

    import torch
    from bench_int8 import load_xray

    import skmedtl.finetune._training as training
    import skmedtl.finetune._trunk as trunk_mod
    from skmedtl.finetune import FineTuneClassifier

    torch.set_num_threads(args.threads)
    X, y, Xte, _ = load_xray(Path(args.data), args.n, 16)

    saved = {}
    orig_close = trunk_mod.TrunkCache.close

    def close(self):
        if self.arrays:
            saved["boundary"] = self.boundary
            saved["arrays"] = {k: v.copy() for k, v in self.arrays.items()}
        orig_close(self)

    trunk_mod.TrunkCache.close = close

    batches = []
    orig_mb = training.minibatches

    def minibatches(n, bs, rng):
        for idx in orig_mb(n, bs, rng):
            if rng is not None:
                batches.append(np.asarray(idx).copy())
            yield idx

    training.minibatches = minibatches

    def make():
        return FineTuneClassifier(
            args.backbone,
            weights="imagenet" if args.backbone == "efficientnet_lite0" else None,
            strategy="fine_tune",
            trainable_blocks=1,
            optimizer=args.optimizer,
            input_size=args.size,
            max_epochs=args.epochs,
            batch_size=32,
            early_stopping=False,
            validation_fraction=0.2,
            random_state=0,
            verbose=0,
            device="cpu",
        )

    def fit(cached, hook=None):
        training.CACHE_TRUNK = cached
        batches.clear()
        clf = make()
        handle = None
        if hook is not None:
            # install on the boundary module once the network exists
            orig_build = training.Trainer.__init__

            def init(self, network, *a, **k):
                nonlocal handle
                mod = network.backbone.get_submodule(saved["boundary"])
                handle = mod.register_forward_hook(hook)
                orig_build(self, network, *a, **k)

            training.Trainer.__init__ = init
        try:
            clf.fit(X, y)
        finally:
            if hook is not None:
                training.Trainer.__init__ = orig_build
                handle.remove()
        return clf, [b.copy() for b in batches]

    runs = {}
    runs["cached"], order_cached = fit(True)
    runs["uncached"], order_uncached = fit(False)
    same_order = all(
        np.array_equal(a, b) for a, b in zip(order_cached, order_uncached, strict=True)
    )

    # Trunk activations of the uncached run, batch by batch, vs the cached array.
    recorded = []

    def record(m, i, o):
        if torch.is_grad_enabled():  # training batches only
            recorded.append(o.detach().float().cpu().numpy().copy())
        return o

    runs["uncached again"], order_again = fit(False, record)
    train_cache = saved["arrays"]["train"]
    diffs = []
    for idx, act in zip(order_again, recorded, strict=False):
        ref = train_cache[idx]
        diffs.append(
            (
                float(np.abs(act - ref).max()),
                float(np.abs(ref).max()),
                int(np.sum(act != ref)),
                act.size,
            )
        )

    gen = torch.Generator().manual_seed(1)

    def noise(m, i, o):
        if torch.is_grad_enabled():
            r = torch.randn(o.shape, generator=gen, dtype=o.dtype)
            return o * (1 + args.eps * r)
        return o

    runs["uncached + noise"], _ = fit(False, noise)

    base = runs["uncached"]
    out = {
        "backbone": args.backbone,
        "n_train": len(y),
        "size": args.size,
        "epochs": args.epochs,
        "threads": args.threads,
        "optimizer": args.optimizer,
        "boundary": saved.get("boundary"),
        "same batch order": same_order,
        "trunk recomputed vs cached (max abs, max |ref|, n diff, n)": diffs,
    }
    p0 = base.predict_proba(Xte)
    for name, clf in runs.items():
        vl = [h["valid_loss"] for h in clf.history_]
        tl = [h["train_loss"] for h in clf.history_]
        out[name] = {
            "valid_loss": vl,
            "train_loss": tl,
            "max |Δ valid loss| vs uncached": float(
                np.max(
                    np.abs(np.subtract(vl, [h["valid_loss"] for h in base.history_]))
                )
            ),
            "max |Δ proba| vs uncached": float(
                np.abs(clf.predict_proba(Xte) - p0).max()
            ),
        }
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
