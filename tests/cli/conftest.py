"""Small image folders (``run_cli`` is in ``tests/conftest.py``)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

#: A study that loads its data and plans, on a random LeNet-5 (no weights).
TINY = ["--backbones", "lenet5", "--weights", "none", "--input-size", "32",
        "--approaches", "hybrid-logreg", "--n-bootstraps", "20", "-q"]


def write_folder(root, classes=("benign", "malignant"), n=4, junk=False):
    """``root/<class>/p<i>_<class>.png`` (16x16 gray); ``junk``: a notes.txt too."""
    rng = np.random.default_rng(0)
    for cls in classes:
        (root / cls).mkdir(parents=True)
        for i in range(n):
            image = rng.integers(0, 256, (16, 16), dtype=np.uint8)
            Image.fromarray(image).save(root / cls / f"p{i}_{cls}.png")
    if junk:
        (root / classes[0] / "notes.txt").write_text("not an image")
    return root


@pytest.fixture
def image_folder(tmp_path):
    return write_folder(tmp_path / "data")

