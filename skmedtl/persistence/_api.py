"""skmedtl.save / skmedtl.load: models as a directory of plain data, no pickle."""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from pathlib import Path

from ..utils._outputs import swap_directory
from ._archive import ArchiveReader, ArchiveWriter
from ._codec import decode, encode
from ._errors import UnsafeModelError
from ._manifest import (
    MANIFEST,
    compare_versions,
    make_manifest,
    read_files,
    read_manifest,
)

__all__ = ["load", "save"]

logger = logging.getLogger(__name__)

MODEL = "model.json"
METADATA = "metadata.json"


def save(
    model,
    path,
    *,
    metadata: dict | None = None,
    overwrite: bool = False,
    files: dict | None = None,
) -> Path:
    """Save a fitted model to a directory, as tensors and plain data (no pickle).

    Handles :class:`~skmedtl.FineTuneClassifier`, :class:`~skmedtl.CNNFeatures`
    and any ``Pipeline`` of skmedtl estimators (:class:`~skmedtl.io.ImageLoader`,
    :class:`~skmedtl.VolumeFeatures`, ``CNNFeatures``) and scikit-learn or
    XGBoost steps, such as :func:`~skmedtl.make_hybrid`'s pipelines or a
    ``GridSearchCV``'s ``best_estimator_``. The directory holds:

    - ``tensors.safetensors``: the networks' weights (the fine-tuned network; the
      backbone ``CNNFeatures`` loaded), so loading needs neither the original
      weights file nor a download;
    - ``arrays.safetensors``: numeric arrays of fitted attributes;
    - ``model.json``: parameters and the other fitted attributes as JSON;
    - ``skops/*.skops``: scikit-learn heads (skops format), ``xgboost/*.json``:
      XGBoost models (XGBoost's JSON format);
    - ``metadata.json``: ``metadata``;
    - ``manifest.json``: format version, skmedtl and package versions, and the
      SHA-256 of every file.

    Parameters
    ----------
    model : estimator
        The fitted (or unfitted) model.
    path : str or path-like
        The directory to create.
    metadata : dict, optional
        JSON-serialisable information kept with the model (class names, the
        positive class, an operating threshold, provenance...), returned by
        ``load(path, return_metadata=True)``.
    overwrite : bool, default=False
        Replace an existing saved model at ``path``. A directory that is not a
        saved model is never replaced.
    files : dict of str to str or bytes, optional
        Documents kept in the directory beside the model (a model card:
        ``{"model_card.md": text}``): plain file names, covered by the
        manifest's SHA-256 like every other file, never read by :func:`load`.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    TypeError
        If the model holds something that cannot be saved as data (a callable
        parameter, an unknown estimator type); the message names the attribute.
    FileExistsError
        If ``path`` exists and ``overwrite`` is False.

    See Also
    --------
    load : Load it again, in any process, without pickle.

    Examples
    --------
    >>> import numpy as np, skmedtl, tempfile, os
    >>> X = np.random.default_rng(0).integers(0, 256, (6, 28, 28), dtype=np.uint8)
    >>> features = skmedtl.CNNFeatures("lenet5", weights=None, random_state=0,
    ...                                verbose=0).fit(X)
    >>> path = os.path.join(tempfile.mkdtemp(), "features")
    >>> _ = skmedtl.save(features, path, metadata={"site": "A"})
    >>> loaded, meta = skmedtl.load(path, return_metadata=True)
    >>> bool(np.array_equal(loaded.transform(X), features.transform(X))), meta
    (True, {'site': 'A'})
    """
    path = Path(path)
    if metadata is not None and not isinstance(metadata, dict):
        raise TypeError(
            f"metadata must be a dict of JSON-serialisable values; got "
            f"{type(metadata).__name__}."
        )
    try:
        metadata_json = json.dumps(metadata if metadata is not None else {}, indent=2)
    except (TypeError, ValueError) as e:
        raise TypeError(
            f"metadata must hold JSON-serialisable values (str, numbers, lists, "
            f"dicts); {e}. Convert arrays with .tolist()."
        ) from e
    if path.exists() or path.is_symlink():
        if not overwrite:
            raise FileExistsError(
                f"{path} exists; choose another path or pass overwrite=True."
            )
        _check_replaceable(path)
    documents = _check_documents(files)
    writer = ArchiveWriter()
    tree = encode(model, type(model).__name__, writer)
    files = writer.files()
    files.update(documents)
    files[MODEL] = json.dumps(tree, indent=1, allow_nan=False).encode()
    files[METADATA] = metadata_json.encode()
    manifest = make_manifest(files, tree.get("$estimator") or next(iter(tree), ""))
    files[MANIFEST] = json.dumps(manifest, indent=2).encode()

    parent = path.parent
    while not parent.exists() and parent.parent != parent:
        parent = parent.parent
    if parent.exists() and not parent.is_dir():
        raise NotADirectoryError(
            f"Cannot save to {path}: {parent} is a file, not a folder. Choose "
            "another path."
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.new-", dir=path.parent))
    try:
        for name, data in files.items():
            (tmp / name).parent.mkdir(parents=True, exist_ok=True)
            with open(tmp / name, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        if path.exists() or path.is_symlink():
            _check_replaceable(path)  # again: it may have changed meanwhile
        swap_directory(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    logger.info(
        "Saved %s to %s (digest %s)", type(model).__name__, path, manifest["digest"]
    )
    return path


def _check_replaceable(path: Path) -> None:
    """Refuse to replace ``path`` unless it is a saved model, intact.

    Only a real folder (not a link) whose manifest skmedtl wrote, with every
    file matching its digest, is replaced: ``overwrite=True`` never deletes a
    folder that merely holds a file named ``manifest.json``.
    """
    reason = None
    if path.is_symlink() or not path.is_dir():
        reason = "it is not a folder" if not path.is_symlink() else "it is a link"
    else:
        try:
            read_files(path, read_manifest(path))
        except (UnsafeModelError, FileNotFoundError) as e:
            reason = str(e)
    if reason is not None:
        raise FileExistsError(
            f"{path} exists and is not a saved skmedtl model (or it changed after "
            f"saving), so overwrite=True does not replace it: {reason} Choose "
            "another path, or move it away yourself."
        )


def _check_documents(files) -> dict[str, bytes]:
    """``save(files=...)`` as ``{name: bytes}``, or a clear error."""
    if files is None:
        return {}
    if not isinstance(files, dict):
        raise TypeError(f"files must be a dict of name -> text; got {type(files)}.")
    reserved = {MODEL, METADATA, MANIFEST, "tensors.safetensors", "arrays.safetensors"}
    out = {}
    for name, data in files.items():
        if (
            not isinstance(name, str)
            or not name
            or name in reserved
            or name.startswith(".")
            or "/" in name
            or "\\" in name
        ):
            raise ValueError(
                f"files: {name!r} is not allowed; use a plain file name (no folder, "
                f"not hidden) other than {sorted(reserved)}."
            )
        if isinstance(data, str):
            data = data.encode("utf-8")
        if not isinstance(data, bytes):
            raise TypeError(f"files[{name!r}] must be str or bytes.")
        out[name] = data
    return out


def load(path, *, return_metadata: bool = False, device: str | None = None):
    """Load a model saved by :func:`save`, without pickle.

    The manifest and the SHA-256 of every file are checked first; then the
    networks are rebuilt from the registry with random weights (no download)
    and given the saved tensors, on the CPU; scikit-learn heads are read by
    skops with an explicit allowlist of types. Nothing is unpickled and no type
    outside the allowlist is ever created.

    Parameters
    ----------
    path : str or path-like
        A directory written by :func:`save`.
    return_metadata : bool, default=False
        Also return the ``metadata`` dict given to :func:`save`.
    device : str, optional
        Set the ``device`` of every skmedtl estimator in the model (``"cpu"``,
        ``"cuda"``, ``"auto"``). By default each has its class default
        (``"auto"``): a saved model never keeps the saver's device.

    Notes
    -----
    A loaded model is inert: the parameters that name somewhere to connect to
    or run on (``client``, ``device``, ``cache_path`` of
    :class:`~skmedtl.CNNFeatures` and :class:`~skmedtl.FineTuneClassifier`) are
    not saved, and are reset to their defaults on load whatever the file says.
    The model runs in the loading process, on this machine, and writes no
    cache. Set them again after loading if you want them
    (``model.set_params(cache_path=...)``).

    Returns
    -------
    model : estimator
    metadata : dict
        Only if ``return_metadata``.

    Raises
    ------
    UnsafeModelError
        For an unknown or edited manifest, a changed, missing or extra file, or a
        type outside the allowlist.

    See Also
    --------
    save
    skmedtl.persistence.read_manifest : The manifest, without loading the model.
    """
    manifest = read_manifest(path)
    files = read_files(path, manifest)
    compare_versions(manifest)
    for name in (MODEL, METADATA):
        if name not in files:
            raise UnsafeModelError(f"{path}: {name} is missing from the manifest.")
    try:
        tree = json.loads(files[MODEL])
        metadata = json.loads(files[METADATA])
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise UnsafeModelError(f"{path}: a JSON file is not valid JSON: {e}") from e
    reader = ArchiveReader(files)
    try:
        model = decode(tree, "model", reader)
    except (UnsafeModelError, ImportError):
        raise
    except Exception as e:  # a damaged or edited file: never a raw traceback
        raise UnsafeModelError(
            f"{path} is damaged or was edited after saving, and cannot be loaded "
            f"({type(e).__name__}: {e}). Refused; ask the sender for the original "
            "model, or save it again."
        ) from e
    _place(reader.estimators, device)
    logger.info("Loaded %s from %s", type(model).__name__, path)
    return (model, metadata) if return_metadata else model


def _place(estimators: list, device: str | None) -> None:
    """Set the ``device`` of every loaded skmedtl estimator that has one."""
    if device is None:
        return
    from ..utils._devices import resolve_device

    resolve_device(device)
    for est in estimators:
        if "device" in est.get_params(deep=False):
            est.set_params(device=device)
