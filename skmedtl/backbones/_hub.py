"""Downloads: whether the network may be used, and files of Hugging Face hub
repositories (the local cache first, then the hub).

The cache layout is huggingface_hub's (``$HF_HUB_CACHE``, else
``$HF_HOME/hub``, else ``~/.cache/huggingface/hub``)::

    models--<org>--<name>/refs/main                  (the revision: a commit hash)
    models--<org>--<name>/snapshots/<hash>/<file>

Everything found in the cache is used without touching the network (not even
the revision check ``hf_hub_download`` makes), so a machine without network
works as soon as the files are there. A file that is missing is downloaded only
when the hub answers within seconds and ``SKMEDTL_OFFLINE`` / ``HF_HUB_OFFLINE``
are unset; otherwise :class:`~skmedtl.exceptions.WeightsUnavailableError` says
which file of which repository to put where.
"""

from __future__ import annotations

import json
import logging
import os
import socket
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlparse

from ..exceptions import WeightsUnavailableError

logger = logging.getLogger(__name__)

HUB_URL = "https://huggingface.co"

# -- the network -------------------------------------------------------------------
_CONNECT_TIMEOUT_S = 3.0


def is_offline() -> bool:
    """True when the environment asks for no network access at all."""
    flags = (
        os.environ.get("SKMEDTL_OFFLINE", ""),
        os.environ.get("HF_HUB_OFFLINE", ""),
    )
    return any(f.strip().lower() in {"1", "true", "yes", "on"} for f in flags)


def _can_reach(url: str) -> bool:
    if is_offline():
        return False
    host = urlparse(url).hostname
    if not host:
        return False
    try:
        socket.create_connection((host, 443), timeout=_CONNECT_TIMEOUT_S).close()
    except OSError:
        return False
    return True


def torch_hub_checkpoint(url: str) -> Path:
    """Where torch hub caches the file at ``url`` (honours ``$TORCH_HOME``)."""
    import torch

    return (
        Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(urlparse(url).path)
    )


def hub_cache_dir() -> Path:
    """The Hugging Face hub cache directory, read from the environment now."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join("~", ".cache"), "huggingface"
    )
    return Path(home).expanduser() / "hub"


def repo_cache_dir(repo_id: str) -> Path:
    """``<cache>/models--<org>--<name>``."""
    return hub_cache_dir() / ("models--" + repo_id.replace("/", "--"))


def cached_file(repo_id: str, filename: str, revision: str = "main") -> Path | None:
    """The cached ``filename`` of ``repo_id`` at ``revision``, or ``None``."""
    repo = repo_cache_dir(repo_id)
    ref = repo / "refs" / revision
    commit = ref.read_text().strip() if ref.is_file() else revision
    path = repo / "snapshots" / commit / filename
    if path.is_file():
        return path
    # A snapshot without a refs file (copied by hand): any snapshot that has it.
    snapshots = repo / "snapshots"
    if revision == "main" and snapshots.is_dir():
        for snap in sorted(snapshots.iterdir()):
            if (snap / filename).is_file():
                return snap / filename
    return None


def expected_path(repo_id: str, filename: str) -> Path:
    """Where ``filename`` goes in the cache (``<hash>`` stands for the commit)."""
    return repo_cache_dir(repo_id) / "snapshots" / "<commit hash>" / filename


def hub_file(
    repo_id: str,
    filenames: str | Sequence[str],
    *,
    what: str,
    required: bool = True,
) -> Path | None:
    """The first of ``filenames`` of ``repo_id``: cached, else downloaded.

    Parameters
    ----------
    repo_id : str
        ``"<org>/<name>"``.
    filenames : str or sequence of str
        Alternatives, preferred first (``"model.safetensors"``,
        ``"pytorch_model.bin"``).
    what : str
        What the file is, for the error message (``"weights of 'hf:...'"``).
    required : bool, default=True
        ``False`` returns ``None`` (with a warning when the hub cannot be asked)
        instead of raising: for optional files.

    Raises
    ------
    WeightsUnavailableError
        Not cached, and no network (or ``SKMEDTL_OFFLINE=1``).
    """
    names = [filenames] if isinstance(filenames, str) else list(filenames)
    for name in names:
        found = cached_file(repo_id, name)
        if found is not None:
            return found
    if not _can_reach(HUB_URL):
        if not required:  # an optional file: the repository may not have it
            logger.warning(
                "%s of %s is not cached (and the hub is not reachable); going on "
                "without it. Place it at %s if the repository has one.",
                names[0],
                repo_id,
                expected_path(repo_id, names[0]),
            )
            return None
        raise offline_error(repo_id, names, what)
    from huggingface_hub import hf_hub_download
    from huggingface_hub.utils import EntryNotFoundError

    for name in names:
        try:
            logger.info("Downloading %s/%s", repo_id, name)
            return Path(hf_hub_download(repo_id, name, cache_dir=str(hub_cache_dir())))
        except EntryNotFoundError:
            continue
    if required:
        raise WeightsUnavailableError(
            f"The Hugging Face repository {repo_id!r} has none of {names} "
            f"({what}); is it the right repository?"
        )
    return None


def offline_error(
    repo_id: str, filenames: Sequence[str], what: str
) -> WeightsUnavailableError:
    """The error for a hub file that is neither cached nor downloadable."""
    files = " or ".join(repr(f) for f in filenames)
    return WeightsUnavailableError(
        f"Not in the local Hugging Face cache: {what}, and it cannot be downloaded "
        f"(no network, or SKMEDTL_OFFLINE / HF_HUB_OFFLINE is set). Download "
        f"{files} of the repository {repo_id!r} "
        f"({HUB_URL}/{repo_id}) on a machine with internet access, e.g. "
        f"`huggingface-cli download {repo_id}`, and copy its cache folder "
        f"{repo_cache_dir(repo_id)} here, so that the file lies at "
        f"{expected_path(repo_id, filenames[0])} (the cache is $HF_HUB_CACHE, "
        f"else $HF_HOME/hub)."
    )


def read_json(path: Path) -> dict:
    """A JSON file as a dict, with the path in any error."""
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        raise ValueError(f"Could not read {path}: {e}") from e
