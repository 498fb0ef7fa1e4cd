"""The study's data modules directly: readers, label checks, the summary."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from skmedtl.study import StudyDataset
from skmedtl.study._data import load_study_dataset
from skmedtl.study._data_checks import (
    check_class_coverage,
    check_label_coverage,
    check_label_matrix,
    check_names,
    check_not_volumes,
    resolve_pos_label,
)
from skmedtl.study._readers import (
    DataSource,
    check_folder_single_label,
    read_csv,
    read_folder,
)


def _png(path, value: int) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((8, 8), value, np.uint8)).save(path)
    return str(path)


# -- readers --------------------------------------------------------------------------
def test_read_csv_single_label_resolves_relative_paths_and_keeps_columns(tmp_path):
    for i in range(4):
        _png(tmp_path / "img" / f"{i}.png", 10 * i)
    (tmp_path / "d.csv").write_text(
        "Path,Label,Group,Split\n"
        "img/0.png,a,p1,train\nimg/1.png,b,p2,\nimg/2.png,a,p3,test\n"
        f"{tmp_path / 'img' / '3.png'},b,p4,test\n"
    )
    src = read_csv(tmp_path / "d.csv")
    assert isinstance(src, DataSource)
    assert src.images == [str(tmp_path / "img" / f"{i}.png") for i in range(4)]
    assert src.labels.tolist() == ["a", "b", "a", "b"]
    assert src.groups.tolist() == ["p1", "p2", "p3", "p4"]
    assert src.split == ["train", "train", "test", "test"]  # empty split: train
    assert src.class_names is None and src.pos_label is None
    assert src.arrays()["source"] == f"CSV file {tmp_path / 'd.csv'}"


def test_read_csv_without_label_column_is_a_label_matrix(tmp_path):
    for i in range(3):
        _png(tmp_path / f"{i}.png", i)
    (tmp_path / "m.csv").write_text(
        "path,effusion,mass\n0.png,1,0\n1.png,0,1\n2.png,1.0,1\n"
    )
    src = read_csv(tmp_path / "m.csv")
    np.testing.assert_array_equal(src.labels, [[1, 0], [0, 1], [1, 1]])
    assert src.class_names == ["effusion", "mass"]


@pytest.mark.parametrize(
    "text, words",
    [
        ("path,effusion,mass\n0.png,1,2\n", ["line 2", "'mass'", "'2'", "0 or 1"]),
        ("path,label\n0.png,\n", ["line 2", "label is empty"]),
        ("path,label\nmissing.png,a\n", ["line 2", "not found", "missing.png"]),
        ("file,label\n0.png,a\n", ["needs a 'path' column"]),
        ("path,label\n", ["lists no images"]),
    ],
)
def test_read_csv_errors_name_the_line_and_column(tmp_path, text, words):
    _png(tmp_path / "0.png", 1)
    (tmp_path / "bad.csv").write_text(text)
    with pytest.raises((ValueError, FileNotFoundError)) as e:
        read_csv(tmp_path / "bad.csv")
    for word in words:
        assert word in str(e.value)


def test_read_folder_with_split_subfolders(tmp_path):
    expected = []
    for part in ("train", "val", "test"):
        for cls in ("benign", "malignant"):
            for i in range(2):
                value = 50 * ("benign", "malignant").index(cls) + i + len(expected)
                _png(tmp_path / part / cls / f"{part}{i}.png", value)
                expected.append((part, cls))
    src = read_folder(tmp_path, {})
    got = sorted(zip(src.split, src.labels.tolist(), strict=True))
    assert got == sorted(expected)
    assert src.source.endswith("(train/test subfolders)")


def test_the_same_image_in_two_class_folders_is_refused(tmp_path):
    a = _png(tmp_path / "benign" / "x.png", 7)
    b = _png(tmp_path / "malignant" / "x.png", 7)
    with pytest.raises(ValueError, match="same image is in class folders"):
        check_folder_single_label([a, b], ["benign", "malignant"], tmp_path)
    c = _png(tmp_path / "other" / "x.png", 8)  # same name, other bytes: fine
    check_folder_single_label([a, c], ["benign", "other"], tmp_path)


def test_load_study_dataset_reads_a_csv_into_a_checked_dataset(tmp_path):
    rows = ["path,label"]
    for i in range(10):
        rows.append(f"{_png(tmp_path / f'{i}.png', i)},{'ab'[i % 2]}")
    (tmp_path / "d.csv").write_text("\n".join(rows) + "\n")
    data = load_study_dataset(tmp_path / "d.csv", test_size=0.2, random_state=0)
    assert data.n_images("test") == 2 and sorted(set(data.labels)) == ["a", "b"]
    with pytest.raises(ValueError, match="folder data sets"):
        load_study_dataset(tmp_path / "d.csv", groups=r"(\d+)")


# -- checks ---------------------------------------------------------------------------
def test_class_coverage_names_the_missing_class_and_split():
    labels = np.array([0, 1, 0, 1, 2])
    split = np.array(["train", "train", "test", "test", "train"])
    with pytest.raises(ValueError, match="test split has no image of class 2"):
        check_class_coverage(labels, split, [0, 1, 2])
    check_class_coverage(labels[:4], split[:4], [0, 1])


def test_pos_label_by_value_or_name():
    classes = np.array([0, 1])
    assert resolve_pos_label(None, classes, ["benign", "malignant"]) == 1
    assert resolve_pos_label("benign", classes, ["benign", "malignant"]) == 0
    with pytest.raises(ValueError, match="pos_label 'malign' is not a class"):
        resolve_pos_label("malign", classes, ["benign", "malignant"])
    with pytest.raises(ValueError, match="two-class problems"):
        resolve_pos_label(0, np.array([0, 1, 2]), ["a", "b", "c"])


def test_check_names_counts_classes_or_labels():
    assert check_names(None, np.array([3, 5]), "classes") == ["3", "5"]
    assert check_names(None, 3, "labels") == ["0", "1", "2"]
    with pytest.raises(ValueError, match="class_names has 1 names for 2 classes"):
        check_names(["a"], np.array([0, 1]), "classes")


def test_label_matrix_checks():
    with pytest.raises(ValueError, match="0/1 matrix"):
        check_label_matrix(np.array([[0, 2], [1, 0]]), None)
    with pytest.raises(ValueError, match="pos_label"):
        check_label_matrix(np.array([[0, 1], [1, 0]]), 1)
    Y = np.array([[1, 0], [0, 1], [1, 1], [0, 1]])
    split = np.array(["train", "train", "test", "test"])
    with pytest.raises(ValueError, match="'b' is always present in the test"):
        check_label_coverage(Y, split, ["a", "b"])


def test_volumes_are_refused():
    with pytest.raises(ValueError, match="3-D volumes"):
        check_not_volumes(np.zeros((2, 16, 16, 16)))
    check_not_volumes(np.zeros((2, 16, 16, 3)))


# -- summary --------------------------------------------------------------------------
def test_summary_counts_positives_per_label_and_split(rng):
    Y = rng.integers(0, 2, size=(60, 3))
    Y[:4] = [[1, 1, 1], [0, 0, 0], [1, 1, 1], [0, 0, 0]]
    split = np.array(["train"] * 40 + ["val"] * 8 + ["test"] * 12)
    split[40:44] = "test"
    split[48:52] = "train"
    data = StudyDataset.from_arrays(
        np.zeros((60, 8, 8), np.uint8), Y, split=split, class_names=list("xyz")
    )
    s = data.summary()
    for part in ("train", "val", "test"):
        for j, name in enumerate("xyz"):
            assert s["counts"][part][name] == int(Y[split == part, j].sum())
        assert s["n_per_split"][part] == int((split == part).sum())
    assert s["task"] == "multilabel" and s["positive_class"] is None


def test_summary_of_one_class_per_image_has_no_task_field():
    labels = np.array([0, 1] * 10)
    data = StudyDataset.from_arrays(
        np.zeros((20, 8, 8), np.uint8), labels, class_names=["neg", "pos"]
    )
    s = data.summary()
    assert "task" not in s and "n_per_split" not in s
    assert s["positive_class"] == "pos"
    for part in ("train", "test"):
        assert s["counts"][part]["pos"] == int(
            ((data.split == part) & (labels == 1)).sum()
        )


def test_image_size_is_the_median_of_the_images_read_or_held(tmp_path):
    """Files are sized from their headers (an unreadable one is skipped);
    arrays by their shape; the summary carries it into the report."""
    paths = []
    for i, (h, w) in enumerate([(100, 80), (120, 90), (300, 200), (110, 70)]):
        path = tmp_path / f"{i}.png"
        Image.fromarray(np.zeros((h, w), np.uint8)).save(path)
        paths.append(str(path))
    (tmp_path / "bad.png").write_bytes(b"not an image")
    paths.append(str(tmp_path / "bad.png"))
    labels = np.array([0, 1, 0, 1, 0])
    data = StudyDataset.from_arrays(paths, labels, split=["train"] * 3 + ["test"] * 2)
    assert data.image_size == {"median": [115, 85], "n_sampled": 4}
    assert data.summary()["image_size"] == data.image_size
    arrays = StudyDataset.from_arrays(
        np.zeros((6, 28, 33), np.uint8), np.arange(6) % 2, random_state=0
    )
    assert arrays.image_size == {"median": [28, 33], "n_sampled": 6}
