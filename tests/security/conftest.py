"""Hostile models and a harness in which nothing may leave the process.

The saved model (fixtures ``data``, ``hybrid``, ``saved``) and ``forge``, which
rewrites a file of it and recomputes the manifest's digests as anyone who edits
a model can, are in ``tests/_helpers.py``. ``no_escape`` makes every way out of
the process raise: a network connection, a subprocess, a shell command, ``exec``
of code.
"""

from __future__ import annotations

import builtins
import os
import socket
import subprocess

import pytest

from tests._helpers import data, hybrid, saved  # noqa: F401  (the fixtures)


class Escape(AssertionError):
    """Something tried to leave the process."""


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
