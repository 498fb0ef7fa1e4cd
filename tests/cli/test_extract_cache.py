"""`skmedtl extract` and `skmedtl cache`: outputs checked first, advice in flags."""

from __future__ import annotations

import os

import pytest

from skmedtl.cli import EXIT_OK, EXIT_USAGE

from .conftest import write_folder

EXTRACT = ["--backbone", "lenet5", "--weights", "none", "--input-size", "32", "-q"]


def _no_embedding(monkeypatch):
    from skmedtl import features

    class Refuse:
        def __init__(self, *args, **kwargs):
            raise AssertionError("embedding started before the outputs were checked")

    monkeypatch.setattr(features, "CNNFeatures", Refuse)


def test_cache_inside_an_input_folder_is_refused(image_folder, run_cli, monkeypatch):
    _no_embedding(monkeypatch)
    cache = image_folder / "benign" / "emb.h5"
    code, _, err = run_cli(["extract", image_folder, "--cache", cache, *EXTRACT])
    assert code == EXIT_USAGE and "--cache" in err and "inside the input folder" in err
    assert not cache.exists()


@pytest.mark.parametrize("problem", ["missing folder", "a folder", "a file above"])
def test_bad_save_and_cache_paths_are_refused_before_embedding(
    problem, image_folder, tmp_path, run_cli, monkeypatch
):
    _no_embedding(monkeypatch)
    (tmp_path / "file").write_text("x")
    argv = ["extract", image_folder, *EXTRACT]
    if problem == "missing folder":
        argv += ["--cache", tmp_path / "e.h5", "--save", tmp_path / "no" / "e.npy"]
        expected = "does not exist"
    elif problem == "a folder":
        argv += ["--cache", tmp_path]
        expected = "is a folder"
    else:
        argv += ["--cache", tmp_path / "file" / "e.h5"]
        expected = "is a file"
    code, _, err = run_cli(argv)
    assert code == EXIT_USAGE and expected in err and "Traceback" not in err


def test_folders_are_searched_for_images_only(tmp_path, run_cli):
    data = write_folder(tmp_path / "data", n=2, junk=True)
    cache = tmp_path / "emb.h5"
    code, out, err = run_cli(["extract", data, "--cache", cache, *EXTRACT])
    assert code == EXIT_OK, err
    assert "4 images embedded" in out  # notes.txt is not an image
    code, out, err = run_cli(["extract", data, "--cache", cache, *EXTRACT,
                              "--extensions", "jpg"])
    assert code == EXIT_USAGE and "No image files with suffix .jpg" in err


def test_dataset_folder_with_a_bad_file_advice_in_flags(tmp_path, run_cli):
    data = write_folder(tmp_path / "data", n=5, junk=True)
    argv = ["extract", "--dataset", data, "--cache", tmp_path / "e.h5", *EXTRACT]
    code, _, err = run_cli(argv)
    assert code == EXIT_USAGE and "--on-error skip" in err and "on_error" not in err
    code, out, err = run_cli([*argv, "--on-error", "skip"])
    assert code == EXIT_OK, err
    assert "10 images embedded" in out


def test_cache_info_on_a_damaged_file_offers_the_flag_that_repairs_it(
    tmp_path, run_cli
):
    cache = tmp_path / "emb.h5"
    data = write_folder(tmp_path / "data", n=8)
    assert run_cli(["extract", data, "--cache", cache, *EXTRACT])[0] == EXIT_OK
    os.truncate(cache, os.path.getsize(cache) // 2)
    code, _, err = run_cli(["cache", "info", cache])
    assert code == EXIT_USAGE and "damaged" in err
    assert "--on-corrupt rebuild" in err and "on_corrupt=" not in err
    code, out, err = run_cli(["cache", "info", cache, "--on-corrupt", "rebuild"])
    assert code == EXIT_OK, err
    assert "moved to" in err  # the warning, in one line
    assert [p for p in os.listdir(tmp_path) if ".corrupt-" in p]
    assert run_cli(["cache", "info", cache])[0] in (EXIT_OK, EXIT_USAGE)


def test_cache_prune_advice_is_in_flags(tmp_path, run_cli):
    cache = tmp_path / "emb.h5"
    data = write_folder(tmp_path / "data", n=2)
    assert run_cli(["extract", data, "--cache", cache, *EXTRACT])[0] == EXIT_OK
    code, _, err = run_cli(["cache", "prune", cache])
    assert code == EXIT_USAGE
    assert "--backbone, --older-than or --all" in err


def test_cache_info_on_a_folder(tmp_path, run_cli):
    code, _, err = run_cli(["cache", "info", tmp_path])
    assert code == EXIT_USAGE and "is a folder" in err


def test_interrupted_extraction_keeps_what_was_embedded(tmp_path, run_cli,
                                                        monkeypatch):
    """Ctrl-C after the first batch: exit 130, the rerun embeds only the rest."""
    from skmedtl.features import CNNFeatures

    data = write_folder(tmp_path / "data", n=4)
    cache = tmp_path / "emb.h5"
    real = CNNFeatures.transform

    def interrupted(self, X):
        real(self, X[:3])  # three images reach the cache, then Ctrl-C
        raise KeyboardInterrupt

    monkeypatch.setattr(CNNFeatures, "transform", interrupted)
    code, _, err = run_cli(["extract", data, "--cache", cache, *EXTRACT])
    assert code == 130
    assert "3 new embedding(s) are kept" in err and "run the same command" in err
    monkeypatch.setattr(CNNFeatures, "transform", real)
    code, out, _ = run_cli(["extract", data, "--cache", cache, *EXTRACT])
    assert code == EXIT_OK and "5 new, 3 already cached" in out


def test_save_without_npy_suffix_names_the_files_it_writes(tmp_path, run_cli):
    data = write_folder(tmp_path / "data", n=2)
    code, out, _ = run_cli(["extract", data, "--cache", tmp_path / "e.h5", *EXTRACT,
                            "--save", tmp_path / "emb"])
    assert code == EXIT_OK
    assert (tmp_path / "emb.npy").exists() and (tmp_path / "emb.npy.paths.txt").exists()
    assert f"embeddings: {tmp_path / 'emb.npy'} (4, 120)" in out


@pytest.mark.parametrize("days", ["-1", "nan", "soon"])
def test_prune_refuses_a_negative_age(days, tmp_path, run_cli):
    code, _, err = run_cli(["cache", "prune", tmp_path / "e.h5", "--older-than", days])
    assert code == EXIT_USAGE and "--older-than" in err and "days >= 0" in err
