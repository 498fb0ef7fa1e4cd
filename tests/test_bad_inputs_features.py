"""Bad image inputs found by probing: each gets a clear error naming the image."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import tiny_features


@pytest.mark.parametrize(
    "X, match",
    [
        (np.zeros((2, 0, 28), np.uint8), r"X has shape \(2, 0, 28\).*no pixels"),
        (np.zeros((2, 28, 0, 3), np.uint8), r"X has shape \(2, 28, 0, 3\).*no pixels"),
        ([np.zeros((0, 28), np.uint8), np.zeros((8, 8))], r"X\[0\].*no pixels"),
        ([np.zeros((28, 28, 0), np.float32), np.zeros((8, 8))], r"X\[0\]"),
    ],
)
def test_images_without_pixels_are_named(X, match):
    """Was a RuntimeError from torch's interpolation ("Input and output sizes...")."""
    features = tiny_features("lenet5").fit(np.zeros((1, 8, 8), np.uint8))
    with pytest.raises(ValueError, match=match):
        features.transform(X)


def test_an_empty_npy_file_is_named(tmp_path):
    path = tmp_path / "blank.npy"
    np.save(path, np.zeros((0, 4), np.uint8))
    features = tiny_features("lenet5").fit(np.zeros((1, 8, 8), np.uint8))
    with pytest.raises(ValueError, match=r"blank\.npy.*no pixels"):
        features.transform([str(path)])


def test_a_list_image_with_unsupported_channels_is_named_by_its_index():
    """A one-item list was stacked first, so the error named a shape never passed."""
    features = tiny_features("lenet5").fit(np.zeros((1, 8, 8), np.uint8))
    with pytest.raises(ValueError, match=r"X\[0\] has shape \(8, 8, 2\)"):
        features.transform([np.zeros((8, 8, 2), np.uint8)])


def test_a_cache_path_under_a_file_is_named(tmp_path):
    """Was '[Errno 17] File exists: ...' from os.makedirs."""
    (tmp_path / "notes.txt").write_text("keep")
    features = tiny_features("lenet5", cache_path=tmp_path / "notes.txt" / "c.h5")
    with pytest.raises(NotADirectoryError, match=r"notes\.txt is a file.*cache_path"):
        features.fit_transform(np.zeros((2, 8, 8), np.uint8))
    assert (tmp_path / "notes.txt").read_text() == "keep"
