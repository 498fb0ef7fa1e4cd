"""Image keys, configuration fingerprints and weight digests."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from skmedtl.cache import config_fingerprint, image_key, state_dict_digest


def test_image_key_is_content_shape_and_dtype():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (8, 6), dtype=np.uint8)
    keys = {
        "same": image_key(a.copy()),
        "pixel": image_key(np.where(np.arange(a.size).reshape(a.shape) == 5, a ^ 1, a)),
        "shape": image_key(a.reshape(6, 8)),
        "channel": image_key(a[..., None]),
        "dtype": image_key(a.astype(np.uint16)),
    }
    assert keys["same"] == image_key(a)
    assert len(set(keys.values())) == len(keys)
    assert all(len(k) == 32 and int(k, 16) >= 0 for k in keys.values())


def test_image_key_ignores_memory_layout_and_byte_order():
    a = np.random.default_rng(1).integers(0, 4096, (5, 7, 3), dtype=np.uint16)
    strided = np.asfortranarray(a)
    swapped = a.astype(a.dtype.newbyteorder(">"))
    assert image_key(strided) == image_key(a) == image_key(swapped)
    # a channels-first view moved to channels-last is keyed by its values
    moved = np.moveaxis(np.ascontiguousarray(np.moveaxis(a, -1, 0)), 0, -1)
    assert not moved.flags.c_contiguous
    assert image_key(moved) == image_key(a)


def test_config_fingerprint_is_order_free_and_value_sensitive():
    base = {"backbone": "resnet18", "preprocessing": {"size": [32, 32], "mean": 0.5}}
    reordered = {"preprocessing": {"mean": 0.5, "size": (32, 32)},
                 "backbone": "resnet18"}
    assert config_fingerprint(base) == config_fingerprint(reordered)
    changed = {"backbone": "resnet18", "preprocessing": {"size": [32, 33], "mean": 0.5}}
    assert config_fingerprint(base) != config_fingerprint(changed)
    assert config_fingerprint({"x": np.int64(3)}) == config_fingerprint({"x": 3})
    with pytest.raises(TypeError, match="JSON"):
        config_fingerprint({"x": object()})


def test_state_dict_digest_follows_tensors_not_names():
    torch.manual_seed(0)
    a = torch.nn.Conv2d(3, 4, 3).state_dict()
    same = {k: v.clone() for k, v in a.items()}
    assert state_dict_digest(a) == state_dict_digest(same)
    changed = {k: v.clone() for k, v in a.items()}
    changed["weight"][0, 0, 0, 0] += 1e-6
    assert state_dict_digest(a) != state_dict_digest(changed)
    renamed = {"other." + k: v for k, v in a.items()}
    assert state_dict_digest(a) != state_dict_digest(renamed)
    as_half = {k: v.half() for k, v in a.items()}
    assert state_dict_digest(a) != state_dict_digest(as_half)
    # channels_last tensors hash like their contiguous copies
    cl = {k: (v.contiguous(memory_format=torch.channels_last) if v.ndim == 4 else v)
          for k, v in a.items()}
    assert state_dict_digest(cl) == state_dict_digest(a)
