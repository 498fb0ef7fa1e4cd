"""Whether the workers share this process's file system, and decoding for travel."""

from __future__ import annotations

import logging

import numpy as np

from skmedtl.distributed._storage import _read_token, in_memory, shared_storage


class _Workers:
    """A stand-in client whose workers read files (or not) as told."""

    def __init__(self, *reads: bool):
        self.reads = reads

    def run(self, fn, path):
        return {
            f"tcp://w{i}": fn(path) if reads else None
            for i, reads in enumerate(self.reads)
        }


def test_every_worker_must_read_the_probe(tmp_path, caplog):
    assert shared_storage(_Workers(True, True), tmp_path)
    with caplog.at_level(logging.INFO, logger="skmedtl.distributed._storage"):
        assert not shared_storage(_Workers(True, False), tmp_path)
    assert (
        "1 of 2 Dask worker(s) cannot read" in caplog.text and "tcp://w1" in caplog.text
    )
    assert list(tmp_path.iterdir()) == []  # the probe is removed
    assert shared_storage(_Workers(), tmp_path)  # no workers yet: assumed


def test_an_unreadable_probe_reads_as_none(tmp_path):
    assert _read_token(str(tmp_path / "missing")) is None


def test_files_are_decoded_arrays_kept(tmp_path):
    from PIL import Image

    images = np.random.default_rng(0).integers(0, 256, (3, 8, 8), dtype=np.uint8)
    paths = []
    for i, image in enumerate(images):
        paths.append(str(tmp_path / f"{i}.png"))
        Image.fromarray(image).save(paths[-1])
    decoded = in_memory(paths)
    assert all(np.array_equal(a, b) for a, b in zip(decoded, images, strict=True))
    assert in_memory(images) is images
    listed = list(images)
    assert in_memory(listed) is listed
