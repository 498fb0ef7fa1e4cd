"""The JSON encoding of plain values round-trips exactly, and is strict JSON."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from skmedtl.persistence import UnsafeModelError
from skmedtl.persistence._archive import ArchiveReader, ArchiveWriter
from skmedtl.persistence._codec import decode, encode


def _round_trip(value):
    writer = ArchiveWriter()
    tree = json.loads(json.dumps(encode(value, "v", writer), allow_nan=False))
    return decode(tree, "v", ArchiveReader(writer.files()))


def test_plain_values():
    value = {
        "tuple": (1, (2.5, "x")),
        "int_keys": {0: "a", 1: "b"},
        "dollar": {"$tuple": 1},
        "nan": float("nan"),
        "inf": -math.inf,
        "none": None,
        "bool": True,
        "path": Path("some/file.h5"),
        "scalars": [np.float32(1.5), np.int64(7), np.bool_(True), np.str_("s")],
    }
    got = _round_trip(value)
    assert got["tuple"] == (1, (2.5, "x"))
    assert got["int_keys"] == {0: "a", 1: "b"}
    assert got["dollar"] == {"$tuple": 1}
    assert math.isnan(got["nan"]) and got["inf"] == -math.inf
    assert got["path"] == Path("some/file.h5")
    for a, b in zip(got["scalars"], value["scalars"], strict=True):
        assert type(a) is type(b) and a == b
    assert got["bool"] is True and got["none"] is None


@pytest.mark.parametrize(
    "array",
    [
        np.arange(6, dtype=np.float32).reshape(2, 3),
        np.array([True, False]),
        np.array([3, 1], dtype=np.uint16),
        np.array(["benign", "malignant"]),
        np.array(["a", 1], dtype=object),
    ],
)
def test_arrays(array):
    got = _round_trip(array)
    assert got.dtype == array.dtype and got.shape == array.shape
    np.testing.assert_array_equal(got, array)


def test_random_state():
    rs = np.random.RandomState(3)
    rs.rand()
    got = _round_trip(rs)
    assert got.rand() == rs.rand()


def test_refusals():
    with pytest.raises(TypeError, match=r"v\['f'\]: cannot save a builtins.function"):
        encode({"f": lambda: 0}, "v", ArchiveWriter())
    with pytest.raises(TypeError, match="dtype complex128"):
        encode(np.ones(2, dtype=complex), "v", ArchiveWriter())
    with pytest.raises(UnsafeModelError, match="unknown tag"):
        decode({"$eval": "1"}, "v", ArchiveReader({}))
    with pytest.raises(UnsafeModelError, match="dtype"):
        decode({"$ndarray_list": [1], "dtype": "V8", "shape": [1]}, "v", None)
    tree = {
        "$estimator": "sklearn.pipeline.Pipeline",
        "params": {"steps": []},
        "state": {"__class__": None},
    }
    with pytest.raises(UnsafeModelError, match="attribute name '__class__'"):
        decode(tree, "v", ArchiveReader({}))
