"""`skmedtl study` as a new user meets it: outputs, bad folders, bad flags."""

from __future__ import annotations

import os

import pytest

from skmedtl.cli import EXIT_OK, EXIT_USAGE

from .conftest import TINY, write_folder


def _study(*args):
    return ["study", *TINY, *args]


def _no_data_read(monkeypatch):
    """Fail the test if the data set is read (outputs are checked before)."""
    from skmedtl.study import _readers

    def read(*args, **kwargs):
        raise AssertionError("the data set was read before the outputs were checked")

    monkeypatch.setattr(_readers, "read_folder", read)


@pytest.mark.parametrize("where", [".", "out", "benign/out"])
def test_out_inside_the_dataset_folder_is_refused_before_reading_it(
    where, image_folder, run_cli, monkeypatch
):
    _no_data_read(monkeypatch)
    out = image_folder / where
    code, stdout, err = run_cli(_study("--dataset", image_folder, "--out", out))
    assert code == EXIT_USAGE
    assert "--out" in err and "--dataset" in err and "inside" in err
    assert "Traceback" not in err and stdout == ""
    # nothing written into the data
    assert sorted(p.name for p in image_folder.iterdir()) == ["benign", "malignant"]


def test_why_out_inside_the_data_is_refused(image_folder, tmp_path, run_cli):
    """What would happen: a report inside the folder becomes a third class."""
    from skmedtl.datasets import load_folder

    (image_folder / "figures").mkdir()
    (image_folder / "figures" / "roc.png").write_bytes(
        (image_folder / "benign" / "p0_benign.png").read_bytes()
    )
    assert load_folder(image_folder).class_names == [
        "benign", "figures", "malignant"
    ]


def test_cache_inside_the_dataset_folder_is_refused(image_folder, tmp_path, run_cli):
    code, _, err = run_cli(_study("--dataset", image_folder, "--out", tmp_path / "o",
                                  "--cache", image_folder / "benign" / "e.h5"))
    assert code == EXIT_USAGE and "--cache" in err and "--dataset" in err


def test_out_that_is_a_file_is_refused_before_reading_data(
    tmp_path, run_cli, monkeypatch
):
    _no_data_read(monkeypatch)
    target = tmp_path / "report.txt"
    target.write_text("keep me")
    # a data set that does not exist: the --out error must come first
    code, _, err = run_cli(_study("--dataset", tmp_path / "nowhere", "--out", target))
    assert code == EXIT_USAGE
    assert f"--out {target} is a file" in err and "Traceback" not in err
    assert target.read_text() == "keep me"
    code, _, err = run_cli(
        _study("--dataset", tmp_path / "nowhere", "--out", target / "sub")
    )
    assert code == EXIT_USAGE and "is a file, so the folder cannot be created" in err


def test_unwritable_out_is_refused(image_folder, tmp_path, run_cli, monkeypatch):
    real_access = os.access

    def access(path, mode):  # as if tmp_path were read-only (tests may run as root)
        return False if os.fspath(path) == os.fspath(tmp_path) else real_access(
            path, mode
        )

    monkeypatch.setattr(os, "access", access)
    code, _, err = run_cli(
        _study("--dataset", image_folder, "--out", tmp_path / "new" / "o")
    )
    assert code == EXIT_USAGE
    assert "permission denied" in err and "--out" in err


def test_dry_run_needs_no_writable_out(image_folder, tmp_path, run_cli, monkeypatch):
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    code, out, _ = run_cli(
        _study("--dataset", image_folder, "--out", tmp_path / "o", "--dry-run")
    )
    assert code == EXIT_OK and "[ ] lenet5 / hybrid-logreg / seed 0" in out


