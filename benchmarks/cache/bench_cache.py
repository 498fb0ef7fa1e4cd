"""Benchmarks of the HDF5 embedding cache (skmedtl.cache).

Two parts, both printed as Markdown:

``layout``
    Storage choices for the embeddings dataset (chunk rows x filter x dtype) on
    real embeddings: EfficientNet-Lite0 ImageNet features (weights ship with
    skmedtl) of the bundled BreastMNIST images in four rotations. Measures the
    append speed (blocks of 256 rows, as a checkpoint appends), file size, full
    read, a random 20 % subset (a CV fold) and 256 scattered rows (a lookup).

``checkpoint``
    What crash safety costs: appending a batch to the journal, and a checkpoint
    (copy the file, append, fsync, atomic rename) for files of growing size;
    plus lookups with and without the key index in memory.

``warm``
    ``CNNFeatures.transform`` of N images with a cold cache (every image through
    the network) and a warm one (every image found), same process and machine.
    The warm time is also measured in a fresh process, which has to read the
    key index from the file first.

Usage::

    python benchmarks/cache/bench_cache.py layout
    python benchmarks/cache/bench_cache.py checkpoint
    python benchmarks/cache/bench_cache.py warm --n 5000 --backbone resnet50
    python benchmarks/cache/bench_cache.py warm --n 5000 --cold-n 500   # quicker

With ``--cold-n`` smaller than ``--n``, the cold time is measured on the first
``cold-n`` images and extrapolated per image; the cache is still filled with all
``n`` real embeddings (computed untimed) so the warm run finds every image.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np
import torch

from skmedtl import CNNFeatures
from skmedtl.cache import EmbeddingCache
from skmedtl.cache._layout import read_rows

# -- layout ------------------------------------------------------------------------
FILTERS = {
    "none": {},
    "fletcher32": {"fletcher32": True},
    "lzf": {"compression": "lzf"},
    "shuffle+lzf": {"compression": "lzf", "shuffle": True},
    "gzip-1": {"compression": "gzip", "compression_opts": 1},
    "shuffle+gzip-1": {"compression": "gzip", "compression_opts": 1, "shuffle": True},
    "gzip-4": {"compression": "gzip", "compression_opts": 4},
}


def real_embeddings(size: int) -> np.ndarray:
    from skmedtl.datasets import load_breastmnist

    images = np.concatenate([load_breastmnist(s)[0] for s in ("train", "val", "test")])
    images = np.concatenate([np.rot90(images, k, axes=(1, 2)) for k in range(4)])
    features = CNNFeatures("efficientnet_lite0", input_size=size, verbose=0)
    return features.fit(images[:1]).transform(np.ascontiguousarray(images))


args_repeat = 5


def best_of(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def measure_layout(rows: np.ndarray, dtype: str, chunk_kib: int, filt: str, tmp: str,
                   rng: np.random.Generator) -> dict:
    path = os.path.join(tmp, f"{dtype}-{chunk_kib}-{filt}.h5")
    data = rows.astype(dtype)
    n, dim = data.shape
    chunk = max(1, chunk_kib * 1024 // (dim * data.dtype.itemsize))

    def write():
        with h5py.File(path, "w", libver=("v110", "v110")) as f:
            ds = f.create_dataset("e", shape=(0, dim), maxshape=(None, dim),
                                  dtype=dtype, chunks=(chunk, dim), **FILTERS[filt])
            for s in range(0, n, 256):
                block = data[s : s + 256]
                ds.resize((s + len(block), dim))
                ds[s : s + len(block)] = block

    t_write = best_of(write, args_repeat)
    size = os.path.getsize(path)
    fold = np.sort(rng.choice(n, n // 5, replace=False))
    scattered = rng.choice(n, 256, replace=False)

    def read(index=None):
        # a fresh open per read, as the cache does: HDF5's chunk cache (8 MiB
        # by default in HDF5 2) would otherwise serve repeated reads
        with h5py.File(path, "r") as f:
            ds = f["e"]
            return ds[:] if index is None else read_rows(ds, index)

    t_all = best_of(read, args_repeat)
    t_fold = best_of(lambda: read(fold), args_repeat)
    t_scattered = best_of(lambda: read(scattered), args_repeat)
    back = read().astype(np.float32)
    mb = n * dim * 4 / 1e6  # logical float32 megabytes
    err = np.abs(back - rows).max() / np.abs(rows).max()
    return {
        "dtype": dtype, "chunk": f"{chunk} ({chunk_kib} KiB)", "filter": filt,
        "bytes_per_row": size / n, "write_mb_s": mb / t_write,
        "read_all_mb_s": mb / t_all, "fold_ms": 1e3 * t_fold,
        "lookup256_ms": 1e3 * t_scattered, "max_rel_err": float(err),
    }


def run_layout(args) -> None:
    start = time.perf_counter()
    if args.embeddings and os.path.exists(args.embeddings):
        rows = np.load(args.embeddings)
    else:
        rows = real_embeddings(args.layout_size)
        if args.embeddings:
            np.save(args.embeddings, rows)
    print(f"Embeddings: {rows.shape[0]} x {rows.shape[1]} float32 "
          f"(EfficientNet-Lite0 ImageNet, BreastMNIST x 4 rotations, "
          f"{args.layout_size} px), computed in {time.perf_counter() - start:.0f} s; "
          f"{100 * (rows == 0).mean():.1f} % zeros.\n")
    rng = np.random.default_rng(0)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for filt in FILTERS:
            results.append(measure_layout(rows, "float32", 256, filt, tmp, rng))
        for chunk_kib in (16, 64, 1024, 4096):
            for filt in ("none", "fletcher32"):
                results.append(
                    measure_layout(rows, "float32", chunk_kib, filt, tmp, rng)
                )
        for filt in ("none", "fletcher32", "shuffle+gzip-1"):
            results.append(measure_layout(rows, "float16", 256, filt, tmp, rng))
    print("| dtype | chunk rows | filter | bytes/row | append MB/s | read all MB/s "
          "| 20 % fold ms | 256 rows ms | max rel. error |")
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(f"| {r['dtype']} | {r['chunk']} | {r['filter']} | "
              f"{r['bytes_per_row']:.0f} | {r['write_mb_s']:.0f} | "
              f"{r['read_all_mb_s']:.0f} | {r['fold_ms']:.1f} | "
              f"{r['lookup256_ms']:.1f} | {r['max_rel_err']:.1e} |")
    print("\nMB are logical float32 megabytes (rows x dim x 4), so rows read per "
          "second compare across dtypes.")


# -- journal and checkpoint costs -----------------------------------------------------
def run_checkpoint(args) -> None:
    from skmedtl.cache import image_key

    dim, batch, new = 2048, 32, 1024
    rng = np.random.default_rng(0)
    print(f"Rows of {dim} float32 (ResNet-50 width); {new} new rows stored in "
          f"batches of {batch}, then one checkpoint.\n")
    print("| rows in file | file MB | store ms/batch | checkpoint s | lookup 256, "
          "key index read ms | lookup 256, key index in memory ms |")
    print("|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.checkpoint_sizes:
            path = os.path.join(tmp, f"c{n}.h5")
            cache = EmbeddingCache(path)
            ns = cache.namespace({"bench": "checkpoint"})
            keys = [image_key(np.array([i])) for i in range(n + new)]
            for s0 in range(0, n, 8192):
                block = keys[s0 : min(n, s0 + 8192)]
                ns.store(block, rng.random((len(block), dim), dtype=np.float32))
            cache.checkpoint()
            rows = rng.random((new, dim), dtype=np.float32)
            t = time.perf_counter()
            for s0 in range(n, n + new, batch):
                ns.store(keys[s0 : s0 + batch], rows[s0 - n : s0 - n + batch])
            t_store = (time.perf_counter() - t) / (new / batch)
            t = time.perf_counter()
            cache.checkpoint()
            t_checkpoint = time.perf_counter() - t
            probe = [keys[i] for i in rng.choice(n + new, 256, replace=False)]
            fresh = EmbeddingCache(path).namespace({"bench": "checkpoint"})
            t = time.perf_counter()
            assert fresh.lookup(probe)[0].all()
            t_cold = time.perf_counter() - t
            t = time.perf_counter()
            fresh.lookup(probe)
            t_warm = time.perf_counter() - t
            print(f"| {n} | {os.path.getsize(path) / 1e6:.0f} | {1e3 * t_store:.2f} | "
                  f"{t_checkpoint:.2f} | {1e3 * t_cold:.1f} | {1e3 * t_warm:.1f} |")


# -- warm vs cold --------------------------------------------------------------------
def make_images(n: int, size: int) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (n, size, size), dtype=np.uint8)


def features(args, path: str) -> CNNFeatures:
    return CNNFeatures(
        args.backbone, weights=None, random_state=0, input_size=args.input_size,
        batch_size=args.batch_size, verbose=0, cache_path=path,
    )


def warm_in_new_process(args, path: str) -> dict:
    cmd = [sys.executable, os.path.abspath(__file__), "warm-only", "--cache", path,
           "--n", str(args.n), "--backbone", args.backbone,
           "--image-size", str(args.image_size), "--batch-size", str(args.batch_size)]
    if args.input_size:
        cmd += ["--input-size", str(args.input_size)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_warm_only(args) -> None:
    X = make_images(args.n, args.image_size)
    f = features(args, args.cache)
    t = time.perf_counter()
    f.fit(X[:1])
    t_fit = time.perf_counter() - t
    t = time.perf_counter()
    f.transform(X)
    print(json.dumps({"fit": t_fit, "warm": time.perf_counter() - t}))


def run_warm(args) -> None:
    n = args.n
    cold_n = min(args.cold_n or n, n)
    X = make_images(n, args.image_size)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "embeddings.h5")
        f = features(args, path)
        t = time.perf_counter()
        f.fit(X[:1])
        t_fit = time.perf_counter() - t
        t = time.perf_counter()
        cold = f.transform(X[:cold_n])
        t_cold = time.perf_counter() - t
        if cold_n < n:  # fill the rest, untimed, so that the warm run finds all
            f.transform(X[cold_n:])
        cold_per_image = t_cold / cold_n
        t = time.perf_counter()
        warm = f.transform(X)  # same process: key index already in memory
        t_warm = time.perf_counter() - t
        t = time.perf_counter()
        warm_fresh_obj = features(args, path).fit(X[:1])
        t_fit2 = time.perf_counter() - t
        t = time.perf_counter()
        warm2 = warm_fresh_obj.transform(X)
        t_warm2 = time.perf_counter() - t
        other = warm_in_new_process(args, path)
        info = EmbeddingCache(path).info()
        same = np.array_equal(warm[:cold_n], cold) and np.array_equal(warm, warm2)
    t_cold_n = cold_per_image * n
    print(f"{args.backbone}, weights=None, {n} images {args.image_size}x"
          f"{args.image_size} uint8 greyscale, input {args.input_size or 'default'}, "
          f"batch {args.batch_size}, {torch.get_num_threads()} torch threads, "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs.\n")
    print(f"- fit (build + weights digest): {t_fit:.2f} s, again {t_fit2:.2f} s")
    extrap = "" if cold_n == n else f" (measured on {cold_n}, extrapolated per image)"
    print(f"- cold transform of {n}: {t_cold_n:.1f} s{extrap} = "
          f"{1e3 * cold_per_image:.1f} ms/image")
    rows = [
        ("warm, same process, same estimator", t_warm),
        ("warm, same process, new estimator (clone)", t_warm2),
        ("warm, new process (reads key index)", other["warm"]),
    ]
    print("\n| run | seconds | s per 1000 images | speed-up vs cold |")
    print("|---|---:|---:|---:|")
    print(f"| cold | {t_cold_n:.2f} | {1e3 * t_cold_n / n:.2f} | 1x |")
    for name, t in rows:
        print(f"| {name} | {t:.3f} | {1e3 * t / n:.3f} | {t_cold_n / t:.0f}x |")
    print(f"\nWarm results equal cold bit for bit: {same}. Cache file: "
          f"{info.size_bytes / 1e6:.1f} MB for {info.n_rows} rows.")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("part",
                        choices=["layout", "checkpoint", "warm", "all", "warm-only"])
    parser.add_argument("--cache", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, default=5000, help="images (warm)")
    parser.add_argument("--cold-n", type=int, default=None,
                        help="time the cold pass on this many images only")
    parser.add_argument("--backbone", default="resnet50")
    parser.add_argument("--image-size", type=int, default=256)
    parser.add_argument("--input-size", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--layout-size", type=int, default=224,
                        help="network input size for the layout embeddings")
    parser.add_argument("--embeddings", metavar="NPY",
                        help="layout: reuse (or save) the embeddings here")
    parser.add_argument("--checkpoint-sizes", type=int, nargs="+",
                        default=[0, 10_000, 50_000])
    args = parser.parse_args(argv)
    if args.part == "warm-only":  # the fresh process of the warm benchmark
        run_warm_only(args)
        return
    if args.part in ("layout", "all"):
        print("## Storage layout\n")
        run_layout(args)
    if args.part in ("checkpoint", "all"):
        print("\n## Journal and checkpoint\n")
        run_checkpoint(args)
    if args.part in ("warm", "all"):
        print("\n## Warm vs cold transform\n")
        run_warm(args)


if __name__ == "__main__":
    main()
