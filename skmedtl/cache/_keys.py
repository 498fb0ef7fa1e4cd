"""Cache keys: content hashes of images and fingerprints of configurations.

Every key is a 128-bit BLAKE2b digest written as 32 hexadecimal characters.
BLAKE2b runs at about 1 GB/s on one core and releases the GIL, so hashing is
never the bottleneck of a cache hit.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

__all__ = [
    "KEY_LENGTH", "config_fingerprint", "image_key", "image_keys", "state_dict_digest",
]

KEY_LENGTH = 32  # hex characters of a 16-byte digest
_DIGEST_SIZE = KEY_LENGTH // 2


def image_key(image) -> str:
    """Content key of one decoded image: its bytes, shape and dtype.

    Two arrays get the same key exactly when they hold the same values with the
    same shape and dtype (byte order is normalised, memory layout is not part of
    the key).

    Parameters
    ----------
    image : array-like
        One decoded image, as it enters preprocessing.

    Returns
    -------
    str
        32 hexadecimal characters.

    Examples
    --------
    >>> import numpy as np
    >>> from skmedtl.cache import image_key
    >>> a = np.zeros((2, 3), dtype=np.uint8)
    >>> image_key(a) == image_key(a.copy()), image_key(a) == image_key(a.T)
    (True, False)
    >>> image_key(a) == image_key(a.astype(np.uint16))
    False
    """
    a = np.asarray(image)
    if not a.dtype.isnative:
        a = a.astype(a.dtype.newbyteorder("="))
    a = np.ascontiguousarray(a)
    h = hashlib.blake2b(digest_size=_DIGEST_SIZE, person=b"skmedtl.image")
    h.update(f"{a.dtype.str}{a.shape}".encode())
    h.update(a.reshape(-1).view(np.uint8) if a.size else b"")
    return h.hexdigest()


_PARALLEL_BYTES = 8 << 20


def image_keys(images: Sequence) -> list[str]:
    """:func:`image_key` of every image, hashed on several threads when large.

    BLAKE2b releases the GIL, so big batches hash about ``n_cores`` times faster.

    Examples
    --------
    >>> import numpy as np
    >>> from skmedtl.cache import image_key, image_keys
    >>> images = np.zeros((3, 4, 4), dtype=np.uint8)
    >>> image_keys(images) == [image_key(im) for im in images]
    True
    """
    total = sum(np.asarray(im).nbytes for im in images)
    workers = min(8, os.cpu_count() or 1)
    if workers < 2 or total < _PARALLEL_BYTES or len(images) < 2:
        return [image_key(im) for im in images]
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(image_key, images, chunksize=max(1, len(images) // 32)))


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(
        f"Cache configurations must hold JSON values (str, numbers, bool, None, "
        f"lists, dicts); got {type(value).__name__} {value!r}."
    )


def canonical_json(config: Mapping) -> str:
    """``config`` as JSON with sorted keys and no whitespace (tuples become lists)."""
    return json.dumps(
        config, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
        allow_nan=False, default=_json_default,
    )


def config_fingerprint(config: Mapping) -> str:
    """Fingerprint of a feature configuration: hash of its canonical JSON.

    Equal configurations give equal fingerprints whatever the key order; any
    changed value gives a different one.

    Parameters
    ----------
    config : mapping
        JSON-serialisable description of everything that can change an
        embedding.

    Returns
    -------
    str
        32 hexadecimal characters.

    Examples
    --------
    >>> from skmedtl.cache import config_fingerprint
    >>> config_fingerprint({"a": 1, "b": [2, 3]}) == config_fingerprint(
    ...     {"b": (2, 3), "a": 1})
    True
    >>> config_fingerprint({"a": 1}) == config_fingerprint({"a": 2})
    False
    """
    if not isinstance(config, Mapping):
        raise TypeError(f"config must be a mapping; got {type(config).__name__}.")
    h = hashlib.blake2b(digest_size=_DIGEST_SIZE, person=b"skmedtl.config")
    h.update(canonical_json(config).encode())
    return h.hexdigest()


def state_dict_digest(state: Mapping) -> str:
    """Identity of a set of weights: hash of every tensor's name, dtype, shape, bytes.

    This identifies the weights actually loaded, whatever file or seed they came
    from: the same file name with different tensors gives a different digest.

    Parameters
    ----------
    state : mapping of str to torch.Tensor
        A ``state_dict()``.

    Returns
    -------
    str
        32 hexadecimal characters.

    Examples
    --------
    >>> import torch
    >>> from skmedtl.cache import state_dict_digest
    >>> a = torch.nn.Linear(2, 2).state_dict()
    >>> b = {k: v.clone() for k, v in a.items()}
    >>> state_dict_digest(a) == state_dict_digest(b)
    True
    >>> b["bias"][0] += 1
    >>> state_dict_digest(a) == state_dict_digest(b)
    False
    """
    import torch

    h = hashlib.blake2b(digest_size=_DIGEST_SIZE, person=b"skmedtl.weights")
    for name, tensor in state.items():
        if not isinstance(tensor, torch.Tensor):
            raise TypeError(
                f"state[{name!r}] is a {type(tensor).__name__}, not a tensor."
            )
        t = tensor.detach()
        if t.device.type != "cpu":
            t = t.cpu()
        t = t.contiguous().reshape(-1)
        h.update(f"{name}|{t.dtype}|{tuple(tensor.shape)}|".encode())
        if t.numel():
            h.update(t.view(torch.uint8).numpy())
    return h.hexdigest()
