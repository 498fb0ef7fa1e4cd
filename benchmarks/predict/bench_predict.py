"""``skmedtl predict`` against bare extraction: overhead per call and per image.

Writes ``--n`` real chest X-rays (Kermany test set) as 256-px grey PNGs to a
folder of a work folder (and one of them to another folder), fits and saves
(``skmedtl.save``) two small models on ``--n-train`` other images:

- a hybrid: ``make_hybrid("efficientnet_lite0", "logreg", tune=False)``;
- a fine-tuned EfficientNet-Lite0 (``FineTuneClassifier``, one epoch, one
  trainable block: what is timed is prediction, not training);

then times, interleaved over ``--rounds`` rounds (median), on ``1`` and on
``n`` images:

- ``transform <tree>``: ``CNNFeatures("efficientnet_lite0").transform`` on the
  images already in memory (engine built before timing), in a fresh process
  of each source tree (below), on 1 and on ``n`` images: bare extraction;
- ``model (memory)``: the loaded model's ``predict_proba`` on the same arrays
  (this tree, in the benchmark's process);
- ``cli <tree>``: ``skmedtl predict --model M --images DIR --out CSV -q`` of a
  source tree (this one: ``after``; ``--before TREE``, e.g. a ``git archive``
  of an older commit: ``before``), each call in a fresh Python process that
  imports torch, ONNX Runtime, timm and skmedtl before the clock starts: the
  time of ``skmedtl.cli.main`` (loading the model, building the engine,
  reading, checking, predicting, writing). ``wall`` adds the process start-up.

Ratios:

- **per call** = ``cli(n) / transform(n)``: everything a call costs, load and
  engine build included, against bare extraction of the same images by the
  same source tree;
- **per image** = ``(cli(n) - cli(1)) / (transform(n) - transform(1))``: the
  marginal cost of ``n - 1`` more images; the fixed costs of a call (load,
  engine build, first run) are in both terms and cancel;
- ``cli(1)``: the fixed cost of a call (and one image).

The CSVs the trees write for the same images are compared byte for byte.
``--profile`` prints a cProfile of one in-process CLI call per model (this tree).

Usage::

    git archive d68361e | tar -x -C /tmp/before
    nice -n 10 python benchmarks/predict/bench_predict.py --work /tmp/pb \\
        --before /tmp/before --n 256 --rounds 4 --models hybrid
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import json
import os
import pstats
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parents[2]  # this source tree


def write_pngs(data: Path, folder: Path, n: int, offset: int = 0):
    """``n`` Kermany test X-rays (both classes, sorted names) as 256-px PNGs."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    files, labels = [], []
    for label, cls in enumerate(("NORMAL", "PNEUMONIA")):
        names = sorted((data / "chest_xray_kermany_224" / "test" / cls).iterdir())
        half = n // 2 if label == 0 else n - n // 2
        files += names[offset : offset + half]
        labels += [label] * half
    paths = []
    for i, f in enumerate(files):
        out = folder / f"img{i:04d}.png"
        if not out.exists():
            Image.open(f).convert("L").resize((256, 256), Image.BILINEAR).save(out)
        paths.append(out)
    arrays = np.stack([np.asarray(Image.open(p)) for p in paths])
    return paths, arrays, np.asarray(labels)


