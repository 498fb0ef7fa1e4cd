"""check_images: every bad input gives its error, or a warning and a skip record."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from skmedtl.io import ImageReadError, SkippedFile, SkippedImagesWarning, check_images

from ._helpers import BLOOD_CELLS, DICOM, make_dicom, write_truncated_jpeg


@pytest.fixture
def good():
    return sorted(str(p) for p in (BLOOD_CELLS / "platelet").glob("*.jpg"))[:3]


def _bad_files(tmp_path) -> dict[str, tuple[str, type, str]]:
    """name -> (path, error type, what the message says)."""
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "empty.png").write_bytes(b"")
    files = {
        "missing": (str(tmp_path / "gone.png"), FileNotFoundError, "not found"),
        "truncated": (
            str(write_truncated_jpeg(tmp_path / "cut.jpg")),
            ImageReadError,
            "truncated",
        ),
        "non_image": (
            str(tmp_path / "notes.txt"),
            ImageReadError,
            "not a readable image",
        ),
        "empty": (str(tmp_path / "empty.png"), ImageReadError, "empty"),
    }
    if "pydicom" in sys.modules or _has("pydicom"):
        path = make_dicom(tmp_path / "sr.dcm", None)
        files["no_pixel_data"] = (str(path), ImageReadError, "no pixel data")
    return files


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


@pytest.mark.parametrize(
    "kind", ["missing", "truncated", "non_image", "empty", "no_pixel_data"]
)
def test_each_bad_input_raises_naming_the_file(tmp_path, good, kind):
    files = _bad_files(tmp_path)
    if kind not in files:
        pytest.skip("pydicom is not installed")
    path, error, message = files[kind]
    with pytest.raises(error, match=message) as info:
        check_images([*good, path], [0, 1, 2, 3])
    assert path in str(info.value)


def test_skip_warns_records_and_keeps_labels_aligned(tmp_path, good):
    files = _bad_files(tmp_path)
    bad_paths = [v[0] for v in files.values()]
    # interleave good and bad files; labels and groups say which is which
    paths, labels, groups = [], [], []
    for i, path in enumerate(good + bad_paths):
        paths.append(path)
        labels.append(i)
        groups.append(f"patient{i}")
    order = np.random.default_rng(0).permutation(len(paths))
    paths = [paths[i] for i in order]
    labels = np.asarray(labels)[order]
    groups = np.asarray(groups)[order]
    with pytest.warns(SkippedImagesWarning, match=f"skipped {len(bad_paths)} of"):
        kept, kept_labels, kept_groups, skipped = check_images(
            paths, labels, groups, on_error="skip"
        )
    assert sorted(kept) == sorted(good)
    for path, label, group in zip(kept, kept_labels, kept_groups, strict=True):
        original = paths.index(path)
        assert label == labels[original] and group == groups[original]
    assert all(isinstance(s, SkippedFile) for s in skipped)
    assert sorted(s.path for s in skipped) == sorted(bad_paths)
    for s in skipped:
        assert paths[s.index] == s.path
        expected = next(v[2] for v in files.values() if v[0] == s.path)
        assert expected in s.reason


def test_nothing_to_skip_gives_no_warning(good, recwarn):
    paths, labels, groups, skipped = check_images(good, [1, 2, 3], on_error="skip")
    assert paths == good and labels.tolist() == [1, 2, 3] and groups is None
    assert skipped == [] and not recwarn.list


def test_labels_and_images_of_different_lengths(good):
    for on_error in ("raise", "skip"):
        with pytest.raises(ValueError, match="3 images but 2 labels"):
            check_images(good, [0, 1], on_error=on_error)
    with pytest.raises(ValueError, match="3 images but 4 groups"):
        check_images(good, groups=[0, 1, 2, 3])


def test_all_bad_is_an_error_even_when_skipping(tmp_path):
    (tmp_path / "a.txt").write_text("x")
    with (
        pytest.warns(SkippedImagesWarning),
        pytest.raises(ValueError, match="None of the 1 files"),
    ):
        check_images([tmp_path / "a.txt"], on_error="skip")


def test_without_decoding_only_existence_and_format_are_checked(tmp_path, good):
    cut = str(write_truncated_jpeg(tmp_path / "cut.jpg"))
    (tmp_path / "notes.txt").write_text("x")
    with pytest.warns(SkippedImagesWarning, match=r"notes\.txt: not an image file"):
        paths, _, _, skipped = check_images(
            [*good, cut, str(tmp_path / "notes.txt")], decode=False, on_error="skip"
        )
    assert cut in paths  # a truncated file is only found by decoding it
    assert [s.path for s in skipped] == [str(tmp_path / "notes.txt")]


def test_a_missing_dependency_is_never_skipped(monkeypatch):
    monkeypatch.setitem(sys.modules, "pydicom", None)
    with pytest.raises(ImportError, match=r"skmedtl\[dicom\]"):
        check_images([DICOM / "CT_small.dcm"], on_error="skip")


def test_unknown_on_error():
    with pytest.raises(ValueError, match="Did you mean 'skip'"):
        check_images(["a.png"], on_error="skp")


def test_threads_find_the_same_files(tmp_path, good):
    cut = str(write_truncated_jpeg(tmp_path / "cut.jpg"))
    with pytest.warns(SkippedImagesWarning):
        result = check_images([*good, cut], on_error="skip", n_jobs=2)
    assert result[0] == good and [s.path for s in result[3]] == [cut]
