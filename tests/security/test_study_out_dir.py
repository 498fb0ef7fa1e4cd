"""``TransferStudy.run()`` from Python keeps the output rule ``skmedtl study`` keeps.

An ``out_dir`` holding files the study did not write needs ``overwrite=True``;
the data set's folder (or a folder inside it), a saved model's folder and a file
are refused; a study's own folder (``study.json``, ``results.jsonl`` or
``.study.lock``) is resumed. Each refusal comes before any data is read or file
written, and the messages name the parameters (the flags, on the command line).
"""

from __future__ import annotations

import numpy as np
import pytest

from skmedtl.study import StudyDataset, TransferStudy
from skmedtl.study._out_dir import STUDY_MARKERS, check_out_dir

from .test_data_loss import digest

TINY = dict(
    backbones=["lenet5"],
    approaches=["hybrid-logreg"],
    weights=None,
    input_size=32,
    n_bootstraps=20,
    verbose=0,
)


@pytest.fixture(scope="module")
def arrays():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 20)
    X = rng.integers(60, 200, (40, 16, 16), dtype=np.uint8)
    X[y == 1, 4:12, 4:12] = 250
    return StudyDataset.from_arrays(X, y)


@pytest.fixture
def no_data_read(monkeypatch):
    """Reading the data set fails the test: refusals come first."""
    from skmedtl.study import _prepare

    def refuse(*args, **kwargs):
        raise AssertionError("the data set was read before the output check")

    monkeypatch.setattr(_prepare, "load_study_dataset", refuse)


@pytest.fixture
def foreign(tmp_path):
    """A folder with the user's own report and notes."""
    out = tmp_path / "mine"
    (out / "figures").mkdir(parents=True)
    (out / "report.md").write_text("my own report\n")
    (out / "figures" / "roc.png").write_bytes(b"not a study's figure")
    return out


@pytest.mark.parametrize("method", ["run", "report"])
def test_a_folder_the_study_did_not_write_is_refused(
    arrays, foreign, no_data_read, method
):
    before = digest(foreign)
    study = TransferStudy(arrays, foreign, **TINY)
    with pytest.raises(FileExistsError) as error:
        getattr(study, method)()
    message = str(error.value)
    assert f"out_dir {foreign} is an existing folder" in message
    assert "overwrite=True" in message and "--out" not in message
    assert digest(foreign) == before  # nothing written, not even the lock
    assert not any((foreign / name).exists() for name in STUDY_MARKERS)


def test_overwrite_writes_the_study_beside_the_users_files(arrays, foreign):
    results = TransferStudy(arrays, foreign, overwrite=True, **TINY).run()
    assert results.n_run == 1
    assert (foreign / "study.json").is_file() and (foreign / "report.md").is_file()
    # Its own folder now: a rerun needs no consent and runs nothing again.
    assert TransferStudy(arrays, foreign, **TINY).run().n_skipped == 1


def _write_folder(root, n=4):
    from PIL import Image

    rng = np.random.default_rng(1)
    for name in ("benign", "malignant"):
        (root / name).mkdir(parents=True)
        for i in range(n):
            image = rng.integers(0, 256, (16, 16), dtype=np.uint8)
            Image.fromarray(image).save(root / name / f"{i}.png")
    return root


@pytest.mark.parametrize("where", [".", "benign", "new/report"])
def test_the_data_set_folder_is_never_the_output(tmp_path, no_data_read, where):
    data = _write_folder(tmp_path / "data")
    before = digest(data)
    out = (data / where).resolve()
    with pytest.raises(ValueError, match="inside the dataset folder") as error:
        TransferStudy(data, out, overwrite=True, **TINY).run()
    assert "Put out_dir outside the data, e.g. out_dir" in str(error.value)
    assert digest(data) == before


def test_the_cache_is_never_inside_the_data_set_folder(tmp_path, no_data_read):
    data = _write_folder(tmp_path / "data")
    study = TransferStudy(data, tmp_path / "out", cache_path=data / "emb.h5", **TINY)
    with pytest.raises(ValueError, match="cache_path .* is inside the dataset"):
        study.run()
    assert not (tmp_path / "out").exists()


def test_a_saved_model_and_a_file_are_refused(arrays, saved, tmp_path, no_data_read):
    before = digest(saved)
    with pytest.raises(FileExistsError, match="is a saved model folder"):
        TransferStudy(arrays, saved, overwrite=True, **TINY).run()
    assert digest(saved) == before
    file = tmp_path / "notes.txt"
    file.write_text("mine\n")
    with pytest.raises(FileExistsError, match="out_dir .* is a file"):
        TransferStudy(arrays, file, overwrite=True, **TINY).run()
    assert file.read_text() == "mine\n"


@pytest.mark.parametrize("marker", STUDY_MARKERS)
def test_a_study_folder_is_its_own(foreign, marker):
    (foreign / marker).write_text("")
    check_out_dir(foreign)  # a rerun resumes or refreshes: no consent needed


def test_the_overwrite_parameter_is_checked(arrays, tmp_path):
    with pytest.raises(ValueError, match="overwrite"):
        TransferStudy(arrays, tmp_path / "o", overwrite="yes", **TINY).run()


def test_the_command_line_says_the_same_in_flags(foreign, run_cli):
    before = digest(foreign)
    argv = ["study", "--dataset", "breastmnist", "--out", foreign, "--dry-run"]
    code, _, err = run_cli(argv)
    assert code == 2
    assert f"--out {foreign} is an existing folder" in err and "--overwrite" in err
    assert "overwrite=True" not in err and "out_dir" not in err
    assert digest(foreign) == before


@pytest.mark.parametrize("flags", [[], ["--overwrite"]])
def test_the_demo_hands_its_consent_to_the_study(tmp_path, run_cli, monkeypatch, flags):
    from skmedtl.cli import demo

    studies = []
    monkeypatch.setattr(demo, "run_study", lambda study: studies.append(study) or 0)
    out = tmp_path / "demo"
    out.mkdir()
    (out / "notes.txt").write_text("mine\n")
    code, _, err = run_cli(["demo", "--out", out, *flags])
    if flags:  # the study itself would refuse the folder without the consent
        assert code == 0 and studies[0].overwrite is True
        check_out_dir(studies[0].out_dir, overwrite=studies[0].overwrite)
    else:
        assert code == 2 and "--overwrite" in err and studies == []
    assert (out / "notes.txt").read_text() == "mine\n"
