"""batch_size="auto" and half precision: sizes that fit, results that agree."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from skmedtl.backbones import create_backbone, get_backbone
from skmedtl.features import _batching
from skmedtl.features._batching import AUTO_BATCH_LIMITS, auto_batch_size, fit_batch
from skmedtl.features._engines import resolve_backend
from skmedtl.features._extractor import FeatureExtractor

from ..conftest import tiny_features

MB = 2**20


@pytest.mark.parametrize(
    "per_image, free, limit, expected",
    [
        (10 * MB, 100_000 * MB, 32, 32),  # plenty of memory: the cap
        (10 * MB, 200 * MB, 32, 8),  # half of 200 MB holds 10 images -> 8
        (10 * MB, 640 * MB, 256, 32),  # exactly 32 fit
        (10 * MB, 630 * MB, 256, 16),  # 31 fit -> the power of two below
        (10 * MB, 5 * MB, 32, 1),  # not even one: still 1
    ],
)
def test_fit_batch(per_image, free, limit, expected):
    assert fit_batch(per_image, free, limit) == expected


def test_probe_finds_the_largest_activation_on_the_meta_device():
    spec = get_backbone("resnet18")
    real = FeatureExtractor(
        spec, create_backbone("resnet18", weights=None), None, "avg"
    )
    meta = FeatureExtractor(spec, spec._meta_model, None, "avg")
    out, largest = _batching.probe(real, torch.zeros(1, 3, 64, 64))
    meta_out, meta_largest = _batching.probe(
        meta, torch.empty(1, 3, 64, 64, device="meta")
    )
    # resnet18's stem output at 64 px: 64 channels x 32 x 32 float32.
    assert largest == meta_largest == 64 * 32 * 32 * 4
    assert out.shape == meta_out.shape == (1, 512)
    assert meta_out.device.type == "meta"  # shapes only, nothing computed
    _, larger = _batching.probe(meta, torch.empty(1, 3, 128, 128, device="meta"))
    assert larger == 4 * largest


def test_fit_does_not_run_the_network(gray_images, monkeypatch):
    """Width and batch size come from the meta device, not a real forward pass."""
    calls = []
    original = FeatureExtractor.forward

    def counting(self, x):
        calls.append(x.device.type)
        return original(self, x)

    monkeypatch.setattr(FeatureExtractor, "forward", counting)
    features = tiny_features().fit(gray_images)
    assert calls == ["meta"] and features.n_features_out_ == 512


def test_auto_batch_size_on_the_cpu(gray_images, monkeypatch):
    features = tiny_features().fit(gray_images)
    assert features.batch_size == "auto"
    assert features.batch_size_ == AUTO_BATCH_LIMITS["cpu"]

    # Short of memory: a smaller batch, same embeddings.
    monkeypatch.setattr(_batching, "available_memory", lambda: 2 * MB)
    small = tiny_features().fit(gray_images)
    assert 1 <= small.batch_size_ < AUTO_BATCH_LIMITS["cpu"]
    assert small.batch_size_ & (small.batch_size_ - 1) == 0  # a power of two
    np.testing.assert_allclose(
        small.transform(gray_images), features.transform(gray_images), rtol=1e-5
    )
    assert tiny_features(batch_size=5).fit(gray_images).batch_size_ == 5


def test_auto_batch_size_reads_available_memory():
    assert _batching.available_memory() > 0


@pytest.mark.parametrize("bad", ["big", 0, -3, 2.5, True])
def test_bad_batch_size(gray_images, bad):
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1 or"):
        tiny_features(batch_size=bad).fit(gray_images)


@pytest.mark.parametrize("precision, rtol", [("bfloat16", 3e-2), ("float16", 5e-3)])
def test_half_precision_agrees_with_float32(gray_images, precision, rtol, caplog):
    reference = tiny_features(backend="torch").fit_transform(gray_images)
    half = tiny_features(precision=precision)
    out = half.fit_transform(gray_images)
    assert out.dtype == np.float32
    assert half._engine().name == "torch"  # "auto" never picks ONNX for half
    assert "slower than float32" in caplog.text
    scale = np.abs(reference).max()
    assert np.abs(out - reference).max() <= rtol * scale
    assert not np.array_equal(out, reference)  # it really ran in half precision
    assert half.feature_config_["precision"] == precision


def test_precision_is_part_of_the_cache_key(gray_images, tmp_path):
    from skmedtl.cache import EmbeddingCache

    path = tmp_path / "cache.h5"
    full = tiny_features(cache_path=path, backend="torch").fit(gray_images)
    half = tiny_features(cache_path=path, precision="bfloat16").fit(gray_images)
    a = full.transform(gray_images)
    b = half.transform(gray_images)
    assert not np.array_equal(a, b)  # not served from float32 rows
    info = EmbeddingCache(path).info()
    assert sorted(ns.config["precision"] for ns in info.namespaces) == [
        "bfloat16",
        "float32",
    ]


def test_precision_errors(gray_images):
    with pytest.raises(ValueError, match="Did you mean 'float16'"):
        tiny_features(precision="float61").fit(gray_images)
    with pytest.raises(ValueError, match="backend='torch'"):
        tiny_features(precision="float16", backend="onnxruntime").fit(gray_images)
    with pytest.raises(ValueError, match="runs float32 and int8 models only"):
        resolve_backend("onnxruntime", torch.device("cpu"), "bfloat16")
    assert resolve_backend("auto", torch.device("cpu"), "float16") == "torch"


def test_cuda_probe_is_only_used_on_cuda(monkeypatch):
    """On a CUDA device the batch comes from a measured probe, not the estimate."""
    calls = []
    monkeypatch.setattr(
        _batching,
        "_cuda_bytes_per_image",
        lambda *a: calls.append(a) or 100 * MB,
    )
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device: (8000 * MB, 0))
    size = auto_batch_size(torch.nn.Identity(), (224, 224), torch.device("cuda"))
    assert calls and size == 32  # half of 8000 MB holds 40 images of 100 MB
