"""``skmedtl extract``: embed images into an HDF5 embedding cache."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from .._constants import BACKENDS, PRECISIONS
from ._base import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    check_writable,
    command_parser,
    inside,
)
from ._common import OUTPUT_PARAMS
from ._params import (
    REQUIRED,
    Param,
    add_params,
    choice,
    int_or,
    kwargs_from,
    pick,
)
from .study import DATA_PARAMS, STUDY_PARAMS, _braces


def _native(size):
    return None if size == "native" else size


#: CNNFeatures' parameters, as flags.
FEATURES_PARAMS = [
    Param("backbone", "--backbone", default="efficientnet_lite0",
          help="backbone name (default: efficientnet_lite0; see `skmedtl backbones`)"),
    *pick(STUDY_PARAMS, "weights", "device", "verbose",
          cache_path={"default": REQUIRED, "help": "the cache file"}),
    Param("input_size", "--input-size", type=int_or("native", "pixels (e.g. 64)"),
          default="native", convert=_native, metavar="PX",
          help="network input size (default: the weights' own)"),
    Param("batch_size", "--batch-size", type=int_or("auto", "a number of images"),
          default="auto", metavar="N",
          help="images per forward pass, or 'auto' (default: what fits in memory)"),
    Param("precision", "--precision", type=choice(PRECISIONS), default="float32",
          metavar=_braces(PRECISIONS),
          help="forward-pass arithmetic; half precisions are for GPUs"),
    Param("backend", "--backend", type=choice(BACKENDS), default="auto",
          metavar=_braces(BACKENDS),
          help="inference engine (auto: ONNX Runtime on CPUs when installed)"),
    Param("random_state", "--random-state", type=int, default=0, metavar="N",
          help="seeds random weights (with --weights none)"),
]


#: The command's own flags (its inputs and outputs).
EXTRACT_PARAMS = [
    Param("inputs", "inputs", nargs="*", default=None, metavar="PATH",
          help="image files, or folders (searched recursively)"),
    Param("dataset", "--dataset", metavar="DATA",
          help="instead of paths: every image of a study data set (bundled name, "
          ".npz, .csv or folder)"),
    Param("save", "--save", metavar="NPY",
          help="also save the embeddings (n, d) as a .npy file, in input order "
          "(paths listed in NPY.paths.txt)"),
    *OUTPUT_PARAMS,
]
#: How --dataset folders are read.
EXTRACT_DATA_PARAMS = pick(DATA_PARAMS, "extensions", on_error={
    "help": "--dataset folders: a file that is not a readable image stops the "
    "extraction (raise, default) or is left out with a warning (skip)"})


def add_parser(subparsers, parents: list) -> None:
    p = command_parser(
        subparsers, "extract", parents,
        help="embed images into an HDF5 embedding cache",
        description="Embed images with a frozen backbone into an embedding cache "
        "(the file CNNFeatures(cache_path=...) and `skmedtl study --cache` use). "
        "Images already in the cache are not embedded again.",
    )
    add_params(p, EXTRACT_PARAMS)
    add_params(p, FEATURES_PARAMS)
    add_params(p, EXTRACT_DATA_PARAMS)
    flags = {q.name: q for q in [*EXTRACT_PARAMS, *FEATURES_PARAMS,
                                 *EXTRACT_DATA_PARAMS]}
    p.set_defaults(run=run, flags=flags)


def run(args) -> int:
    import numpy as np

    if bool(args.inputs) == bool(args.dataset):
        raise ValueError(
            "Give image paths / folders, or --dataset, not both or neither."
        )
    _check_cache(Path(args.cache), [args.dataset, *args.inputs])
    if args.save:
        if not args.save.endswith(".npy"):  # numpy.save would add it
            args.save += ".npy"
        _check_save(Path(args.save), [args.dataset, *args.inputs], args.overwrite)
    if args.dataset:
        from ..study import load_study_dataset

        data = load_study_dataset(
            args.dataset, extensions=args.extensions, on_error=args.on_error
        )
        images = data.images
        names = (
            list(map(str, images))
            if isinstance(images, list)
            else [f"{args.dataset}[{i}]" for i in range(len(images))]
        )
    else:
        images = names = image_files(args.inputs, extensions=args.extensions)
    from ..features import CNNFeatures

    features = CNNFeatures(**kwargs_from(args, FEATURES_PARAMS)).fit(images[:1])
    namespace = features.cache_namespace()
    before = len(namespace)
    try:
        embeddings = features.transform(images)
    except KeyboardInterrupt:
        print(
            f"interrupted: {len(namespace) - before} new embedding(s) are kept in "
            f"{args.cache}; run the same command again to embed only the rest.",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    stats = features.transform_stats_
    print(
        f"{len(names)} images embedded with {args.backbone} "
        f"({features.n_features_out_} features): {stats['n_computed']} new, "
        f"{stats['n_cached']} already cached"
    )
    print(f"cache: {os.path.abspath(args.cache)} (namespace {namespace.name})")
    if args.save:  # atomic: an interrupted write leaves the old file, not half a one
        from ..utils._files import atomic_path, atomic_write_text

        with atomic_path(args.save) as tmp, open(tmp, "wb") as f:
            np.save(f, embeddings)
        atomic_write_text(args.save + ".paths.txt", "\n".join(names) + "\n")
        print(f"embeddings: {args.save} {embeddings.shape}")
    return EXIT_OK


def _check_cache(cache: Path, inputs: list) -> None:
    if cache.is_dir():
        raise IsADirectoryError(
            f"--cache {cache} is a folder; give a file path such as "
            f"{cache / 'embeddings.h5'}."
        )
    for folder in inputs:
        if folder is not None and Path(folder).is_dir() and inside(cache, Path(folder)):
            raise ValueError(
                f"--cache {cache} is inside the input folder {folder}: the next run "
                "would find the cache among the images. Put --cache outside it."
            )
    check_writable("--cache", cache.parent, cache)


def _check_save(path: Path, inputs: list, overwrite: bool) -> None:
    from ..utils._outputs import check_output

    if path.is_dir():
        raise IsADirectoryError(
            f"--save {path} is a folder; give a file name such as "
            f"{path / 'embeddings.npy'}."
        )
    if not path.parent.is_dir():
        raise FileNotFoundError(
            f"--save {path}: the folder {path.parent} does not exist; create it "
            "first."
        )
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise PermissionError(f"--save {path}: cannot write in {path.parent}.")
    given = [("--dataset" if i == 0 else "PATH", p)
             for i, p in enumerate(inputs) if p is not None]
    listing = Path(f"{path}.paths.txt")
    for file in (path, listing):  # extract's own pair: NPY and NPY.paths.txt
        check_output(file, flag="--save", inputs=given, overwrite=overwrite,
                     is_own=lambda _: path.is_file() and listing.is_file())


def image_files(inputs: list[str], *, extensions=None) -> list[str]:
    """Files as given; folders searched recursively for the images skmedtl reads."""
    from ..datasets import find_images

    files = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            files += find_images(path, extensions=extensions)
        elif path.is_file():
            files.append(os.fspath(path))
        else:
            raise FileNotFoundError(f"No such file or folder: {path}")
    return files
