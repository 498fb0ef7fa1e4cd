"""load_folder: class-per-subfolder layouts, groups, bad inputs."""

from __future__ import annotations

import os
import pickle
import re
import shutil

import numpy as np
import pytest

from skmedtl.datasets import FolderDataset, find_images, load_folder
from skmedtl.io import ImageReadError, SkippedImagesWarning

from ..io._helpers import (
    BLOOD_CELL_CLASSES,
    BLOOD_CELLS,
    make_dicom,
    write_truncated_jpeg,
)


def _listing(root) -> list[tuple[str, str]]:
    """(path, class) of every file, found independently of load_folder."""
    out = []
    for cls in sorted(os.listdir(root)):
        for name in sorted(os.listdir(os.path.join(root, cls))):
            out.append((os.path.join(root, cls, name), cls))
    return out


def test_blood_cells_give_paths_labels_and_eight_classes():
    paths, labels, class_names = load_folder(BLOOD_CELLS)
    assert class_names == BLOOD_CELL_CLASSES
    expected = _listing(BLOOD_CELLS)
    assert paths == [p for p, _ in expected]
    assert [class_names[i] for i in labels] == [c for _, c in expected]
    assert labels.dtype == np.int64
    assert np.bincount(labels).tolist() == [4] * 8
    assert all(os.path.isfile(p) for p in paths)


def test_groups_from_a_regex_and_from_a_function():
    data = load_folder(BLOOD_CELLS, groups=r"_(?P<group>\d+)\.jpg$")
    paths, labels, class_names, groups = data
    for path, group in zip(paths, groups, strict=True):
        assert group == re.search(r"_(\d+)\.jpg$", path).group(1)
    by_class = load_folder(BLOOD_CELLS, groups=lambda rel: rel.split("/")[0])
    assert [by_class.class_names[i] for i in by_class.labels] == list(by_class.groups)


def _copy(tmp_path, classes=("basophil", "platelet"), n=3):
    root = tmp_path / "data"
    for cls in classes:
        (root / cls).mkdir(parents=True)
        for f in sorted((BLOOD_CELLS / cls).glob("*.jpg"))[:n]:
            shutil.copy(f, root / cls / f.name)
    return root


def test_groups_from_a_csv(tmp_path):
    root = _copy(tmp_path)
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.jpg"))
    rows = ["path,group"] + [
        # one by relative path, the others by bare file name
        f"{f if i == 0 else f.split('/')[-1]},patient{i % 2}"
        for i, f in enumerate(files)
    ]
    (tmp_path / "groups.csv").write_text("\n".join(rows) + "\n")
    data = load_folder(root, groups_csv=tmp_path / "groups.csv")
    assert [g for g in data.groups] == [f"patient{i % 2}" for i in range(len(files))]
    # a file the CSV does not list
    (tmp_path / "short.csv").write_text("\n".join(rows[:-1]) + "\n")
    with pytest.raises(ValueError, match=rf"{files[-1].split('/')[-1]}.*not listed"):
        load_folder(root, groups_csv=tmp_path / "short.csv")
    with pytest.warns(SkippedImagesWarning):
        data = load_folder(root, groups_csv=tmp_path / "short.csv", on_error="skip")
    assert len(data.paths) == len(files) - 1 and len(data.skipped) == 1
    (tmp_path / "bad.csv").write_text("file,patient\na.jpg,1\n")
    with pytest.raises(ValueError, match="columns 'path' and 'group'"):
        load_folder(root, groups_csv=tmp_path / "bad.csv")


def test_regex_that_does_not_match(tmp_path):
    root = _copy(tmp_path)
    with pytest.raises(
        ValueError, match=r"BA_\d+\.jpg: no group id.*the pattern 'person"
    ):
        load_folder(root, groups=r"person(\d+)")


def _folder_with_bad_inputs(tmp_path):
    root = _copy(tmp_path)
    write_truncated_jpeg(root / "basophil" / "zz_cut.jpg")
    (root / "platelet" / "notes.txt").write_text("not an image")
    (root / "platelet" / "fake.png").write_text("not an image either")
    (root / "empty_class").mkdir()
    (root / "basophil" / ".DS_Store").write_bytes(b"\x00")  # hidden: ignored
    bad = {
        "zz_cut.jpg": "truncated",
        "notes.txt": "not an image file",
        "fake.png": "not a readable image",
        "empty_class": "holds no image files",
    }
    try:
        make_dicom(root / "platelet" / "report.dcm", None)
        bad["report.dcm"] = "no pixel data"
    except ImportError:
        pass
    return root, bad


def test_bad_inputs_raise_by_default_naming_the_file(tmp_path):
    root, bad = _folder_with_bad_inputs(tmp_path)
    with pytest.raises(ValueError) as info:
        load_folder(root)
    message = str(info.value)
    assert any(name in message and why in message for name, why in bad.items())
    # each bad input, alone, raises its own error
    for name, why in bad.items():
        alone = _copy(tmp_path / name)
        source = next(root.rglob(name))
        if source.is_dir():
            (alone / name).mkdir()
        else:
            shutil.copy(source, alone / "basophil" / name)
        error = ImageReadError if source.is_file() else ValueError
        with pytest.raises(error, match=rf"{re.escape(name)}.*{why}"):
            load_folder(alone)


def test_skip_records_every_bad_input_and_drops_the_empty_class(tmp_path):
    root, bad = _folder_with_bad_inputs(tmp_path)
    with pytest.warns(SkippedImagesWarning, match=f"skipped {len(bad)} of"):
        data = load_folder(root, on_error="skip")
    assert data.class_names == ["basophil", "platelet"]
    assert len(data.paths) == 6 and np.bincount(data.labels).tolist() == [3, 3]
    assert {
        os.path.basename(s.path): s.reason for s in data.skipped
    }.keys() == bad.keys()
    for s in data.skipped:
        assert bad[os.path.basename(s.path)] in s.reason
    for path, label in zip(data.paths, data.labels, strict=True):
        assert os.path.basename(os.path.dirname(path)) == data.class_names[label]


