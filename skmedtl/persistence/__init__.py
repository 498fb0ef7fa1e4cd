"""Safe persistence: models as tensors and plain data, loadable without pickle.

:func:`save` writes a fitted :class:`~skmedtl.FineTuneClassifier`,
:class:`~skmedtl.CNNFeatures` or a hybrid ``Pipeline`` to a directory
(safetensors for tensors, JSON for parameters and fitted attributes, skops for
scikit-learn heads, a manifest with versions and SHA-256 digests); :func:`load`
reads it back with no pickle and refuses every type outside an allowlist.
"""

from ._api import load, save
from ._consent import load_model
from ._errors import UnsafeModelError
from ._manifest import FORMAT_VERSION, read_manifest
from ._registry import register_estimator

__all__ = [
    "FORMAT_VERSION",
    "UnsafeModelError",
    "load",
    "load_model",
    "read_manifest",
    "register_estimator",
    "save",
]
