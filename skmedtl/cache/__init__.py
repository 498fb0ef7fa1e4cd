"""Embedding cache: each (image, feature configuration) is computed once, ever.

:class:`EmbeddingCache` keeps embeddings in an HDF5 file, keyed by the content of
each decoded image (:func:`image_key`) inside a namespace that fingerprints the
whole feature configuration (:func:`config_fingerprint`). It is safe across
processes and crashes; ``skmedtl cache info|prune`` maintain it.
"""

from ._cache import EmbeddingCache, Namespace
from ._errors import CacheCorruptedError, CacheCorruptedWarning
from ._info import CacheInfo, NamespaceInfo
from ._keys import config_fingerprint, image_key, image_keys, state_dict_digest

__all__ = [
    "CacheCorruptedError",
    "CacheCorruptedWarning",
    "CacheInfo",
    "EmbeddingCache",
    "Namespace",
    "NamespaceInfo",
    "config_fingerprint",
    "image_key",
    "image_keys",
    "state_dict_digest",
]