def test_a_non_image_file_gets_advice_in_flags(tmp_path, run_cli):
    data = write_folder(tmp_path / "data", junk=True)
    code, _, err = run_cli(_study("--dataset", data, "--out", tmp_path / "o",
                                  "--dry-run"))
    assert code == EXIT_USAGE and "notes.txt" in err
    assert "--extensions" in err and "--on-error skip" in err
    assert "on_error=" not in err and "extensions=" not in err
    # either advice works
    for fix in (["--extensions", ".png"], ["--on-error", "skip"]):
        code, out, err = run_cli(_study("--dataset", data, "--out", tmp_path / "o",
                                        "--dry-run", *fix))
        assert code == EXIT_OK, err
        assert "8 images" in out and "2 classes" in out
    # the warning about the skipped file speaks in flags too
    assert "skmedtl study: warning: " in err and "notes.txt" in err
    assert "because of --on-error skip" in err and "on_error=" not in err


def test_folder_options_with_other_data_sets_are_refused(tmp_path, run_cli):
    import numpy as np

    np.savez(tmp_path / "d.npz", train_images=np.zeros((4, 8, 8), np.uint8),
             train_labels=np.array([[0], [1], [0], [1]], np.uint8))
    code, _, err = run_cli(_study("--dataset", tmp_path / "d.npz", "--out",
                                  tmp_path / "o", "--extensions", ".png"))
    assert code == EXIT_USAGE and "--extensions" in err and "folder" in err


def test_resume_with_folder_options_skips_finished_cells(tmp_path, run_cli):
    data = write_folder(tmp_path / "data", n=6, junk=True)
    argv = _study("--dataset", data, "--out", tmp_path / "o", "--on-error", "skip")
    code, _, err = run_cli(argv)
    assert code == EXIT_OK, err
    code, out, _ = run_cli([*argv, "--dry-run"])
    assert code == EXIT_OK and "1 finished before" in out and "[x]" in out


@pytest.mark.parametrize(
    ("layout", "message"),
    [
        ({}, "no class subfolders"),
        ({"classes": ("only",)}, "at least two classes"),
    ],
)
def test_folders_that_cannot_be_a_study(layout, message, tmp_path, run_cli):
    data = tmp_path / "data"
    if layout:
        write_folder(data, **layout)
    else:
        data.mkdir()
    code, _, err = run_cli(_study("--dataset", data, "--out", tmp_path / "o"))
    assert code == EXIT_USAGE and message in err and "Traceback" not in err


def test_bad_groups_regex_is_a_usage_error_before_reading(
    image_folder, tmp_path, run_cli, monkeypatch
):
    _no_data_read(monkeypatch)
    code, _, err = run_cli(_study("--dataset", image_folder, "--out", tmp_path / "o",
                                  "--groups", "patient(\\d+"))
    assert code == EXIT_USAGE
    assert "--groups" in err and "not a valid regular expression" in err


def test_groups_that_match_nothing_name_the_file(image_folder, tmp_path, run_cli):
    code, _, err = run_cli(_study("--dataset", image_folder, "--out", tmp_path / "o",
                                  "--groups", "patient(\\d+)"))
    assert code == EXIT_USAGE and "no group id" in err and "p0_benign.png" in err


@pytest.mark.parametrize(
    ("flag", "value"),
    [("--seeds", "0"), ("--batch-size", "-1"), ("--threads", "many"),
     ("--lrs", "fast"), ("--metric", "f1"), ("--nosuchflag", "1")],
)
def test_bad_flag_values_are_usage_errors(flag, value, image_folder, tmp_path,
                                          run_cli):
    code, _, err = run_cli(_study("--dataset", image_folder, "--out", tmp_path / "o",
                                  flag, value))
    assert code == EXIT_USAGE and flag in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()


def test_library_checks_speak_in_flags(image_folder, tmp_path, run_cli):
    code, _, err = run_cli(_study("--dataset", image_folder, "--out", tmp_path / "o",
                                  "--n-bootstraps", "3"))
    assert code == EXIT_USAGE and "--n-bootstraps must be" in err
    assert "n_bootstraps" not in err


def test_a_study_already_running_in_out_is_a_clear_message(
    image_folder, tmp_path, run_cli
):
    import filelock

    out = tmp_path / "o"
    out.mkdir()
    with filelock.FileLock(os.fspath(out / ".study.lock")):
        code, _, err = run_cli(_study("--dataset", image_folder, "--out", out))
    assert code == 1
    assert "Another study is running" in err and "Traceback" not in err
    assert "--debug" not in err  # skmedtl's own message: no traceback to offer
