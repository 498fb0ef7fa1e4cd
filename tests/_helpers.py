"""Test helpers shared by several test packages (one copy of each).

- :func:`call_main`: the command line, in process, with its exit code and output
  (the ``run_cli`` fixture of ``tests/conftest.py`` wraps it);
  :func:`call_main_without_pickle`: in a fresh process that cannot unpickle, and
  :func:`predict_saved_model`: a study's saved model predicting there;
- :func:`cell_predictions`: one cell's rows of a study's ``predictions.csv``;
- :data:`TINY_STUDY`, :func:`tiny_study` and :func:`tiny_study_flags`: the tiny,
  offline study (random LeNet-5 at 32 px, one epoch), as keyword arguments, as a
  ``TransferStudy`` and as flags of ``skmedtl study``;
- :data:`LENET` and the fixtures ``data``, ``hybrid`` and ``saved``: a small
  saved hybrid, for the tests of persistence and of hostile models; a
  ``conftest.py`` uses them by importing them;
- :func:`forge`, :func:`forge_tree` and :func:`find_estimator`: edit a saved
  model as anyone who edits a model can (the manifest's digests are checksums,
  not signatures).
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]

#: A random LeNet-5, no weights to fetch.
LENET = dict(weights=None, random_state=0, verbose=0)

#: The tiny study: random LeNet-5 at 32 px, one epoch, few resamples (seconds a cell).
TINY_STUDY = dict(
    backbones=["lenet5"],
    weights=None,
    input_size=32,
    train_input_size=32,
    max_epochs=1,
    n_bootstraps=50,
    cv=0,  # no nested folds: a tiny data set without a split would get 5 (auto)
    verbose=0,
)


def tiny_study_flags(**params) -> list[str]:
    """:data:`TINY_STUDY`, updated by ``params``, as ``skmedtl study`` flags.

    A list is joined by commas, ``None`` is ``none``, ``verbose=0`` is ``-q``
    and a parameter set to ``False`` is left out.

    Examples
    --------
    >>> tiny_study_flags(backbones=["a", "b"], input_size=False,
    ...                  train_input_size=False, max_epochs=None, n_bootstraps=None)
    ['--backbones', 'a,b', '--weights', 'none', '--cv', '0', '-q']
    """
    settings = {**TINY_STUDY, **params}
    flags = []
    for name, value in settings.items():
        if value is False or (value is None and name != "weights"):
            continue
        if name == "verbose":
            flags += ["-q"] if value == 0 else ["--verbose", str(value)]
            continue
        if isinstance(value, (list, tuple)):
            value = ",".join(map(str, value))
        value = "none" if value is None else str(value)
        flags += ["--" + name.replace("_", "-"), value]
    return flags


def slow_except(quick, cases) -> list:
    """``cases`` of a ``parametrize``, those not in ``quick`` marked slow.

    The quick cases keep the behaviour in ``pytest -m "not slow"``; the others
    run with the whole suite. A tuple case is the arguments of one case.
    """
    quick = list(quick) if isinstance(quick, list) else [quick]

    def param(case):
        values = case if isinstance(case, tuple) else (case,)
        return pytest.param(*values, marks=() if case in quick else pytest.mark.slow)

    return [param(case) for case in cases]


def tiny_study(data, out, **params):
    """A ``TransferStudy`` of ``data`` in ``out``: :data:`TINY_STUDY`, updated by
    ``params``."""
    from skmedtl.study import TransferStudy

    return TransferStudy(data, out, **{**TINY_STUDY, **params})


def call_main(argv, capsys) -> tuple[int, str, str]:
    """``skmedtl.cli.main(argv)`` -> (exit code, stdout, stderr).

    An argparse error (``SystemExit``) gives its exit code too.
    """
    from skmedtl.cli import main

    try:
        code = main([str(a) for a in argv])
    except SystemExit as e:
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


#: ``skmedtl.cli.main`` in a process where every pickle entry point raises.
_NO_PICKLE = """
import pickle, sys
def refuse(*args, **kwargs):
    raise RuntimeError("pickle was used to load the model")
class Refused:
    def __init__(self, *args, **kwargs):
        refuse()
pickle.load = pickle.loads = refuse
pickle.Unpickler = Refused
import torch
torch.load = refuse
from skmedtl.cli import main
sys.exit(main(sys.argv[1:]))
"""


def call_main_without_pickle(argv) -> subprocess.CompletedProcess:
    """``skmedtl`` with ``argv`` in a fresh process in which ``pickle.load``,
    ``pickle.loads``, ``pickle.Unpickler`` and ``torch.load`` raise."""
    return subprocess.run(
        [sys.executable, "-c", _NO_PICKLE, *map(str, argv)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": os.fspath(REPO)},
    )


def predict_saved_model(out: Path, target: Path):
    """A study's saved model (``out/model``) predicts the images of the study's
    ``predictions.csv`` into ``target``, in a process that cannot unpickle.

    Returns the study's rows of the saved model's cell and the process.
    """
    key = json.loads((out / "model" / "metadata.json").read_text())["cell_key"]
    done = call_main_without_pickle(
        ["predict", "--model", out / "model", "--images", out / "predictions.csv"]
        + ["--out", target, "--quiet"]
    )
    return cell_predictions(out, key), done


def cell_predictions(out: Path, key: str) -> list[dict]:
    """The rows of a study's ``predictions.csv`` of the cell ``key``."""
    with open(out / "predictions.csv", newline="") as f:
        return [r for r in csv.DictReader(f) if r["cell_key"] == key]


# -- a small saved model, and editing it -----------------------------------------------
@pytest.fixture(scope="package")
def data():
    """Twelve 28x28 8-bit images and alternating labels 0, 1."""
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (12, 28, 28), dtype=np.uint8)
    return X, np.array([0, 1] * 6)


@pytest.fixture(scope="package")
def hybrid(data):
    """LeNet-5 features + logistic regression, fitted on ``data``."""
    import skmedtl

    return skmedtl.make_hybrid("lenet5", "logreg", **LENET).fit(*data)


@pytest.fixture
def saved(hybrid, tmp_path):
    """A fresh saved ``hybrid``."""
    import skmedtl

    return skmedtl.save(hybrid, tmp_path / "model")


def forge(path: Path, name: str, data: bytes) -> None:
    """Replace ``path/name`` by ``data`` and recompute the manifest's digests."""
    (path / name).parent.mkdir(parents=True, exist_ok=True)
    (path / name).write_bytes(data)
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["files"][name] = hashlib.sha256(data).hexdigest()
    files = json.dumps(manifest["files"], sort_keys=True, separators=(",", ":"))
    manifest["digest"] = hashlib.sha256(files.encode()).hexdigest()
    (path / "manifest.json").write_text(json.dumps(manifest))


def forge_tree(path: Path, edit) -> None:
    """``edit(tree)`` on model.json, then :func:`forge` it back."""
    tree = json.loads((path / "model.json").read_text())
    edit(tree)
    forge(path, "model.json", json.dumps(tree).encode())


def find_estimator(tree, name: str) -> dict | None:
    """The first ``$estimator`` node of ``name`` in a model.json tree."""
    if isinstance(tree, dict):
        if tree.get("$estimator") == name:
            return tree
        values = tree.values()
    elif isinstance(tree, list):
        values = tree
    else:
        return None
    for value in values:
        found = find_estimator(value, name)
        if found is not None:
            return found
    return None