def timed(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def time_cli_here(tree: str, argv: list[str]) -> None:
    """In a fresh process: import the heavy libraries, then time ``main(argv)``."""
    sys.path.insert(0, tree)
    import onnxruntime  # noqa: F401 - start-up, not timed
    import sklearn.linear_model  # noqa: F401
    import timm  # noqa: F401
    import torch  # noqa: F401

    import skmedtl
    from skmedtl.cli import main

    assert Path(skmedtl.__file__).resolve().is_relative_to(Path(tree).resolve())
    t = time.perf_counter()
    with contextlib.redirect_stderr(io.StringIO()):
        code = main(argv)
    print(json.dumps({"seconds": time.perf_counter() - t, "code": code}))


def time_transform_here(tree: str, folder: str) -> None:
    """In a fresh process: bare ``transform`` on 1 and on all images of ``folder``."""
    sys.path.insert(0, tree)
    from PIL import Image

    import skmedtl
    from skmedtl import CNNFeatures

    assert Path(skmedtl.__file__).resolve().is_relative_to(Path(tree).resolve())
    paths = sorted(Path(folder).iterdir())
    X = np.stack([np.asarray(Image.open(p)) for p in paths])
    features = CNNFeatures("efficientnet_lite0", verbose=0).fit(X[:1])
    features.transform(X[:2])  # build the engine before timing
    one = timed(lambda: features.transform(X[:1]))
    print(json.dumps({"1": one, "n": timed(lambda: features.transform(X))}))


def fit_models(args, work: Path) -> dict[str, Path]:
    import skmedtl
    from skmedtl import make_hybrid

    _, Xtr, ytr = write_pngs(Path(args.data), work / "train", args.n_train, 100)
    folders = {}
    for kind in args.models:
        folder = work / kind
        if not folder.exists():  # fitted once per work folder
            t = time.perf_counter()
            if kind == "hybrid":
                model = make_hybrid("efficientnet_lite0", "logreg", tune=False)
                model.set_params(features__verbose=0)
            else:
                from skmedtl.finetune import FineTuneClassifier

                model = FineTuneClassifier(
                    "efficientnet_lite0",
                    strategy="fine_tune",
                    trainable_blocks=1,
                    max_epochs=1,
                    validation_fraction=None,
                    early_stopping=False,
                    batch_size=16,
                    random_state=0,
                    verbose=0,
                )
            model.fit(Xtr, ytr)
            skmedtl.save(model, folder)
            print(f"# fitted and saved {kind} in {time.perf_counter() - t:.1f} s")
        folders[kind] = folder
    return folders


def main(argv=None):
    if argv is None and sys.argv[1:2] == ["--time-cli"]:
        return time_cli_here(sys.argv[2], sys.argv[3:])
    if argv is None and sys.argv[1:2] == ["--time-transform"]:
        return time_transform_here(sys.argv[2], sys.argv[3])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="/work/shared/data")
    parser.add_argument("--work", default="/tmp/skmedtl_predict_bench")
    parser.add_argument("--n", type=int, default=256, help="times at 1 and n")
    parser.add_argument("--n-train", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--models", nargs="+", default=["hybrid", "finetuned"])
    parser.add_argument("--before", help="an older source tree to time as well")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args(argv)

    import skmedtl

    work = Path(args.work)
    print(f"# load average at start: {os.getloadavg()}", flush=True)
    folders = fit_models(args, work)
    sizes = (1, args.n)
    images, arrays = {}, {}
    for n in sizes:
        images[n] = work / f"images{n}"
        _, arrays[n], _ = write_pngs(Path(args.data), images[n], n)
    trees = {"after": HERE}
    if args.before:
        trees = {"before": Path(args.before).resolve(), **trees}

    loaded = {k: skmedtl.load(f) for k, f in folders.items()}
    for m in loaded.values():
        m.predict_proba(arrays[args.n][:2])  # warm

    def csv_path(kind, tree, n):
        return work / f"pred_{kind}_{tree}_{n}.csv"

    walls: dict[str, list] = {}

    def child(tree, *arguments) -> dict:
        env = dict(os.environ, SKMEDTL_OFFLINE="1", PYTHONPATH=str(trees[tree]))
        command = [sys.executable, __file__, *arguments]
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"{command} failed:\n{done.stderr[-3000:]}")
        return json.loads(done.stdout.strip().splitlines()[-1])

    def run_transform(tree):
        result = child(tree, "--time-transform", str(trees[tree]), str(images[b]))
        return result["1"], result["n"]

    def run_cli(kind, tree, n):
        out = csv_path(kind, tree, n)
        with contextlib.suppress(FileNotFoundError):
            out.unlink()
        argv = ["predict", "--model", str(folders[kind]), "--images"]
        argv += [str(images[n]), "--out", str(out), "-q"]
        t = time.perf_counter()
        result = child(tree, "--time-cli", str(trees[tree]), *argv)
        wall = time.perf_counter() - t
        assert result["code"] == 0, result
        walls.setdefault(f"{kind}: cli {tree}@{n}", []).append(wall)
        return result["seconds"]

    times: dict[str, list] = {}

    def record(key, seconds):
        times.setdefault(key, []).append(seconds)

    a, b = sizes
    for r in range(args.rounds):
        order = list(trees) if r % 2 == 0 else list(trees)[::-1]
        for tree in order:
            one, all_ = run_transform(tree)
            record(f"transform {tree}@{a}", one)
            record(f"transform {tree}@{b}", all_)
        for n in sizes:
            x = arrays[n]
            for kind, m in loaded.items():
                record(
                    f"{kind}: model (memory)@{n}",
                    timed(lambda m=m, x=x: m.predict_proba(x)),
                )
                for tree in order:
                    record(f"{kind}: cli {tree}@{n}", run_cli(kind, tree, n))
        print(json.dumps({k: round(v[-1], 2) for k, v in times.items()}), flush=True)
    print(f"# load average at end: {os.getloadavg()}")
    med = {k: statistics.median(v) for k, v in times.items()}
    wall = {k: statistics.median(v) for k, v in walls.items()}
    report(args, med, wall, folders, trees, sizes)
    if "before" in trees:
        for kind in folders:
            for n in sizes:
                same = (
                    csv_path(kind, "before", n).read_bytes()
                    == csv_path(kind, "after", n).read_bytes()
                )
                print(f"# {kind}, {n} images: CSV before == after: {same}")
    if args.profile:
        from skmedtl.cli import main as cli

        for kind in folders:
            argv = ["predict", "--model", str(folders[kind]), "--images"]
            argv += [str(images[sizes[1]]), "--out", str(work / "profile.csv"), "-q"]
            with contextlib.suppress(FileNotFoundError):
                (work / "profile.csv").unlink()
            prof = cProfile.Profile()
            with contextlib.redirect_stderr(io.StringIO()):
                prof.runcall(cli, argv)
            s = io.StringIO()
            pstats.Stats(prof, stream=s).sort_stats("cumtime").print_stats(40)
            print(f"\n## cProfile of `skmedtl predict` ({kind})\n")
            print(s.getvalue())


