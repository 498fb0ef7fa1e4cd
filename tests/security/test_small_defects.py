"""The smaller defects of issue #26, each pinned by a test that failed before."""

from __future__ import annotations

import math

import numpy as np
import pytest

import skmedtl
from tests._helpers import call_main


def test_occlusion_fill_outside_the_dtype_range_is_refused():
    """Was: fill=-5 on uint8 images wrapped around to 251 silently."""
    from skmedtl.explain._occlusion import _fill_value

    image = np.zeros((8, 8), np.uint8)
    with pytest.raises(ValueError, match=r"fill=-5.*0 to 255.*wrap"):
        _fill_value(image, -5)
    with pytest.raises(ValueError, match="fill=300"):
        _fill_value(image, 300)
    assert _fill_value(image, 7) == 7
    assert _fill_value(np.zeros((4, 4), np.float32), -5) == -5


def test_explain_fill_outside_range_is_a_usage_error(saved, tmp_path, capsys):
    from PIL import Image

    image = tmp_path / "scan.png"
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(image)
    code, _, err = call_main(
        [
            "explain",
            "--model",
            saved,
            "--images",
            image,
            "--out",
            tmp_path / "o",
            "--method",
            "occlusion",
            "--fill",
            "-5",
            "-q",
        ],
        capsys,
    )
    assert code == 2 and "--fill -5" in err and "0 to 255" in err


def test_explain_has_quiet(saved, tmp_path, capsys):
    """Was: 'unrecognized arguments: -q'."""
    from PIL import Image

    image = tmp_path / "scan.png"
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(image)
    code, out, err = call_main(
        ["explain", "--model", saved, "--images", image, "--out", tmp_path / "o", "-q"],
        capsys,
    )
    assert code == 0, err
    assert "%|" not in err  # no progress bar
    assert "scan.png ->" in out


def test_finetune_batch_size_one_is_a_clear_error(data):
    """Was: torch's 'Expected more than 1 value per channel when training'."""
    clf = skmedtl.FineTuneClassifier(
        "resnet18",
        weights=None,
        strategy="full",
        batch_size=1,
        max_epochs=1,
        input_size=32,
        validation_fraction=None,
        early_stopping=False,
        verbose=0,
    )
    with pytest.raises(ValueError, match="batch_size=1.*BatchNorm.*batch_size=2"):
        clf.fit(*data)


def test_fidelity_on_one_image_is_undefined_not_zero():
    """Was: standardised_cosine 0.0 for one held-back image."""
    from skmedtl.features._quantize import embedding_fidelity

    rng = np.random.default_rng(0)
    a = rng.random((1, 16))
    info = embedding_fidelity(a, a + 0.01)
    assert math.isnan(info["standardised_cosine"])
    assert "2" in info["standardised_cosine_reason"]
    assert info["mean_cosine"] > 0.99
    two = embedding_fidelity(rng.random((2, 16)), rng.random((2, 16)))
    assert not math.isnan(two["standardised_cosine"])
    assert "standardised_cosine_reason" not in two


def test_no_lock_file_beside_a_cache_that_failed_to_open(tmp_path):
    from skmedtl.cache import EmbeddingCache

    path = tmp_path / "embeddings.h5"
    path.write_bytes(b"this is not HDF5")
    with pytest.raises(ValueError, match="not an HDF5 file"):
        EmbeddingCache(path).info()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["embeddings.h5"]


def test_lock_file_of_someone_else_is_kept(tmp_path):
    from skmedtl.cache import EmbeddingCache

    path = tmp_path / "embeddings.h5"
    path.write_bytes(b"this is not HDF5")
    lock = tmp_path / "embeddings.h5.lock"
    lock.write_text("")
    with pytest.raises(ValueError):
        EmbeddingCache(path).info()
    assert lock.exists()


@pytest.mark.parametrize(
    "extra, expected, python_only",
    [
        (["--backbone", "resnt18"], "Unknown backbone", "list_backbones()"),
        (
            ["--backbone", "lenet5", "--weights", "nonsense"],
            "Unknown weights",
            "WeightsFile",
        ),
    ],
)
def test_cli_messages_name_commands_not_python(
    extra, expected, python_only, tmp_path, capsys
):
    images = tmp_path / "images"
    images.mkdir()
    np.save(images / "x.npy", np.zeros((28, 28), np.uint8))
    argv = ["extract", images, "--cache", tmp_path / "c.h5", *extra]
    code, _, err = call_main(argv, capsys)
    assert code == 2
    assert expected in err
    assert python_only not in err
    assert "skmedtl." not in err.replace("skmedtl extract", "")


def test_unreadable_image_hints_on_error(tmp_path, capsys):
    from PIL import Image

    data = tmp_path / "data"
    for cls in ("a", "b"):
        (data / cls).mkdir(parents=True)
        for i in range(3):
            Image.fromarray(np.zeros((8, 8), np.uint8)).save(data / cls / f"{i}.png")
    (data / "a" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    code, _, err = call_main(
        ["study", "--dataset", data, "--out", tmp_path / "o", "--dry-run"], capsys
    )
    assert code == 2
    assert "broken.png" in err and "--on-error skip" in err
