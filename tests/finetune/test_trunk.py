"""Frozen-trunk caching: same training as without it, only faster."""

from __future__ import annotations

import logging
import os

import numpy as np
import pytest
import torch

import skmedtl.finetune._training as training
import skmedtl.finetune._trunk as trunk
from skmedtl.finetune import FineTuneClassifier
from skmedtl.finetune._freezing import FreezePlan
from skmedtl.finetune._trunk import find_boundary

from .conftest import make_clf, stripes


def _resnet(**params) -> FineTuneClassifier:
    defaults = dict(
        weights=None,
        strategy="fine_tune",
        trainable_blocks=1,
        input_size=32,
        max_epochs=3,
        batch_size=8,
        early_stopping=False,
        random_state=0,
        verbose=0,
        device="cpu",
    )
    defaults.update(params)
    return FineTuneClassifier("resnet18", **defaults)


def _fit_both(make, X, y, monkeypatch, caplog):
    fits = {}
    for cached in (False, True):
        monkeypatch.setattr(training, "CACHE_TRUNK", cached)
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="skmedtl.finetune._training"):
            clf = make().fit(X, y)
        used = any("Frozen trunk" in r.getMessage() for r in caplog.records)
        fits[cached] = (clf, used)
    return fits


def _assert_same_training(a, b):
    assert [h["trainable"] for h in a.history_] == [h["trainable"] for h in b.history_]
    for ha, hb in zip(a.history_, b.history_, strict=True):
        assert abs(ha["valid_loss"] - hb["valid_loss"]) < 1e-4
        assert ha["train_loss"] == pytest.approx(hb["train_loss"], rel=1e-4, abs=1e-5)


@pytest.fixture(scope="module")
def small_stripes():
    return stripes(24, size=32)


@pytest.mark.slow
def test_fine_tune_with_cached_trunk_equals_uncached(
    small_stripes, monkeypatch, caplog
):
    # ResNet-18: BatchNorm in the trainable layer4 (train mode) and frozen
    # BatchNorm below it (eval mode); in-place ReLU below the cut.
    X, y = small_stripes
    fits = _fit_both(_resnet, X, y, monkeypatch, caplog)
    (off, used_off), (on, used_on) = fits[False], fits[True]
    assert used_on and not used_off
    _assert_same_training(on, off)
    np.testing.assert_allclose(on.predict_proba(X), off.predict_proba(X), atol=1e-5)
    assert on.predict(X).tolist() == off.predict(X).tolist()


def test_gradual_stages_recompute_the_trunk(small_stripes, monkeypatch, caplog):
    # A large learning rate makes the validation loss worsen, so the schedule
    # unfreezes further groups: each stage caches a shallower trunk.
    X, y = small_stripes

    def make():
        return make_clf(
            strategy="gradual", max_epochs=4, patience=1, lr=0.05, input_size=32
        )

    fits = _fit_both(make, X, y, monkeypatch, caplog)
    (off, _), (on, used_on) = fits[False], fits[True]
    assert used_on
    _assert_same_training(on, off)
    np.testing.assert_allclose(on.predict_proba(X), off.predict_proba(X), atol=1e-5)


@pytest.mark.slow
def test_no_trunk_cache_with_augmentation(small_stripes, monkeypatch, caplog):
    X, y = small_stripes
    fits = _fit_both(
        lambda: _resnet(augment=True, max_epochs=1), X, y, monkeypatch, caplog
    )
    assert not fits[True][1]


@pytest.mark.slow
def test_trunk_goes_to_a_temporary_file_when_memory_is_short(
    small_stripes, monkeypatch, tmp_path
):
    X, y = small_stripes
    monkeypatch.setattr(training, "CACHE_TRUNK", True)
    in_memory = _resnet(max_epochs=2).fit(X, y)
    monkeypatch.setattr(trunk, "MEMORY_FRACTION", 0.0)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(trunk.tempfile, "tempdir", None)
    on_disk = _resnet(max_epochs=2).fit(X, y)
    np.testing.assert_array_equal(in_memory.predict_proba(X), on_disk.predict_proba(X))
    assert os.listdir(tmp_path) == []  # the temporary file is gone after fit


def test_boundary_is_the_last_frozen_block_group():
    from skmedtl.backbones import create_backbone
    from skmedtl.finetune._network import FineTuneNetwork

    net = FineTuneNetwork("resnet18", create_backbone("resnet18", weights=None), 2)
    x = torch.zeros((1, 3, 32, 32))
    groups = net.block_groups()
    # With only the stem frozen, the cut is its last module with tensors (bn1):
    # ReLU and max-pooling then run on the cached activations.
    for n, expected in [(0, "layer4"), (1, "layer3"), (2, "layer2"), (4, "bn1")]:
        plan = FreezePlan.from_groups(groups, n)
        plan.apply(net.backbone)
        assert find_boundary(net, plan, x) == expected
    full = FreezePlan.from_groups(groups, len(groups))
    assert find_boundary(net, full, x) is None


def test_training_images_are_cached_at_the_training_batch_size():
    # oneDNN's results depend on the batch size in the last bits, not on an
    # image's position in the batch: training images are computed in full
    # batches (a short last one padded), validation ones in predict's batches.
    from skmedtl.backbones import create_backbone
    from skmedtl.finetune._network import FineTuneNetwork
    from skmedtl.finetune._trunk import TrunkCache

    torch.manual_seed(0)
    net = FineTuneNetwork("resnet18", create_backbone("resnet18", weights=None), 2)
    plan = FreezePlan.from_groups(net.block_groups(), 1)
    plan.apply(net.backbone)
    images = torch.randn(21, 3, 32, 32)
    sizes = {"train": [], "valid": []}

    def source(name):
        def fn(idx):
            sizes[name].append(len(idx))
            return images[torch.as_tensor(np.asarray(idx))]

        return fn

    boundary = find_boundary(net, plan, images[:2])
    inputs = {"train": (source("train"), 21), "valid": (source("valid"), 13)}
    cache = TrunkCache(net, plan, boundary, inputs, 8, torch.device("cpu"))
    assert sizes == {"train": [8, 8, 8], "valid": [8, 5]}
    # The padded rows are dropped: row i is image i's trunk output.
    net.eval()
    with torch.no_grad():
        full_batches = torch.cat([cache._trunk(images[i : i + 8]) for i in (0, 8)])
        last = cache._trunk(torch.cat([images[16:21], images[16:19]]))[:5]
    expected = torch.cat([full_batches, last]).numpy()
    np.testing.assert_array_equal(cache.arrays["train"], expected)
    cache.close()