def report(args, med, wall, folders, trees, sizes) -> None:
    """The markdown table: seconds on 1 and n images, per-call and per-image ratios."""
    a, b = sizes
    print(f"\n{a} and {b} images, 256-px PNG; median of {args.rounds} rounds\n")
    print(
        f"| what | s @{a} | s @{b} | images/s @{b} | wall @{b} | "
        "per call vs transform | per image vs transform | "
        "per image vs model (memory) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for tree in trees:
        t_a, t_b = med[f"transform {tree}@{a}"], med[f"transform {tree}@{b}"]
        print(
            f"| transform {tree} | {t_a:.2f} | {t_b:.2f} | {b / t_b:.1f} | — | "
            "1.00 | 1.00 | — |"
        )
    t_a, t_b = med[f"transform after@{a}"], med[f"transform after@{b}"]
    for kind in folders:
        m_a = med[f"{kind}: model (memory)@{a}"]
        m_b = med[f"{kind}: model (memory)@{b}"]
        print(
            f"| {kind}: model (memory), after | {m_a:.2f} | {m_b:.2f} | "
            f"{b / m_b:.1f} | — | {m_b / t_b:.2f} | {(m_b - m_a) / (t_b - t_a):.2f} "
            "| 1.00 |"
        )
        for tree in trees:
            t_a, t_b = med[f"transform {tree}@{a}"], med[f"transform {tree}@{b}"]
            c_a, c_b = med[f"{kind}: cli {tree}@{a}"], med[f"{kind}: cli {tree}@{b}"]
            w_b = wall[f"{kind}: cli {tree}@{b}"]
            print(
                f"| {kind}: cli {tree} | {c_a:.2f} | {c_b:.2f} | {b / c_b:.1f} | "
                f"{w_b:.2f} | **{c_b / t_b:.2f}** | "
                f"**{(c_b - c_a) / (t_b - t_a):.2f}** | "
                f"{(c_b - c_a) / (m_b - m_a):.2f} |"
            )


if __name__ == "__main__":
    main()
