"""EmbeddingCache on its own: storage, journal, crash recovery, damage, maintenance."""

from __future__ import annotations

import os
import pickle
import warnings
from datetime import timedelta

import h5py
import numpy as np
import pytest

from skmedtl.cache import (
    CacheCorruptedError,
    CacheCorruptedWarning,
    EmbeddingCache,
    image_key,
)

DIM = 6


def keys_of(n: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return [image_key(rng.integers(0, 256, (4, 4), dtype=np.uint8)) for _ in range(n)]


def rows_of(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, DIM)).astype(np.float32)


@pytest.fixture
def path(tmp_path):
    return tmp_path / "emb.h5"


def filled(path, n=20, config=None, checkpoint=True):
    cache = EmbeddingCache(path)
    ns = cache.namespace(config or {"backbone": "demo"})
    keys, rows = keys_of(n), rows_of(n)
    for s in range(0, n, 5):
        ns.store(keys[s : s + 5], rows[s : s + 5])
    if checkpoint:
        cache.checkpoint()
    return cache, ns, keys, rows


def test_lookup_returns_stored_rows_in_key_order_bitwise(path):
    cache, ns, keys, rows = filled(path, checkpoint=False)
    order = [7, 3, 19, 0]
    found, got = ns.lookup([keys[i] for i in order] + keys_of(2, seed=9))
    np.testing.assert_array_equal(found, [True] * 4 + [False] * 2)
    np.testing.assert_array_equal(got, rows[order])  # from the journal
    assert cache.checkpoint() == 20
    found, got = EmbeddingCache(path).namespace({"backbone": "demo"}).lookup(
        [keys[i] for i in order]
    )  # a new object: from the HDF5 file
    assert found.all()
    np.testing.assert_array_equal(got, rows[order])
    assert not os.path.exists(cache.journal_path)


def test_layout_is_one_group_per_namespace_with_readable_config(path):
    cache, ns, keys, rows = filled(path)
    other = cache.namespace({"backbone": "demo", "layer": "x"})
    other.store(keys[:3], rows[:3] + 1)
    cache.checkpoint()
    with h5py.File(path, "r") as f:
        assert set(f) == {ns.name, other.name}
        group = f[ns.name]
        assert group["embeddings"].shape == (20, DIM)
        assert group["embeddings"].chunks is not None
        assert group["embeddings"].maxshape == (None, DIM)
        np.testing.assert_array_equal(group["embeddings"][:], rows)
        assert [k.decode() for k in group["keys"][:]] == keys
        assert '"backbone": "demo"' in group.attrs["config"]
        assert group.attrs["n_rows"] == 20
        assert f[other.name].attrs["n_rows"] == 3


def test_namespaces_are_isolated(path):
    cache, ns, keys, rows = filled(path)
    for config in ({"backbone": "demo", "v": 2}, {"backbone": "other"}):
        found, _ = cache.namespace(config).lookup(keys)
        assert not found.any()
    f16 = cache.namespace({"backbone": "demo"}, dtype="float16")
    assert f16.name != ns.name
    assert not f16.lookup(keys)[0].any()


def test_store_skips_known_keys_and_checks_width(path):
    cache, ns, keys, rows = filled(path)
    returned = ns.store(keys[:2] + keys[:1], np.zeros((3, DIM), np.float32))
    assert returned.shape == (3, DIM)
    assert len(ns) == 20  # nothing new: first rows win
    np.testing.assert_array_equal(ns.lookup(keys[:2])[1], rows[:2])
    with pytest.raises(ValueError, match="width 6"):
        ns.store(keys_of(1, seed=5), np.zeros((1, DIM + 1), np.float32))
    with pytest.raises(ValueError, match="NaN"):
        ns.store(keys_of(1, seed=5), np.full((1, DIM), np.nan, np.float32))
    with pytest.raises(ValueError, match="hex digests"):
        ns.lookup(["not-a-key"])


def test_float16_storage_returns_what_later_lookups_return(path):
    cache = EmbeddingCache(path)
    ns = cache.namespace({"backbone": "demo"}, dtype="float16")
    keys, rows = keys_of(4), rows_of(4)
    returned = ns.store(keys, rows)
    assert returned.dtype == np.float32
    np.testing.assert_array_equal(returned, rows.astype(np.float16).astype(np.float32))
    cache.checkpoint()
    np.testing.assert_array_equal(ns.lookup(keys)[1], returned)
    with h5py.File(path, "r") as f:
        assert f[ns.name]["embeddings"].dtype == np.float16
    with pytest.raises(ValueError, match="float16"):
        cache.namespace({"backbone": "demo"}, dtype="int8")


