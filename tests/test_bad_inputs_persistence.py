"""Bad paths given to skmedtl.save / skmedtl.load found by probing."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

import skmedtl


@pytest.fixture
def model():
    rng = np.random.default_rng(0)
    return LogisticRegression().fit(rng.normal(size=(10, 3)), [0, 1] * 5)


def test_loading_a_path_that_does_not_exist_says_so(tmp_path):
    """Was '... is not a saved skmedtl model: no manifest.json in it'."""
    with pytest.raises(FileNotFoundError, match=r"nope: it does not exist"):
        skmedtl.load(tmp_path / "nope")


def test_loading_the_manifest_file_points_to_its_folder(tmp_path, model):
    saved = skmedtl.save(model, tmp_path / "model")
    with pytest.raises(FileNotFoundError, match=r"is a file.*\(.*model\)"):
        skmedtl.load(saved / "manifest.json")


def test_saving_under_a_file_names_the_file(tmp_path, model):
    """Was '[Errno 17] File exists: ...'."""
    (tmp_path / "notes.txt").write_text("keep")
    with pytest.raises(NotADirectoryError, match=r"notes\.txt is a file, not a folder"):
        skmedtl.save(model, tmp_path / "notes.txt" / "model")
    assert (tmp_path / "notes.txt").read_text() == "keep"


def test_a_folder_without_a_manifest_is_still_named_as_not_a_model(tmp_path):
    (tmp_path / "other").mkdir()
    with pytest.raises(FileNotFoundError, match="not a saved skmedtl model"):
        skmedtl.load(tmp_path / "other")
