"""The manifest of a saved model: format, versions and a content digest.

``manifest.json`` names the format and its version, the skmedtl and package
versions that wrote the directory, and the SHA-256 of every file in it; its
``digest`` is the SHA-256 of that file list. Loading checks all of them before
reading anything else, so a file changed, added or removed after saving is
refused. The digest detects accidents and tampering by anyone who does not also
rewrite the manifest: it is an integrity check, not a signature (compare it
with the digest the sender announced to authenticate a model).
"""

from __future__ import annotations

import hashlib
import json
import logging
import platform
from datetime import datetime, timezone
from importlib import metadata as importlib_metadata
from pathlib import Path

from ._errors import UnsafeModelError

__all__ = ["FORMAT", "FORMAT_VERSION", "make_manifest", "read_manifest"]

logger = logging.getLogger(__name__)

FORMAT = "skmedtl-model"
#: Bump when a directory written now could not be read by older code.
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
#: Distributions whose versions are recorded (and compared on load).
PACKAGES = (
    "numpy",
    "scikit-learn",
    "torch",
    "torchvision",
    "timm",
    "safetensors",
    "skops",
    "xgboost",
)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def files_digest(files: dict[str, str]) -> str:
    """SHA-256 of the ``{path: sha256}`` map, in a canonical JSON form."""
    return sha256(json.dumps(files, sort_keys=True, separators=(",", ":")).encode())


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            continue
    return versions


def make_manifest(files: dict[str, bytes], estimator: str) -> dict:
    """The manifest of a directory holding ``files``."""
    from .. import __version__

    hashes = {name: sha256(data) for name, data in sorted(files.items())}
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "skmedtl_version": __version__,
        "estimator": estimator,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "packages": package_versions(),
        "files": hashes,
        "digest": files_digest(hashes),
    }


def read_manifest(path) -> dict:
    """Read and check the manifest of a saved model directory.

    Parameters
    ----------
    path : str or path-like
        A directory written by :func:`skmedtl.save`.

    Returns
    -------
    dict
        ``format``, ``format_version``, ``skmedtl_version``, ``estimator``,
        ``created``, ``packages``, ``files`` (SHA-256 per file) and ``digest``.

    Raises
    ------
    UnsafeModelError
        If the manifest is missing, of an unknown format or version, or does
        not match its own digest.
    """
    path = Path(path)
    file = path / MANIFEST
    if not path.exists():
        raise FileNotFoundError(
            f"No saved model at {path}: it does not exist. Give the folder that "
            "skmedtl.save(model, path) (or `skmedtl study`, as DIR/model) wrote."
        )
    if path.is_file():
        raise FileNotFoundError(
            f"{path} is a file; a saved skmedtl model is the folder that "
            f"skmedtl.save(model, path) wrote"
            + (f" ({path.parent})." if path.name == MANIFEST else ".")
        )
    if not file.is_file():
        raise FileNotFoundError(
            f"{path} is not a saved skmedtl model: no {MANIFEST} in it. Save one "
            "with skmedtl.save(model, path)."
        )
    try:
        manifest = json.loads(file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise UnsafeModelError(f"{file} is not valid JSON: {e}") from e
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise UnsafeModelError(
            f"{file} is not a skmedtl model manifest (format "
            f"{manifest.get('format') if isinstance(manifest, dict) else None!r}, "
            f"expected {FORMAT!r})."
        )
    version = manifest.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise UnsafeModelError(f"{file}: format_version {version!r} is not an integer.")
    if version > FORMAT_VERSION:
        raise UnsafeModelError(
            f"{path} was saved in format version {version} by skmedtl "
            f"{manifest.get('skmedtl_version')}; this skmedtl reads up to version "
            f"{FORMAT_VERSION}. Upgrade skmedtl: pip install -U skmedtl"
        )
    if version < 1:
        raise UnsafeModelError(f"{file}: unknown format_version {version}.")
    files = manifest.get("files")
    if not isinstance(files, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in files.items()
    ):
        raise UnsafeModelError(f"{file}: 'files' must map file names to SHA-256.")
    if manifest.get("digest") != files_digest(files):
        raise UnsafeModelError(
            f"{file}: the digest does not match the file list: the manifest was "
            "edited after saving. Refused; ask the sender for the original model."
        )
    return manifest


def read_files(path, manifest: dict) -> dict[str, bytes]:
    """The directory's files, each checked against its SHA-256 in the manifest."""
    path = Path(path).resolve()
    present = {
        p.relative_to(path).as_posix()
        for p in path.rglob("*")
        if p.is_file() or p.is_symlink()
    } - {MANIFEST}
    expected = set(manifest["files"])
    if present != expected:
        extra, missing = sorted(present - expected), sorted(expected - present)
        raise UnsafeModelError(
            f"{path} does not hold the files its manifest lists (unexpected: "
            f"{extra}, missing: {missing}). Refused; ask the sender for the "
            "original model."
        )
    out = {}
    for name in sorted(expected):
        file = path / name
        if file.is_symlink() or path not in file.resolve().parents:
            raise UnsafeModelError(f"{file}: links are refused in a saved model.")
        data = file.read_bytes()
        if sha256(data) != manifest["files"][name]:
            raise UnsafeModelError(
                f"{file} changed after saving: its SHA-256 does not match the "
                "manifest. Refused; ask the sender for the original model."
            )
        out[name] = data
    return out


def compare_versions(manifest: dict) -> None:
    """Log a warning for every package whose version differs from the saver's."""
    here = package_versions()
    for name, saved in manifest.get("packages", {}).items():
        if name in here and here[name] != saved:
            logger.warning(
                "Model saved with %s %s; loading with %s. Predictions may differ "
                "slightly.",
                name,
                saved,
                here[name],
            )
