"""Fixtures of the cache tests."""

from __future__ import annotations

import pytest

from skmedtl.features import _cnn_features

from ._cache_helpers import StemCounter


@pytest.fixture
def stem_counter(monkeypatch) -> StemCounter:
    """Counts the images that enter each backbone built during the test."""
    counter = StemCounter()
    original = _cnn_features.build_with_weights

    def build(spec, weights, **kwargs):
        model, tag = original(spec, weights, **kwargs)
        counter.attach(spec.name, model)
        return model, tag

    monkeypatch.setattr(_cnn_features, "build_with_weights", build)
    return counter
