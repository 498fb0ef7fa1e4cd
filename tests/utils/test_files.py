"""The one atomic write."""

from __future__ import annotations

import os

import pytest

from skmedtl.utils._files import atomic_path, atomic_write_text


@pytest.mark.parametrize("fsync", [False, True])
def test_success_replaces_the_file_and_leaves_no_temporary(tmp_path, fsync):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with atomic_path(target, fsync=fsync) as tmp:
        assert os.path.dirname(tmp) == str(tmp_path) and tmp != str(target)
        with open(tmp, "w") as f:
            f.write("new")
        assert target.read_text() == "old"  # readers see the old file meanwhile
    assert target.read_text() == "new"
    assert os.listdir(tmp_path) == ["out.txt"]


def test_failure_keeps_the_old_file_and_removes_the_temporary(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(KeyboardInterrupt), atomic_path(target) as tmp:
        with open(tmp, "w") as f:
            f.write("half")
        raise KeyboardInterrupt
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["out.txt"]


def test_temporary_names_carry_the_suffix(tmp_path):
    with atomic_path(tmp_path / "j", suffix=".new") as tmp:
        assert os.path.basename(tmp).startswith("j.new-")
        open(tmp, "wb").close()


def test_write_text(tmp_path):
    atomic_write_text(tmp_path / "a.json", "{}\n")
    assert (tmp_path / "a.json").read_text(encoding="utf-8") == "{}\n"
