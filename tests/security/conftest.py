"""Hostile models and a harness in which nothing may leave the process.

``forger`` rewrites a file of a saved model and recomputes the manifest's
digests, as anyone who edits a model can (digests are checksums, not
signatures). ``no_escape`` makes every way out of the process raise: a network
connection, a subprocess, a shell command, ``exec`` of code.
"""

from __future__ import annotations

import builtins
import hashlib
import json
import os
import socket
import subprocess
from pathlib import Path

import numpy as np
import pytest

import skmedtl

LENET = dict(weights=None, random_state=0, verbose=0)


class Escape(AssertionError):
    """Something tried to leave the process."""


@pytest.fixture(scope="package")
def data():
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (12, 28, 28), dtype=np.uint8)
    return X, np.array([0, 1] * 6)


@pytest.fixture(scope="package")
def hybrid(data):
    return skmedtl.make_hybrid("lenet5", "logreg", **LENET).fit(*data)


@pytest.fixture
def saved(hybrid, tmp_path):
    """A fresh saved hybrid (LeNet-5 features + logistic regression)."""
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


def find_estimator(tree, name: str) -> dict:
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


@pytest.fixture
def no_escape(monkeypatch, tmp_path_factory):
    """Network connections, subprocesses and shell commands raise, and so does
    ``exec`` of a file from a test's folders (a model's own Python files).

    (``exec`` of generated text stays allowed: the standard library's
    dataclasses build their methods that way.)"""
    real_exec = builtins.exec
    temporary = os.fspath(tmp_path_factory.getbasetemp())

    def guarded_exec(code, *args, **kwargs):
        filename = getattr(code, "co_filename", "")
        if os.fspath(filename).startswith(temporary):
            raise Escape(f"exec of {filename} was called")
        return real_exec(code, *args, **kwargs)

    def refuse(what):
        def raiser(*args, **kwargs):
            raise Escape(f"{what} was called")

        return raiser

    monkeypatch.setattr(socket.socket, "connect", refuse("socket.connect"))
    monkeypatch.setattr(socket.socket, "connect_ex", refuse("socket.connect_ex"))
    monkeypatch.setattr(socket, "create_connection", refuse("create_connection"))
    monkeypatch.setattr(subprocess, "Popen", refuse("subprocess.Popen"))
    monkeypatch.setattr(os, "system", refuse("os.system"))
    monkeypatch.setattr(builtins, "exec", guarded_exec)
    yield


def run_cli(argv, capsys):
    """``skmedtl.cli.main(argv)`` -> (exit code, stdout, stderr)."""
    from skmedtl.cli import main

    try:
        code = main([str(a) for a in argv])
    except SystemExit as e:
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err
