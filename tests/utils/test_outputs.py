"""The one output rule (check_output) and the atomic folder swap."""

from __future__ import annotations

import pytest

from skmedtl.utils._outputs import check_output, swap_directory


def test_output_on_or_inside_an_input_is_refused(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    image = data / "a.png"
    image.write_bytes(b"png")
    for out in (image, data, data / "report"):
        with pytest.raises(ValueError, match="--images"):
            check_output(out, flag="--out", inputs=[("--images", data)], overwrite=True)
    check_output(tmp_path / "out", flag="--out", inputs=[("--images", data)])


def test_existing_output_needs_consent_unless_own(tmp_path):
    mine = tmp_path / "results.csv"
    mine.write_text("user's")
    with pytest.raises(FileExistsError, match="--overwrite"):
        check_output(mine, flag="--out")
    check_output(mine, flag="--out", overwrite=True)
    check_output(mine, flag="--out", is_own=lambda p: True)
    empty = tmp_path / "empty"
    empty.mkdir()
    check_output(empty, flag="--out")  # an empty folder is free
    check_output(tmp_path / "new", flag="--out")


def test_swap_directory_replaces_and_cleans_up(tmp_path):
    old, new = tmp_path / "m", tmp_path / ".m.new"
    old.mkdir()
    (old / "f").write_text("old")
    new.mkdir()
    (new / "f").write_text("new")
    swap_directory(new, old)
    assert (old / "f").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]
    fresh = tmp_path / ".n.new"
    fresh.mkdir()
    swap_directory(fresh, tmp_path / "n")
    assert (tmp_path / "n").is_dir()