def test_torn_journal_tail_is_ignored_at_every_cut(path):
    """A kill mid-append leaves a prefix of the last record: never a wrong row."""
    cache, ns, keys, rows = filled(path, n=10, checkpoint=False)
    journal = cache.journal_path
    full = open(journal, "rb").read()
    last_record = len(full) - (len(full) - 32) // 2  # records are equal-sized
    cuts = sorted(set(np.linspace(last_record, len(full) - 1, 40).astype(int)))
    for cut in cuts:
        with open(journal, "wb") as f:
            f.write(full[:cut])
        fresh = EmbeddingCache(path).namespace({"backbone": "demo"})
        found, got = fresh.lookup(keys)
        np.testing.assert_array_equal(found, [True] * 5 + [False] * 5)
        np.testing.assert_array_equal(got, rows[:5])
        assert os.path.getsize(journal) == last_record  # torn bytes cut off
        # the next writer appends after the good records
        fresh.store(keys[5:], rows[5:])
        found, got = EmbeddingCache(path).namespace({"backbone": "demo"}).lookup(keys)
        assert found.all()
        np.testing.assert_array_equal(got, rows)


def test_flipped_journal_byte_drops_the_record(path):
    cache, ns, keys, rows = filled(path, n=10, checkpoint=False)
    data = bytearray(open(cache.journal_path, "rb").read())
    data[-40] ^= 0xFF  # inside the rows of the last record
    open(cache.journal_path, "wb").write(bytes(data))
    found, got = EmbeddingCache(path, mode="r").namespace({"backbone": "demo"}).lookup(
        keys
    )
    np.testing.assert_array_equal(found, [True] * 5 + [False] * 5)
    np.testing.assert_array_equal(got, rows[:5])


def test_crash_between_replace_and_journal_removal_adds_no_duplicates(path):
    cache, ns, keys, rows = filled(path, n=10, checkpoint=False)
    saved = open(cache.journal_path, "rb").read()
    cache.checkpoint()
    open(cache.journal_path, "wb").write(saved)  # as if killed before the unlink
    # and an orphan temporary of a checkpoint killed mid-copy
    orphan = str(path) + ".tmp-999-deadbeef"
    open(orphan, "wb").write(b"partial")
    again = EmbeddingCache(path)
    assert again.info().n_rows == 10
    assert again.checkpoint() == 0
    with h5py.File(path, "r") as f:
        assert f[ns.name]["keys"].shape == (10,)
    assert not os.path.exists(orphan)
    np.testing.assert_array_equal(again.namespace({"backbone": "demo"}).lookup(keys)[1],
                                  rows)


