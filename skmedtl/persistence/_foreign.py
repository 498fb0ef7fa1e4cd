"""scikit-learn heads through skops, XGBoost models through their JSON format.

skops stores an estimator as a tree of plain nodes and, on load, refuses every
type outside its defaults and an explicit allowlist (:data:`SKOPS_TRUSTED`):
a skops file cannot make :func:`skmedtl.load` run arbitrary code. XGBoost
models go through XGBoost's own JSON model format, with their parameters as
JSON beside them.
"""

from __future__ import annotations

from ._errors import UnsafeModelError

__all__ = ["SKOPS_TRUSTED", "decode_foreign", "encode_foreign", "is_foreign"]

#: Types beyond skops' defaults that the heads hold once fitted: random-forest
#: trees, the SVM head's sigmoid calibration.
SKOPS_TRUSTED = (
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.tree._tree.Tree",
)
_XGBOOST = ("xgboost.sklearn.XGBClassifier",)


def _qualname(obj) -> str:
    return f"{type(obj).__module__}.{type(obj).__qualname__}"


def is_foreign(obj) -> bool:
    """Whether ``obj`` is a scikit-learn or XGBoost estimator saved by this module."""
    module = type(obj).__module__.split(".")[0]
    return (module == "sklearn" and hasattr(obj, "get_params")) or _qualname(
        obj
    ) in _XGBOOST


def _skops():
    try:
        import skops.io as sio
    except ImportError as e:  # a core dependency, but installed separately
        raise ImportError(
            f"Saving and loading scikit-learn heads needs skops ({e}): "
            'pip install "skmedtl" (or pip install -U skops).'
        ) from e
    return sio


def encode_foreign(obj, where: str, writer, encode_plain) -> dict:
    """Write ``obj`` as a side file; returns its JSON reference.

    ``encode_plain(value, where)`` encodes plain parameters (the codec's).
    """
    if _qualname(obj) in _XGBOOST:
        return _encode_xgboost(obj, where, writer, encode_plain)
    sio = _skops()
    data = sio.dumps(obj)
    untrusted = [
        t for t in sio.get_untrusted_types(data=data) if t not in SKOPS_TRUSTED
    ]
    if untrusted:
        raise TypeError(
            f"{where}: a {type(obj).__name__} holding {untrusted} cannot be saved "
            "safely (these types are not on skmedtl's allowlist). Save a pipeline "
            "of skmedtl estimators and scikit-learn / XGBoost classifiers (of a "
            "search: its best_estimator_), or use skops.io directly."
        )
    return {"$skops": writer.add_file("skops", ".skops", data)}


def decode_foreign(value: dict, where: str, reader, decode_plain):
    if "$xgboost" in value:
        return _decode_xgboost(value, where, reader, decode_plain)
    sio = _skops()
    data = reader.file(value["$skops"])
    untrusted = [
        t for t in sio.get_untrusted_types(data=data) if t not in SKOPS_TRUSTED
    ]
    if untrusted:
        raise UnsafeModelError(
            f"{where}: {value['$skops']} holds types that are not on skmedtl's "
            f"allowlist: {untrusted}. Loading them could run arbitrary code; "
            "refused."
        )
    return sio.loads(data, trusted=sio.get_untrusted_types(data=data))


def _encode_xgboost(obj, where: str, writer, encode_plain) -> dict:
    import os
    import tempfile

    params = encode_plain(obj.get_params(deep=False), f"{where}.get_params()")
    fitted = hasattr(obj, "_Booster")
    model = None
    if fitted:
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "model.json")
            obj.save_model(path)
            with open(path, "rb") as f:
                model = writer.add_file("xgboost", ".json", f.read())
    return {
        "$xgboost": _qualname(obj),
        "params": params,
        "model": model,
    }


def _decode_xgboost(value: dict, where: str, reader, decode_plain):
    import os
    import tempfile

    if value["$xgboost"] not in _XGBOOST:
        raise UnsafeModelError(
            f"{where}: unknown XGBoost type {value['$xgboost']!r}; refused."
        )
    try:
        from xgboost import XGBClassifier
    except ImportError as e:
        raise ImportError(
            f'{where} is an XGBoost model: pip install "skmedtl[xgboost]"'
        ) from e
    clf = XGBClassifier(**decode_plain(value["params"], where))
    if value.get("model") is not None:
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "model.json")
            with open(path, "wb") as f:
                f.write(reader.file(value["model"]))
            clf.load_model(path)
    return clf
