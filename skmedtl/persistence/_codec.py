"""Objects to JSON and back, for the types a saved model may hold.

JSON values stand for themselves (``None``, ``bool``, ``int``, ``float``,
``str``, lists, and dicts with string keys); everything else is a one-key dict
tagged ``"$..."``:

==================  ==========================================================
``$tuple``          a tuple
``$dict``           a dict with non-string keys, as ``[[key, value], ...]``
``$ndarray``        a numeric array, stored in ``arrays.safetensors``
``$ndarray_list``   an array of strings (or mixed labels), as nested lists
``$float``          a non-finite float (``"nan"``, ``"inf"``, ``"-inf"``)
``$scalar``         a numpy scalar, with its dtype
``$path``           a ``pathlib`` path
``$random_state``   a ``numpy.random.RandomState``, by its state
``$dataclass``      an allowed dataclass (``_registry.DATACLASSES``), by fields
``$estimator``      a registered estimator: parameters and fitted attributes
``$network``        a network: recipe + tensors (``_networks.py``)
``$skops``          a scikit-learn head (``_foreign.py``)
``$xgboost``        an XGBoost model (``_foreign.py``)
==================  ==========================================================

Decoding accepts exactly these tags and the registered types; anything else is
an :class:`~skmedtl.persistence.UnsafeModelError`.
"""

from __future__ import annotations

import dataclasses
import math
import pathlib

import numpy as np

from ._archive import ARRAY_KINDS
from ._errors import UnsafeModelError
from ._foreign import decode_foreign, encode_foreign, is_foreign
from ._networks import decode_network, encode_network
from ._registry import ESTIMATORS, dataclass_name, estimator_type, resolve

__all__ = ["decode", "decode_plain", "encode", "encode_plain"]

_JSON_SCALARS = (type(None), bool, int, str)


def encode(value, where: str, writer, owner=None):
    """The JSON form of ``value``; arrays, tensors and side files go to ``writer``."""
    if isinstance(value, np.generic):  # before str / float: np.str_, np.float64
        return _encode_scalar(value, where)
    if isinstance(value, _JSON_SCALARS):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"$float": repr(value)}
    if isinstance(value, list):
        return [encode(v, f"{where}[{i}]", writer, owner) for i, v in enumerate(value)]
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        return {
            "$tuple": [
                encode(v, f"{where}[{i}]", writer, owner) for i, v in enumerate(value)
            ]
        }
    if isinstance(value, dict) and type(value) is dict:
        if all(isinstance(k, str) and not k.startswith("$") for k in value):
            return {
                k: encode(v, f"{where}[{k!r}]", writer, owner) for k, v in value.items()
            }
        return {
            "$dict": [
                [
                    encode(k, where, writer, owner),
                    encode(v, f"{where}[{k!r}]", writer, owner),
                ]
                for k, v in value.items()
            ]
        }
    if isinstance(value, np.ndarray):
        return _encode_array(value, where, writer)
    if isinstance(value, pathlib.PurePath):
        return {"$path": str(value)}
    if type(value) is np.random.RandomState:
        return {"$random_state": encode(value.get_state(), where, writer)}
    entry = estimator_type(value)
    if entry is not None:
        return _encode_estimator(value, entry, where, writer)
    name = dataclass_name(value)
    if name is not None:
        fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        return {"$dataclass": name, "fields": encode(fields, where, writer, owner)}
    if _is_network(value):
        return encode_network(value, where, owner, writer)
    if is_foreign(value):
        return encode_foreign(value, where, writer, encode_plain)
    raise TypeError(
        f"{where}: cannot save a {type(value).__module__}.{type(value).__qualname__}. "
        "skmedtl.save stores skmedtl estimators, Pipelines of them and "
        "scikit-learn / XGBoost classifiers, with plain-data parameters (numbers, "
        "strings, lists, dicts, arrays); set this attribute to such a value, or "
        "use another format."
    )


def encode_plain(value, where: str):
    """JSON for plain values only (no arrays, estimators or networks)."""
    return encode(value, where, _NoFiles())


def decode(value, where: str, reader):
    """Rebuild what :func:`encode` wrote."""
    if isinstance(value, _JSON_SCALARS) or isinstance(value, float):
        return value
    if isinstance(value, list):
        return [decode(v, f"{where}[{i}]", reader) for i, v in enumerate(value)]
    if not isinstance(value, dict):
        raise UnsafeModelError(f"{where}: unexpected JSON value {value!r}.")
    tags = [k for k in value if k.startswith("$")]
    if not tags:
        return {k: decode(v, f"{where}[{k!r}]", reader) for k, v in value.items()}
    tag = tags[0]
    if tag == "$tuple":
        return tuple(decode(value[tag], where, reader))
    if tag == "$dict":
        pairs = value[tag]
        if not isinstance(pairs, list) or not all(
            isinstance(p, list) and len(p) == 2 for p in pairs
        ):
            raise UnsafeModelError(f"{where}: $dict must be a list of [key, value].")
        out = {}
        for k, v in pairs:
            key = _hashable(decode(k, where, reader))
            try:
                hash(key)
            except TypeError:
                raise UnsafeModelError(f"{where}: $dict key {k!r} refused.") from None
            out[key] = decode(v, f"{where}[{k!r}]", reader)
        return out
    if tag == "$float":
        if value[tag] not in ("nan", "inf", "-inf"):
            raise UnsafeModelError(f"{where}: bad float {value[tag]!r}.")
        return float(value[tag])
    if tag == "$scalar":
        return _decode_scalar(value, where)
    if tag == "$ndarray":
        return reader.array(value[tag]).copy()
    if tag == "$ndarray_list":
        dtype = _check_dtype(value["dtype"], where)
        return np.array(value[tag], dtype=dtype).reshape(value["shape"])
    if tag == "$path":
        return pathlib.Path(value[tag])
    if tag == "$random_state":
        rs = np.random.RandomState()
        try:
            rs.set_state(decode(value[tag], where, reader))
        except (TypeError, ValueError, IndexError) as e:
            raise UnsafeModelError(f"{where}: bad $random_state ({e}).") from e
        return rs
    if tag == "$dataclass":
        from ._registry import DATACLASSES

        if value[tag] not in DATACLASSES:
            raise UnsafeModelError(
                f"{where}: unknown type {value[tag]!r} (allowed: {DATACLASSES}); "
                "refused."
            )
        return resolve(value[tag])(**decode(value["fields"], where, reader))
    if tag == "$estimator":
        return _decode_estimator(value, where, reader)
    if tag in ("$network", "$network_ref"):
        return decode_network(value, reader)
    if tag in ("$skops", "$xgboost"):
        return decode_foreign(value, where, reader, decode_plain)
    raise UnsafeModelError(f"{where}: unknown tag {tag!r}; refused.")


