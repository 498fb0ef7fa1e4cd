"""Inference engines: ONNX Runtime agrees with PyTorch; exports are reused."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from skmedtl.backbones import create_backbone, get_backbone
from skmedtl.features._engines import (
    OnnxEngine,
    TorchEngine,
    exported_model,
    resolve_backend,
)
from skmedtl.features._extractor import FeatureExtractor
from tests._helpers import slow_except

pytest.importorskip("onnxruntime")


@pytest.mark.parametrize(
    "name, layer, pooling",
    slow_except(
        ("resnet18", None, "avg"),
        [
            ("resnet18", None, "avg"),
            ("densenet121", None, "gem"),
            ("efficientnet_lite0", "blocks.4", "max"),
        ],
    ),
)
def test_onnxruntime_agrees_with_torch(name, layer, pooling, tmp_path):
    spec = get_backbone(name)
    model = create_backbone(name, weights=None, random_state=0)
    module = FeatureExtractor(spec, model, layer, pooling)
    size = (64, 64)
    x = torch.rand(5, 3, *size)
    expected = TorchEngine(module, torch.device("cpu"))(x)
    path, seconds = exported_model(module, size, f"{name}-test", tmp_path)
    assert seconds > 0
    got = OnnxEngine(path, torch.device("cpu"))(x)
    np.testing.assert_allclose(
        got, expected, rtol=1e-4, atol=1e-5 * np.abs(expected).max()
    )


def test_export_is_reused_and_atomic(tmp_path):
    spec = get_backbone("resnet18")
    module = FeatureExtractor(
        spec, create_backbone("resnet18", weights=None), None, "avg"
    )
    path, first = exported_model(module, (32, 32), "abc", tmp_path)
    mtime = path.stat().st_mtime_ns
    again, second = exported_model(module, (32, 32), "abc", tmp_path)
    assert again == path and first > 0 and second == 0.0
    assert path.stat().st_mtime_ns == mtime
    assert sorted(p.name for p in tmp_path.iterdir()) == ["abc.onnx"]  # no temp files


def test_backend_resolution():
    cpu = torch.device("cpu")
    assert resolve_backend("auto", cpu) == "onnxruntime"
    assert resolve_backend("torch", cpu) == "torch"
    assert resolve_backend("auto", torch.device("cuda")) == "torch"


def test_cnn_features_backends_agree(gray_images):
    from ..conftest import tiny_features

    torch_out = tiny_features(backend="torch", input_size=64).fit_transform(gray_images)
    onnx = tiny_features(backend="onnxruntime", input_size=64).fit(gray_images)
    np.testing.assert_allclose(
        onnx.transform(gray_images),
        torch_out,
        rtol=1e-4,
        atol=1e-5 * np.abs(torch_out).max(),
    )
    assert isinstance(onnx._engine(), OnnxEngine)
    assert isinstance(
        tiny_features(backend="torch").fit(gray_images)._engine(), TorchEngine
    )
    with pytest.raises(ValueError, match="Did you mean 'onnxruntime'"):
        tiny_features(backend="onnxrt").fit(gray_images)


_SCRIPT = """
import numpy as np
from skmedtl import CNNFeatures
X = np.random.default_rng(0).integers(0, 256, (4, 28, 28), dtype=np.uint8)
f = CNNFeatures("resnet18", weights=None, random_state=0, input_size=32, verbose=0,
                backend="onnxruntime").fit(X)
out = f.transform(X)
print(f._engine().export_seconds, float(out.sum()))
"""


@pytest.mark.slow
def test_a_new_process_reuses_the_exported_model(tmp_path):
    import os
    import subprocess
    import sys

    env = dict(os.environ, SKMEDTL_HOME=str(tmp_path))
    runs = [
        subprocess.run(
            [sys.executable, "-c", _SCRIPT],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        for _ in range(2)
    ]
    assert float(runs[0][0]) > 0  # the first process exported
    assert float(runs[1][0]) == 0.0  # the second found the file
    assert runs[0][1] == runs[1][1]
    assert len(list((tmp_path / "onnx").glob("*.onnx"))) == 1


@pytest.mark.slow
def test_onnx_sessions_are_shared_within_a_process(tmp_path):
    """Refits (grid-search folds) reuse the optimised session of the same file."""
    spec = get_backbone("resnet18")
    module = FeatureExtractor(
        spec, create_backbone("resnet18", weights=None), None, "avg"
    )
    path, _ = exported_model(module, (32, 32), "shared", tmp_path)
    cpu = torch.device("cpu")
    first, second = OnnxEngine(path, cpu), OnnxEngine(path, cpu)
    assert first.session is second.session
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1 if threads > 1 else 2)
        assert OnnxEngine(path, cpu).session is not first.session
    finally:
        torch.set_num_threads(threads)
    x = torch.rand(3, 3, 32, 32)
    np.testing.assert_array_equal(first(x), second(x))
