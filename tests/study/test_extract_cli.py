"""`skmedtl extract`: images into the embedding cache, which a study then reuses."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from PIL import Image

from tests._helpers import tiny_study_flags

from .conftest import make_images

EXTRACT = ["--backbone", "lenet5", "--weights", "none", "--input-size", "32", "-q"]


def _folder(tmp_path, n=10):
    rng = np.random.default_rng(0)
    folder = tmp_path / "images" / "nested"
    folder.mkdir(parents=True)
    for i, image in enumerate(make_images(rng, np.array([0, 1] * (n // 2)))):
        Image.fromarray(image).save(folder / f"im{i}.png")
    (folder / "notes.txt").write_text("not an image")
    return tmp_path / "images"


def test_extract_a_folder_then_nothing_is_recomputed(tmp_path, run_cli):
    images = _folder(tmp_path)
    cache = tmp_path / "emb.h5"
    save = tmp_path / "emb.npy"
    code, out, _ = run_cli(
        ["extract", images, "--cache", cache, "--save", save, *EXTRACT]
    )
    assert code == 0
    assert "10 images embedded with lenet5 (120 features): 10 new, 0 already" in out
    embeddings = np.load(save)
    assert embeddings.shape == (10, 120)
    listed = (tmp_path / "emb.npy.paths.txt").read_text().split()
    assert len(listed) == 10 and all(p.endswith(".png") for p in listed)
    code, out, _ = run_cli(["extract", images, "--cache", cache, *EXTRACT])
    assert code == 0 and "0 new, 10 already cached" in out


@pytest.mark.slow
def test_a_study_takes_its_embeddings_from_an_extracted_cache(
    tiny_npz, tmp_path, run_cli
):
    cache = tmp_path / "shared.h5"
    code, out, _ = run_cli(
        ["extract", "--dataset", tiny_npz, "--cache", cache, *EXTRACT]
    )
    assert code == 0 and "52 images embedded" in out and "52 new" in out
    out_dir = tmp_path / "study"
    code, _, _ = run_cli(
        [
            "study",
            "--dataset",
            tiny_npz,
            "--out",
            out_dir,
            "--cache",
            cache,
            *tiny_study_flags(
                train_input_size=False,
                max_epochs=False,
                approaches=["hybrid-logreg"],
                n_bootstraps=20,
            ),
        ]
    )
    assert code == 0
    records = [json.loads(li) for li in (out_dir / "results.jsonl").open()]
    extraction = next(r for r in records if r["type"] == "extraction")
    assert extraction["n_computed"] == 0  # every embedding came from the cache
    assert re.match(
        r"estimated from \d+ images embedded without the cache", extraction["method"]
    )
    assert extraction["extract_time_s"] > 0  # the cost is still reported
    assert not (out_dir / "embeddings.h5").exists()


def test_extract_errors(tmp_path, run_cli):
    code, _, err = run_cli(
        ["extract", tmp_path / "missing", "--cache", tmp_path / "c.h5", *EXTRACT]
    )
    assert code == 2 and "No such file or folder" in err
    code, _, err = run_cli(["extract", "--cache", tmp_path / "c.h5", *EXTRACT])
    assert code == 2 and "not both or neither" in err


def test_extract_precision_and_batch_size_options(tmp_path, run_cli):
    images = _folder(tmp_path, n=4)
    cache = tmp_path / "emb.h5"
    common = ["extract", images, "--cache", cache, *EXTRACT, "--backend", "torch"]
    code, out, _ = run_cli([*common, "--batch-size", "3"])
    assert code == 0 and "4 new" in out
    # Another precision is another namespace: embedded again, not served float32.
    code, out, _ = run_cli([*common, "--precision", "bfloat16"])
    assert code == 0 and "4 new, 0 already" in out
    code, _, err = run_cli([*common, "--batch-size", "many"])
    assert code == 2
    assert "expected a number of images or 'auto'" in err