def decode_plain(value, where: str):
    return decode(value, where, None)


# -- estimators -----------------------------------------------------------------
def _encode_estimator(est, entry, where: str, writer) -> dict:
    params = est.get_params(deep=False)
    params.update(_inert_defaults(type(est), entry, params))
    if entry.save_params is not None:
        params = entry.save_params(params)
    skipped = set(params) | set(entry.transient()) | set(entry.derived())
    state = {k: v for k, v in vars(est).items() if k not in skipped}
    return {
        "$estimator": entry.name,
        "params": {
            k: encode(v, f"{where}.{k}", writer, est) for k, v in params.items()
        },
        "state": {k: encode(v, f"{where}.{k}", writer, est) for k, v in state.items()},
    }


def _decode_estimator(value: dict, where: str, reader):
    entry = ESTIMATORS.get(value["$estimator"])
    if entry is None:
        raise UnsafeModelError(
            f"{where}: unknown estimator type {value['$estimator']!r} (allowed: "
            f"{sorted(ESTIMATORS)}); refused."
        )
    cls = entry.resolve()
    if not isinstance(value.get("params"), dict) or not isinstance(
        value.get("state"), dict
    ):
        raise UnsafeModelError(f"{where}: 'params' and 'state' must be objects.")
    params = {k: decode(v, f"{where}.{k}", reader) for k, v in value["params"].items()}
    params.update(_inert_defaults(cls, entry, params))  # whatever the file says
    try:
        est = cls(**params)
    except TypeError as e:
        raise ValueError(
            f"{where}: the saved parameters of {entry.name} do not match this version "
            f"of its class: {e}"
        ) from e
    for k, v in value["state"].items():
        if not isinstance(k, str) or not k.isidentifier() or k.startswith("__"):
            raise UnsafeModelError(f"{where}: attribute name {k!r} refused.")
        setattr(est, k, decode(v, f"{where}.{k}", reader))
    for k, v in entry.transient().items():
        setattr(est, k, v)
    if entry.after_load is not None:
        entry.after_load(est)
    reader.estimators.append(est)
    return est


def _inert_defaults(cls, entry, params: dict) -> dict:
    """The class defaults of the entry's inert parameters present in ``params``."""
    if not entry.inert:
        return {}
    import inspect

    signature = inspect.signature(cls.__init__).parameters
    return {
        name: signature[name].default
        for name in entry.inert
        if name in params and name in signature
    }


# -- arrays and scalars ---------------------------------------------------------
def _encode_array(array: np.ndarray, where: str, writer) -> dict:
    if array.dtype.kind in ARRAY_KINDS:
        return {"$ndarray": writer.add_array(array)}
    if array.dtype.kind == "U" or (
        array.dtype.kind == "O"
        and all(isinstance(v, (str, int, float, bool)) for v in array.ravel())
    ):
        return {
            "$ndarray_list": [
                v.item() if isinstance(v, np.generic) else v for v in array.ravel()
            ],
            "dtype": array.dtype.str,
            "shape": list(array.shape),
        }
    raise TypeError(
        f"{where}: cannot save an array of dtype {array.dtype} (numbers, booleans "
        "and strings are supported)."
    )


def _check_dtype(dtype: str, where: str) -> np.dtype:
    try:
        resolved = np.dtype(dtype)
    except TypeError as e:
        raise UnsafeModelError(f"{where}: unknown dtype {dtype!r}.") from e
    if resolved.kind not in ARRAY_KINDS + "UO":
        raise UnsafeModelError(f"{where}: dtype {dtype!r} refused.")
    return resolved


def _encode_scalar(value: np.generic, where: str) -> dict:
    if value.dtype.kind not in ARRAY_KINDS + "U":
        raise TypeError(f"{where}: cannot save a numpy scalar of dtype {value.dtype}.")
    item = value.item()
    if isinstance(item, float) and not math.isfinite(item):
        item = repr(item)
    return {"$scalar": value.dtype.str, "value": item}


def _decode_scalar(value: dict, where: str):
    dtype = _check_dtype(value["$scalar"], where)
    item = value["value"]
    if isinstance(item, str) and dtype.kind == "f":
        item = float(item)  # "nan", "inf", "-inf"
    return np.array(item, dtype=dtype)[()]


def _hashable(key):
    return tuple(key) if isinstance(key, list) else key


def _is_network(value) -> bool:
    try:
        from torch import nn
    except ImportError:  # pragma: no cover
        return False
    return isinstance(value, nn.Module)


class _NoFiles:
    """A writer for plain values: anything needing a file is an error."""

    modules: dict = {}

    def __getattr__(self, name):
        raise TypeError("only plain values (numbers, strings, lists, dicts) allowed")
