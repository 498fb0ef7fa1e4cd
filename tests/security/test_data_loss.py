"""Nothing of the user's is lost: one test per case of issue #26 (4-8).

Each test gives a command (or skmedtl.save) an output that would destroy a
file the user had, and checks the file is byte-identical afterwards.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import skmedtl
from skmedtl.utils import _outputs
from tests._helpers import call_main


def digest(path: Path) -> str:
    """SHA-256 of a file, or of every file under a folder (names included)."""
    h = hashlib.sha256()
    files = (
        sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    )
    for p in files:
        h.update(os.fspath(p.relative_to(path) if path.is_dir() else p.name).encode())
        h.update(p.read_bytes())
    return h.hexdigest()


@pytest.fixture
def scan(tmp_path):
    folder = tmp_path / "scans"
    folder.mkdir()
    png = folder / "scan.png"
    Image.fromarray(
        np.random.default_rng(0).integers(0, 256, (28, 28), dtype=np.uint8)
    ).save(png)
    return png


# -- case 4: explain --out the images' folder ----------------------------------------
def test_explain_out_onto_the_images_folder_keeps_the_image(saved, scan, capsys):
    before = digest(scan)
    code, out, err = call_main(
        ["explain", "--model", saved, "--images", scan, "--out", scan.parent], capsys
    )
    assert code == 2
    assert "--images" in err and "--out" in err
    assert digest(scan) == before
    assert sorted(p.name for p in scan.parent.iterdir()) == ["scan.png"]


def test_explain_keeps_a_file_it_did_not_write(saved, scan, tmp_path, capsys):
    out = tmp_path / "maps"
    out.mkdir()
    mine = out / "scan.npy"
    np.save(mine, np.arange(3))
    before = digest(mine)
    argv = ["explain", "--model", saved, "--images", scan, "--out", out, "-q"]
    code, _, err = call_main(argv, capsys)
    assert code == 2 and "--overwrite" in err
    assert digest(mine) == before
    # with consent it is replaced; a rerun then replaces its own maps freely
    assert call_main([*argv, "--overwrite"], capsys)[0] == 0
    assert np.load(mine).shape == (28, 28)
    assert call_main(argv, capsys)[0] == 0


# -- case 5: predict --out onto its input, or onto a file it did not write ----------
def test_predict_out_onto_the_images_csv_keeps_the_list(saved, scan, tmp_path, capsys):
    listing = tmp_path / "list.csv"
    listing.write_text(f"path,patient,notes\n{scan},p01,keep me\n")
    before = digest(listing)
    code, _, err = call_main(
        [
            "predict",
            "--model",
            saved,
            "--images",
            listing,
            "--out",
            listing,
            "--overwrite",
        ],
        capsys,
    )
    assert code == 2
    assert "--images" in err
    assert digest(listing) == before


@pytest.mark.parametrize("target", ["image", "other"])
def test_predict_out_onto_an_existing_file(saved, scan, tmp_path, capsys, target):
    victim = scan if target == "image" else tmp_path / "notes.csv"
    if target == "other":
        victim.write_text("a,b\n1,2\n")
    before = digest(victim)
    argv = ["predict", "--model", saved, "--images", scan, "--out", victim, "-q"]
    code, _, err = call_main(argv, capsys)
    assert code == 2
    assert digest(victim) == before
    if target == "other":
        assert "--overwrite" in err
        assert call_main([*argv, "--overwrite"], capsys)[0] == 0
        assert victim.read_text().startswith("path,")
        assert call_main(argv, capsys)[0] == 0  # its own CSV: a rerun replaces it


# -- case 6: study --out a folder holding the user's files, or a model -------------
@pytest.mark.parametrize("name", ["results.csv", "report.md", "predictions.csv"])
def test_study_out_with_the_users_files(tmp_path, capsys, name):
    out = tmp_path / "mine"
    out.mkdir()
    (out / name).write_text("my own results\n")
    before = digest(out)
    code, _, err = call_main(
        ["study", "--dataset", "breastmnist", "--out", out, "--dry-run"], capsys
    )
    assert code == 2 and "--overwrite" in err
    assert digest(out) == before


def test_study_out_onto_a_saved_model(saved, capsys):
    before = digest(saved)
    code, _, err = call_main(
        [
            "study",
            "--dataset",
            "breastmnist",
            "--out",
            saved,
            "--overwrite",
            "--dry-run",
        ],
        capsys,
    )
    assert code == 2 and "saved model" in err
    assert digest(saved) == before
    skmedtl.load(saved)


# -- case 7: save(overwrite=True) replaces only models it wrote ----------------------
def test_overwrite_refuses_a_folder_with_a_foreign_manifest(hybrid, tmp_path):
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "manifest.json").write_text('{"name": "my web app"}')
    (folder / "index.html").write_text("<html></html>")
    before = digest(folder)
    with pytest.raises(FileExistsError, match="not a saved skmedtl model"):
        skmedtl.save(hybrid, folder, overwrite=True)
    assert digest(folder) == before


def test_overwrite_refuses_an_edited_model(hybrid, saved):
    (saved / "notes.txt").write_text("added by the user")
    before = digest(saved)
    with pytest.raises(FileExistsError, match="not a saved skmedtl model"):
        skmedtl.save(hybrid, saved, overwrite=True)
    assert digest(saved) == before


def test_overwrite_keeps_a_foreign_old_folder(hybrid, saved):
    foreign = saved.with_name(f".{saved.name}.old")
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("three years of work")
    before = digest(foreign)
    skmedtl.save(hybrid, saved, overwrite=True, metadata={"v": 2})
    assert digest(foreign) == before
    assert skmedtl.load(saved, return_metadata=True)[1] == {"v": 2}
    leftovers = {p.name for p in saved.parent.iterdir()}
    assert leftovers == {saved.name, foreign.name}


def test_study_model_folder_of_someone_else_is_kept(hybrid, tmp_path):
    """`skmedtl study --out P` saves P/model through save(overwrite=True)."""
    model = tmp_path / "P" / "model"
    model.mkdir(parents=True)
    (model / "weights.bin").write_bytes(b"\x00" * 16)
    before = digest(model)
    with pytest.raises(FileExistsError):
        skmedtl.save(hybrid, model, overwrite=True)
    assert digest(model) == before


# -- case 8: the swap leaves no moment without a model --------------------------------
def test_overwrite_always_leaves_a_complete_model(hybrid, saved, monkeypatch):
    """The old model is removed only once the new one is in place."""
    seen = []
    real_rmtree = shutil.rmtree

    def rmtree(path, *args, **kwargs):
        if Path(path).name.startswith(f".{saved.name}."):
            seen.append(skmedtl.load(saved, return_metadata=True)[1])
        return real_rmtree(path, *args, **kwargs)

    monkeypatch.setattr(shutil, "rmtree", rmtree)
    skmedtl.save(hybrid, saved, overwrite=True, metadata={"v": 2})
    assert seen == [{"v": 2}]  # when the old one went, the new one was loadable


def test_failed_swap_keeps_the_old_model(hybrid, saved, monkeypatch):
    """Without an atomic exchange, a failure between the renames puts it back."""
    monkeypatch.setattr(_outputs, "_exchange", lambda a, b: False)
    real_rename = os.rename
    calls = []

    def rename(src, dst):
        calls.append(dst)
        if len(calls) == 2:  # the new folder into place
            raise OSError("disk full")
        return real_rename(src, dst)

    monkeypatch.setattr(os, "rename", rename)
    before = digest(saved)
    with pytest.raises(OSError, match="disk full"):
        skmedtl.save(hybrid, saved, overwrite=True, metadata={"v": 2})
    monkeypatch.setattr(os, "rename", real_rename)
    assert digest(saved) == before
    assert {p.name for p in saved.parent.iterdir()} == {saved.name}


def test_exchange_is_atomic_on_linux(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "x").write_text("new")
    (b / "x").write_text("old")
    if not _outputs._exchange(a, b):
        pytest.skip("no renameat2(RENAME_EXCHANGE) here")
    assert (b / "x").read_text() == "new" and (a / "x").read_text() == "old"