def test_truncated_file_raises_a_clear_error(path):
    cache, ns, keys, rows = filled(path, n=40)
    size = os.path.getsize(path)
    os.truncate(path, size // 2)
    fresh = EmbeddingCache(path)
    with pytest.raises(CacheCorruptedError) as e:
        fresh.namespace({"backbone": "demo"}).lookup(keys)
    message = str(e.value)
    assert str(path) in message and "on_corrupt='rebuild'" in message
    assert os.path.getsize(path) == size // 2  # left untouched


def test_truncated_file_is_moved_aside_with_a_warning(path):
    cache, ns, keys, rows = filled(path, n=40)
    os.truncate(path, os.path.getsize(path) // 2)
    fresh = EmbeddingCache(path, on_corrupt="rebuild")
    ns2 = fresh.namespace({"backbone": "demo"})
    with pytest.warns(CacheCorruptedWarning, match="moved to"):
        found, got = ns2.lookup(keys)
    assert not found.any() and got.size == 0
    aside = [p for p in os.listdir(path.parent) if ".corrupt-" in p]
    assert len(aside) == 1
    ns2.store(keys, rows)
    fresh.checkpoint()
    np.testing.assert_array_equal(EmbeddingCache(path).namespace(
        {"backbone": "demo"}).lookup(keys)[1], rows)


def test_damaged_chunk_raises_instead_of_returning_wrong_numbers(path):
    cache, ns, keys, rows = filled(path, n=40)
    with h5py.File(path, "r") as f:
        offset = f[ns.name]["embeddings"].id.get_chunk_info(0).byte_offset
    with open(path, "r+b") as f:
        f.seek(offset + 12)
        byte = f.read(1)
        f.seek(offset + 12)
        f.write(bytes([byte[0] ^ 0x40]))
    fresh = EmbeddingCache(path)
    with pytest.raises(CacheCorruptedError, match="damaged"):
        fresh.namespace({"backbone": "demo"}).lookup(keys[:3])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no silent success either
        with pytest.raises(CacheCorruptedError):
            EmbeddingCache(path).namespace({"backbone": "demo"}).lookup(keys)


def test_foreign_files_are_never_touched(path, tmp_path):
    text = tmp_path / "notes.h5"
    text.write_bytes(b"my thesis, do not delete")
    with pytest.raises(ValueError, match="not an HDF5 file"):
        EmbeddingCache(text, on_corrupt="rebuild").info()
    other = tmp_path / "data.h5"
    with h5py.File(other, "w") as f:
        f["x"] = np.arange(3)
    with pytest.raises(ValueError, match="not a skmedtl embedding cache"):
        EmbeddingCache(other, on_corrupt="rebuild").info()
    assert text.read_bytes() == b"my thesis, do not delete"
    with h5py.File(other, "r") as f:
        assert list(f) == ["x"]


def test_info_reports_rows_pending_sizes_and_config(path):
    cache, ns, keys, rows = filled(path, n=10)
    ns.store(keys_of(3, seed=7), rows_of(3, seed=7))
    info = EmbeddingCache(path, mode="r").info()
    assert info.exists and info.n_rows == 13
    (entry,) = info.namespaces
    assert (entry.n_rows, entry.n_pending, entry.dim) == (10, 3, DIM)
    assert entry.config == {"backbone": "demo"} and entry.dtype == "float32"
    assert info.size_bytes == os.path.getsize(path) and info.journal_bytes > 0
    text = str(info)
    assert ns.name in text and "+ 3 pending" in text and "backbone: demo" in text


def test_prune_by_name_backbone_and_age(path):
    cache = EmbeddingCache(path)
    names = {}
    for backbone in ("resnet18", "resnet50", "lenet5"):
        ns = cache.namespace({"backbone": backbone})
        ns.store(keys_of(4), rows_of(4))
        names[backbone] = ns.name
    cache.checkpoint()
    size_before = os.path.getsize(path)
    assert cache.prune(backbone="resnet*", dry_run=True)
    assert len(cache.info().namespaces) == 3
    removed = cache.prune(backbone="resnet*")
    assert {ns.name for ns in removed} == {names["resnet18"], names["resnet50"]}
    assert [ns.name for ns in cache.info().namespaces] == [names["lenet5"]]
    assert os.path.getsize(path) < size_before
    assert cache.prune(older_than=timedelta(days=1)) == []
    lenet = cache.namespace({"backbone": "lenet5"})
    np.testing.assert_array_equal(lenet.lookup(keys_of(4))[1], rows_of(4))
    with pytest.raises(ValueError, match="No namespace 'nope'"):
        cache.prune(["nope"])
    with pytest.raises(ValueError, match="Nothing selected"):
        cache.prune()
    assert [ns.name for ns in cache.prune([names["lenet5"][:10]])] == [names["lenet5"]]
    assert cache.info().namespaces == ()


def test_prune_in_one_process_is_seen_by_another(path):
    cache, ns, keys, rows = filled(path)
    reader = EmbeddingCache(path)
    assert reader.namespace({"backbone": "demo"}).lookup(keys)[0].all()
    cache.prune(all_namespaces=True)
    found, _ = reader.namespace({"backbone": "demo"}).lookup(keys)
    assert not found.any()


def test_pickles_as_parameters_and_read_only_mode(path):
    cache, ns, keys, rows = filled(path)
    clone = pickle.loads(pickle.dumps(cache))
    assert clone.path == cache.path and clone is not cache
    np.testing.assert_array_equal(clone.namespace({"backbone": "demo"}).lookup(keys)[1],
                                  rows)
    reader = EmbeddingCache(path, mode="r")
    with pytest.raises(ValueError, match="mode='r'"):
        reader.namespace({"backbone": "demo"}).store(keys_of(1, 3), rows_of(1))
    assert reader.info().n_rows == 20


def test_lock_timeout_names_the_lock_file(path):
    import filelock

    cache = EmbeddingCache(path, lock_timeout=0.2)
    holder = filelock.FileLock(cache.lock_path)
    with holder, pytest.raises(TimeoutError, match=r"emb\.h5\.lock"):
        cache.info()


def test_parameters_are_checked(path):
    with pytest.raises(ValueError, match="mode"):
        EmbeddingCache(path, mode="w")
    with pytest.raises(ValueError, match="on_corrupt"):
        EmbeddingCache(path, on_corrupt="ignore")
    with pytest.raises(TypeError, match="path"):
        EmbeddingCache(3)
    os.mkdir(str(path))
    with pytest.raises(ValueError, match="directory"):
        EmbeddingCache(path).info()


def test_namespace_deleted_and_recreated_elsewhere_is_reread(path):
    """An index held in memory never maps keys to another incarnation's rows."""
    writer, ns, keys, rows = filled(path, n=20)
    reader = EmbeddingCache(path)
    reader_ns = reader.namespace({"backbone": "demo"})
    np.testing.assert_array_equal(reader_ns.lookup(keys)[1], rows)  # index loaded
    writer.prune(all_namespaces=True)
    order = np.arange(20)[::-1]  # the same rows, stored in another order
    ns.store([keys[i] for i in order], rows[order])
    writer.checkpoint()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        found, got = reader_ns.lookup(keys)
    assert found.all()
    np.testing.assert_array_equal(got, rows)


def test_prune_older_than_uses_the_last_write(path):
    cache = EmbeddingCache(path)
    old = cache.namespace({"backbone": "old"})
    new = cache.namespace({"backbone": "new"})
    old.store(keys_of(2), rows_of(2))
    new.store(keys_of(2), rows_of(2))
    cache.checkpoint()
    with h5py.File(path, "r+") as f:  # as if written 40 days ago
        f[old.name].attrs["updated"] = "2000-01-01T00:00:00+00:00"
    assert [ns.name for ns in cache.prune(older_than=30)] == [old.name]
    assert [ns.name for ns in cache.info().namespaces] == [new.name]