def test_a_class_whose_files_are_all_bad_is_dropped_and_recorded(tmp_path):
    root = _copy(tmp_path)
    (root / "junk").mkdir()
    write_truncated_jpeg(root / "junk" / "cut.jpg")
    with pytest.warns(SkippedImagesWarning):
        data = load_folder(root, on_error="skip")
    assert data.class_names == ["basophil", "platelet"]
    reasons = {os.path.basename(s.path): s.reason for s in data.skipped}
    assert "truncated" in reasons["cut.jpg"] and "class is dropped" in reasons["junk"]


def test_verify_false_lists_without_decoding(tmp_path):
    root = _copy(tmp_path)
    write_truncated_jpeg(root / "basophil" / "zz_cut.jpg")
    data = load_folder(root, verify=False)
    assert any(p.endswith("zz_cut.jpg") for p in data.paths)


def test_extensions_select_files_and_ignore_others(tmp_path):
    root = _copy(tmp_path)
    (root / "platelet" / "notes.txt").write_text("x")
    np.save(root / "platelet" / "extra.npy", np.zeros((4, 4)))
    data = load_folder(root, extensions=["JPG"])
    assert len(data.paths) == 6 and all(p.endswith(".jpg") for p in data.paths)
    assert data.skipped == ()


def test_empty_missing_and_flat_folders(tmp_path):
    with pytest.raises(FileNotFoundError, match="Image folder not found"):
        load_folder(tmp_path / "nope")
    (tmp_path / "flat").mkdir()
    (tmp_path / "flat" / "file.png").write_bytes(b"x")
    with pytest.raises(NotADirectoryError):
        load_folder(tmp_path / "flat" / "file.png")
    with pytest.raises(ValueError, match="holds 1 file but no subfolders"):
        load_folder(tmp_path / "flat")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no class subfolders"):
        load_folder(tmp_path / "empty")
    (tmp_path / "empty" / "a").mkdir()
    with pytest.raises(ValueError, match="holds no image files"):
        load_folder(tmp_path / "empty")
    with pytest.raises(
        ValueError, match="No readable images.*1 skipped.*holds no image"
    ):
        load_folder(tmp_path / "empty", on_error="skip")


def test_result_unpacks_prints_and_pickles(tmp_path):
    root = _copy(tmp_path, n=2)
    data = load_folder(root, groups=r"_(\d+)")
    assert isinstance(data, FolderDataset)
    assert len(list(data)) == 4 and len(list(load_folder(root))) == 3
    assert "4 images, 2 classes (basophil: 2, platelet: 2)" in repr(data)
    restored = pickle.loads(pickle.dumps(data))
    assert restored.paths == data.paths and restored.groups.tolist() == list(
        data.groups
    )


def test_bad_arguments(tmp_path):
    root = _copy(tmp_path)
    with pytest.raises(ValueError, match="Did you mean 'raise'"):
        load_folder(root, on_error="rise")
    with pytest.raises(ValueError, match="not both"):
        load_folder(root, groups="x", groups_csv="y.csv")
    with pytest.raises(ValueError, match="not a valid regular expression"):
        load_folder(root, groups="(")


def test_result_indexes_like_the_tuple_it_unpacks_to(tmp_path):
    root = _copy(tmp_path, n=2)
    data = load_folder(root)
    paths, labels, class_names = data
    assert data[0] == paths and data[1] is labels and data[2] == class_names
    assert data[-1] == class_names and data[:2] == (paths, labels)
    assert data["labels"] is data.labels and data["skipped"] == ()
    grouped = load_folder(root, groups=r"_(\d+)")
    assert grouped[3] is grouped.groups and grouped[-1] is grouped.groups
    with pytest.raises(IndexError, match="groups only with groups="):
        data[3]
    with pytest.raises(KeyError, match="fields are paths, labels"):
        data["images"]
    with pytest.raises(TypeError, match="index .paths and .labels"):
        data[np.array([0, 1])]
    with pytest.raises(TypeError):
        data[True]


def test_find_images_lists_images_only(tmp_path):
    root = _copy(tmp_path, n=2)
    (root / "basophil" / "notes.txt").write_text("not an image")
    (root / ".hidden").mkdir()
    shutil.copy(next((root / "platelet").iterdir()), root / ".hidden" / "x.jpg")
    (root / "Thumbs.db").write_bytes(b"\0")
    found = find_images(root)
    expected = sorted(
        os.path.join(dirpath, f)
        for dirpath, _, files in os.walk(root)
        if ".hidden" not in dirpath
        for f in files
        if f.endswith(".jpg")
    )
    assert found == expected and len(found) == 4
    assert find_images(root, extensions=["JPG"]) == expected
    with pytest.raises(ValueError, match="No image files with suffix .png"):
        find_images(root, extensions=[".png"])
    with pytest.raises(NotADirectoryError):
        find_images(found[0])
    with pytest.raises(FileNotFoundError):
        find_images(tmp_path / "missing")


def test_subpackages_are_attributes_of_skmedtl_in_a_fresh_interpreter():
    import subprocess
    import sys

    code = (
        "import skmedtl\n"
        "print(skmedtl.datasets.load_folder.__name__, skmedtl.metrics.__name__)\n"
        "print(hasattr(skmedtl, 'no_such_thing'), 'datasets' in dir(skmedtl))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == [
        "load_folder", "skmedtl.metrics", "False", "True"
    ]
