"""Bad study data sets found by probing: errors name the file, the line and the fix."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from skmedtl.study import load_study_dataset


@pytest.fixture
def images(tmp_path):
    rng = np.random.default_rng(0)
    paths = []
    for i in range(8):
        path = tmp_path / f"img {i}.png"
        Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8)).save(path)
        paths.append(path.name)
    return paths


def _write(tmp_path, lines):
    path = tmp_path / "data.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_blank_label_is_an_error_naming_the_line(tmp_path, images):
    """Was read as a class named '' (then a confusing stratification error)."""
    lines = ["path,label"] + [f"{p},{'ab'[i % 2]}" for i, p in enumerate(images)]
    lines[3] = f"{images[2]},"
    with pytest.raises(ValueError, match=r"data\.csv, line 4: the label is empty"):
        load_study_dataset(_write(tmp_path, lines))


def test_a_blank_path_is_an_error_naming_the_line(tmp_path, images):
    """Was 'image file not found: <the CSV's folder>'."""
    lines = ["path,label"] + [f"{p},{'ab'[i % 2]}" for i, p in enumerate(images)]
    lines[5] = ",a"
    with pytest.raises(ValueError, match=r"data\.csv, line 6: the path is empty"):
        load_study_dataset(_write(tmp_path, lines))


def test_line_numbers_count_blank_lines(tmp_path, images):
    """Blank lines are skipped, but errors must still name the file's own line."""
    lines = ["path,label", ""] + [f"{p},{'ab'[i % 2]}" for i, p in enumerate(images)]
    lines.insert(4, "")
    lines[6] = "missing.png,a"
    with pytest.raises(FileNotFoundError, match=r"data\.csv, line 7: .*missing\.png"):
        load_study_dataset(_write(tmp_path, lines))
    lines[6] = f"{images[4]},"
    with pytest.raises(ValueError, match=r"data\.csv, line 7: the label is empty"):
        load_study_dataset(_write(tmp_path, lines))


def test_blank_lines_alone_are_still_ignored(tmp_path, images):
    lines = ["path,label", ""] + [f"{p},{'ab'[i % 2]}" for i, p in enumerate(images)]
    data = load_study_dataset(_write(tmp_path, lines + [""]))
    assert data.n_images() == len(images)


def test_a_folder_with_one_class_names_the_folder_and_the_class(tmp_path):
    """Was 'A study needs at least two classes.' without naming what was found."""
    folder = tmp_path / "data" / "only"
    folder.mkdir(parents=True)
    for i in range(4):
        Image.fromarray(np.full((8, 8), i, np.uint8)).save(folder / f"{i}.png")
    with pytest.raises(ValueError, match=r"data.* has one class only \('only'\)"):
        load_study_dataset(tmp_path / "data")


def test_a_truncated_npz_is_named(tmp_path):
    """Was a zipfile.BadZipFile traceback (exit 1 on the command line)."""
    whole = tmp_path / "whole.npz"
    np.savez(whole, train_images=np.zeros((4, 8, 8), np.uint8),
             train_labels=np.array([0, 1, 0, 1]))
    cut = tmp_path / "cut.npz"
    cut.write_bytes(whole.read_bytes()[:100])
    with pytest.raises(ValueError, match=r"Cannot read .*cut\.npz as a MedMNIST"):
        load_study_dataset(cut)


def test_a_npy_array_named_npz_is_named(tmp_path):
    path = tmp_path / "images.npz"
    with open(path, "wb") as f:
        np.save(f, np.zeros((4, 8, 8), np.uint8))
    with pytest.raises(ValueError, match=r"images\.npz holds a single array"):
        load_study_dataset(path)
