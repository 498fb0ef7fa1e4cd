"""A cache in a folder that cannot be written: a clear error, and read-only use."""

from __future__ import annotations

import errno

import numpy as np
import pytest

from skmedtl.cache import _cache
from tests.conftest import tiny_features


@pytest.fixture
def unwritable_lock(monkeypatch):
    """The lock file cannot be created (a read-only folder, even for root)."""

    class Lock:
        def __init__(self, path):
            self.path = path

        def acquire(self, timeout=None):
            raise PermissionError(errno.EACCES, "Permission denied", self.path)

    monkeypatch.setattr(_cache.filelock, "FileLock", Lock)
    _cache._SHARED.clear()
    yield
    _cache._SHARED.clear()


def test_unwritable_folder_gives_a_clear_message(
    tmp_path, gray_images, unwritable_lock
):
    features = tiny_features(cache_path=tmp_path / "emb.h5").fit(gray_images)
    with pytest.raises(PermissionError) as e:
        features.transform(gray_images)
    message = str(e.value)
    assert "emb.h5" in message and "not writable" in message
    assert "cache_mode='r'" in message and "mode='r'" in message


def test_complete_read_only_cache_serves_lookups(tmp_path, gray_images, monkeypatch):
    path = tmp_path / "emb.h5"
    expected = tiny_features(cache_path=path).fit(gray_images).transform(gray_images)
    _cache._SHARED.clear()

    class Lock:  # from now on the folder is read-only
        def __init__(self, path):
            pass

        def acquire(self, timeout=None):
            raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(_cache.filelock, "FileLock", Lock)
    reader = tiny_features(cache_path=path, cache_mode="r").fit(gray_images[:1])
    out = reader.transform(gray_images)
    np.testing.assert_array_equal(out, expected)
    assert reader.transform_stats_["n_cached"] == len(gray_images)
    assert reader.transform_stats_["n_computed"] == 0
    # an image the cache lacks is computed, not stored
    new = 255 - gray_images[:2]
    rows = reader.transform(new)
    assert reader.transform_stats_["n_computed"] == 2
    assert len(reader.cache_namespace()) == len(gray_images)
    np.testing.assert_allclose(
        rows, tiny_features().fit(new).transform(new), rtol=1e-5, atol=1e-6
    )
    _cache._SHARED.clear()


def test_cache_mode_is_checked(gray_images):
    with pytest.raises(ValueError, match="Unknown cache_mode 'w'"):
        tiny_features(cache_mode="w").fit(gray_images)
