"""``skmedtl explain`` on a saved model folder, in a fresh process."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import skmedtl
from skmedtl import make_hybrid
from skmedtl.cli import main

pytest.importorskip("pytorch_grad_cam")
pytest.importorskip("pydicom")

ROOT = Path(__file__).resolve().parents[2]
DICOM = ROOT / "tests" / "data" / "dicom" / "MR_small.dcm"


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (12, 36, 28), dtype=np.uint8)
    y = np.array(["benign", "malignant"] * 6)
    model = make_hybrid("resnet18", "logreg", weights=None, random_state=0,
                        input_size=32, verbose=0).fit(X, y)
    return skmedtl.save(model, tmp_path_factory.mktemp("model") / "model")


@pytest.fixture
def images(tmp_path):
    png = tmp_path / "a.png"
    Image.fromarray(
        np.random.default_rng(1).integers(0, 256, (30, 40), dtype=np.uint8)
    ).save(png)
    dcm = tmp_path / "b.dcm"
    shutil.copy(DICOM, dcm)
    return png, dcm


@pytest.mark.slow
def test_explain_command_in_a_fresh_process(saved_model, images, tmp_path):
    out = tmp_path / "cams"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "skmedtl.cli", "explain", "--model", str(saved_model),
         "--images", *map(str, images), "--out", str(out)],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "a.png ->" in result.stdout
    a, b = np.load(out / "a.npy"), np.load(out / "b.npy")
    assert a.shape == (30, 40)
    assert b.shape == (64, 64)  # the DICOM's own pixels
    for m in (a, b):
        assert m.dtype == np.float32
        assert m.min() >= 0 and m.max() == pytest.approx(1.0)
    overlay = np.asarray(Image.open(out / "b.png"))
    assert overlay.shape == (64, 64, 3)


def test_explain_command_occlusion_and_target(saved_model, images, tmp_path,
                                              capsys):
    out = tmp_path / "occ"
    code = main(["explain", "--model", str(saved_model), "--images",
                 str(images[0]), "--out", str(out), "--method", "occlusion",
                 "--patch-size", "8", "--stride", "4", "--target", "benign"])
    assert code == 0
    assert np.load(out / "a.npy").shape == (30, 40)


def test_explain_command_errors(saved_model, images, tmp_path, capsys):
    args = ["explain", "--model", str(saved_model), "--images", str(images[0]),
            "--out", str(tmp_path / "x")]
    assert main([*args, "--target", "nodule"]) == 2
    assert "not a class of the model" in capsys.readouterr().err
    assert main([*args, "--patch-size", "8"]) == 2
    assert "--method occlusion" in capsys.readouterr().err
    assert main(["explain", "--model", str(tmp_path / "none"), "--images",
                 str(images[0]), "--out", str(tmp_path / "x")]) == 2
    assert "--model" in capsys.readouterr().err


def test_explain_layer_flag(saved_model, images, tmp_path, capsys):
    args = ["explain", "--model", str(saved_model), "--images", str(images[0])]
    assert main([*args, "--out", str(tmp_path / "o"), "--method", "occlusion",
                 "--layer", "multiscale"]) == 2
    assert "--layer is for the CAM methods" in capsys.readouterr().err
    assert main([*args, "--out", str(tmp_path / "d"), "--layer", "multiscale"]) == 0
    assert np.load(tmp_path / "d" / "a.npy").shape == (30, 40)
    assert main([*args, "--out", str(tmp_path / "f"), "--method", "layercam",
                 "--layer", "nonexistent_block"]) == 2
    assert "nonexistent_block" in capsys.readouterr().err


def test_explain_placement_flag(saved_model, images, tmp_path, capsys):
    """--placement reaches saliency: the traced grid gives the maps
    saliency(placement="traced") gives; occlusion has no cells to place."""
    from skmedtl.explain import saliency

    args = ["explain", "--model", str(saved_model), "--images", str(images[0])]
    assert main([*args, "--out", str(tmp_path / "o"), "--method", "occlusion",
                 "--placement", "traced"]) == 2
    assert "--placement is for the CAM methods" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:  # argparse: a usage error
        main([*args, "--out", str(tmp_path / "p"), "--placement", "wrong"])
    assert exit_.value.code == 2
    assert "Choose from measured, traced" in capsys.readouterr().err
    model = skmedtl.load(saved_model)
    for placement in ("traced", "measured"):
        out = tmp_path / placement
        assert main([*args, "--out", str(out), "--method", "gradcam",
                     "--placement", placement]) == 0
        expected = saliency(model, [str(images[0])], "gradcam", placement=placement)
        np.testing.assert_allclose(np.load(out / "a.npy"), expected[0], atol=1e-6)
