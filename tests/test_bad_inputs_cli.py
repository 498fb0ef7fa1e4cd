"""Bad command-line input found by probing: exit 2, one line in flag words, and no
work done before a mistake that could be seen up front."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import skmedtl


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A saved LeNet-5 + logistic-regression hybrid and four PNG files."""
    root = tmp_path_factory.mktemp("cli_bad")
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (8, 16, 16), dtype=np.uint8)
    y = np.array([0, 1] * 4)
    pipe = skmedtl.make_hybrid(
        "lenet5", "logreg", weights=None, input_size=32, verbose=0, tune=False
    ).fit(X, y)
    model = skmedtl.save(pipe, root / "model")
    images = root / "images"
    images.mkdir()
    for i in range(4):
        Image.fromarray(X[i]).save(images / f"case {i}.png")
    (root / "a_file.txt").write_text("not a folder")
    return {"model": model, "images": images, "file": root / "a_file.txt"}


def test_predict_out_under_a_file_is_refused_before_predicting(saved, run_cli):
    """Was: every image predicted, then '[Errno 17] File exists: ...'."""
    out = saved["file"] / "predictions.csv"
    code, stdout, err = run_cli(
        ["predict", "--model", saved["model"], "--images", saved["images"],
         "--out", out, "-q"]
    )
    assert code == 2
    assert "skmedtl predict: error: --out" in err
    assert "is a file" in err
    assert "image(s)" not in err  # nothing was predicted
    assert "Traceback" not in err


def test_explain_out_that_is_a_file_is_refused_before_explaining(saved, run_cli):
    """Was: the maps computed, then '[Errno 17] File exists: ...'."""
    code, stdout, err = run_cli(
        ["explain", "--model", saved["model"], "--images",
         saved["images"] / "case 0.png", "--out", saved["file"],
         "--method", "occlusion"]
    )
    assert code == 2
    assert "skmedtl explain: error: --out" in err
    assert "is a file" in err
    assert "->" not in stdout


@pytest.mark.parametrize("alpha", ["-1", "1.5", "nan"])
def test_explain_alpha_outside_0_1_is_a_usage_error(saved, run_cli, tmp_path, alpha):
    """Was accepted: the overlay extrapolated past the image and was clipped."""
    code, stdout, err = run_cli(
        ["explain", "--model", saved["model"], "--images",
         saved["images"] / "case 0.png", "--out", tmp_path / "maps",
         "--method", "occlusion", f"--alpha={alpha}"]
    )
    assert code == 2
    assert "--alpha" in err and "between 0 and 1" in err
    assert not (tmp_path / "maps").exists()


def test_explain_fill_that_is_not_a_number_names_the_choices(saved, run_cli, tmp_path):
    """Was "argument --fill: invalid <lambda> value: 'abc'"."""
    code, stdout, err = run_cli(
        ["explain", "--model", saved["model"], "--images",
         saved["images"] / "case 0.png", "--out", tmp_path / "maps",
         "--method", "occlusion", "--fill", "abc"]
    )
    assert code == 2
    assert "<lambda>" not in err
    assert "'mean', 'min' or a number" in err


def test_explain_images_folder_says_it_is_a_folder(saved, run_cli, tmp_path):
    """Was 'No image at DIR.' for a folder that exists."""
    code, stdout, err = run_cli(
        ["explain", "--model", saved["model"], "--images", saved["images"],
         "--out", tmp_path / "maps", "--method", "occlusion"]
    )
    assert code == 2
    assert "--images" in err and "is a folder" in err


def test_study_unknown_save_choice_is_in_flag_words(run_cli, tmp_path):
    """Was 'save: unknown choice ...' (the Python name, not the flag)."""
    code, stdout, err = run_cli(
        ["study", "--dataset", "breastmnist", "--out", tmp_path / "s",
         "--save", "bogus", "--dry-run"]
    )
    assert code == 2
    assert "skmedtl study: error: --save must be" in err and "'bogus'" in err


def test_predict_csv_row_without_a_path_is_named_not_dropped(saved, run_cli, tmp_path):
    """Was: the row left out silently (one prediction fewer than rows)."""
    listing = tmp_path / "list.csv"
    listing.write_text(
        f"path,patient\n{saved['images'] / 'case 0.png'},p1\n,p2\n"
        f"{saved['images'] / 'case 1.png'},p3\n"
    )
    code, stdout, err = run_cli(
        ["predict", "--model", saved["model"], "--images", listing, "-q"]
    )
    assert code == 2
    assert "list.csv, line 3: the 'path' column is empty" in err


def test_predict_with_an_unfitted_saved_model_names_the_model(run_cli, tmp_path, saved):
    """Was scikit-learn's "This HybridPipeline instance is not fitted yet. Call
    'fit' ...", which a command-line user cannot act on."""
    unfitted = skmedtl.make_hybrid("lenet5", "logreg", weights=None, input_size=32)
    model = skmedtl.save(unfitted, tmp_path / "unfitted")
    code, stdout, err = run_cli(
        ["predict", "--model", model, "--images", saved["images"], "-q"]
    )
    assert code == 2
    assert "skmedtl predict: error: --model" in err and "not fitted" in err


def test_extract_save_interrupted_while_writing_keeps_the_old_file(
    saved, run_cli, tmp_path, monkeypatch
):
    """Was np.save straight into --save: a kill mid-write left a truncated .npy."""
    target = tmp_path / "emb.npy"
    argv = ["extract", "--cache", tmp_path / "c.h5", "--backbone", "lenet5",
            "--weights", "none", "--input-size", "32", "-q", "--save", target,
            saved["images"]]
    assert run_cli(argv)[0] == 0
    before = np.load(target)

    def interrupted_save(file, arr, *args, **kwargs):
        handle = file if hasattr(file, "write") else open(file, "wb")  # noqa: SIM115
        handle.write(b"\x93NUMPY partial")
        handle.flush()
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "save", interrupted_save)
    assert run_cli(argv)[0] == 130
    monkeypatch.undo()
    np.testing.assert_array_equal(np.load(target), before)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("emb")) == [
        "emb.npy", "emb.npy.paths.txt"
    ]


def test_study_n_jobs_0_is_refused_up_front(run_cli, tmp_path):
    """Was accepted, then joblib's 'n_jobs == 0 in Parallel has no meaning' after
    the images were embedded."""
    code, stdout, err = run_cli(
        ["study", "--dataset", "breastmnist", "--out", tmp_path / "s",
         "--n-jobs", "0", "--dry-run"]
    )
    assert code == 2
    assert "--n-jobs must be" in err and "got 0" in err
