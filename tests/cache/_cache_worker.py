"""Worker process of the multi-process cache tests
(``python -m tests.cache._cache_worker``, from the repository root).

Embeds ``make_images(n)`` with LeNet-5 into a shared cache, ``calls`` transforms
(each ends with a checkpoint), optionally in reverse order and slowed down per
batch, after waiting for a start signal. Saves the embeddings (input order) and
the number of images it pushed through the network.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
import torch
from torch import nn

from tests.cache._cache_helpers import StemCounter, make_features, make_images


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("cache")
    parser.add_argument("out")
    parser.add_argument("--n", type=int, default=64)
    parser.add_argument("--calls", type=int, default=1)
    parser.add_argument("--slow", type=float, default=0.0, help="seconds per batch")
    parser.add_argument("--reverse", action="store_true")
    parser.add_argument("--ready", help="file to create once fitted")
    parser.add_argument("--go", help="file to wait for before transforming")
    args = parser.parse_args()
    torch.set_num_threads(1)

    X = make_images(args.n)
    order = np.arange(args.n)[::-1] if args.reverse else np.arange(args.n)
    features = make_features(batch_size=4, cache_path=args.cache).fit(X[:1])
    counter = StemCounter()
    counter.attach("lenet5", features.model_)
    if args.slow:
        stem = next(m for m in features.model_.modules() if isinstance(m, nn.Conv2d))
        stem.register_forward_pre_hook(lambda m, a: time.sleep(args.slow))
    if args.ready:
        open(args.ready, "w").close()
    while args.go and not os.path.exists(args.go):
        time.sleep(0.005)
    parts = np.array_split(order, args.calls)
    out = np.concatenate([features.transform(X[idx]) for idx in parts])
    result = np.empty_like(out)
    result[order] = out
    np.save(args.out + ".npy", result)
    with open(args.out + ".json", "w") as f:
        json.dump({"computed": counter.images()}, f)


if __name__ == "__main__":
    main()
