"""The one model loader of the commands: saved-model folders, pickle by consent."""

from __future__ import annotations

import logging
from pathlib import Path

from ._errors import UnsafeModelError

__all__ = ["load_model"]

logger = logging.getLogger(__name__)

#: The risk of a pickle file, in one sentence (every refusal and warning says it).
PICKLE_RISK = (
    "unpickling runs whatever code the file's author put in it, with your "
    "permissions, before any check can happen"
)


def load_model(
    path,
    *,
    allow_pickle: bool = False,
    device: str | None = None,
    name: str = "path",
    consent: str = "allow_pickle=True",
):
    """Load a model for a command: a :func:`skmedtl.save` folder, or with explicit
    consent a pickle / joblib file.

    Parameters
    ----------
    path : str or path-like
        A folder written by :func:`skmedtl.save` (a study's ``DIR/model``), or a
        pickle / joblib file when ``allow_pickle``.
    allow_pickle : bool, default=False
        The user's consent to unpickle a file (it can run any code).
    device : str, optional
        As in :func:`skmedtl.load`.
    name, consent : str
        How the caller spells ``path`` and ``allow_pickle=True`` (the command
        line: ``"--model"``, ``"--allow-pickle"``), for the messages.

    Returns
    -------
    model : estimator
    metadata : dict
        The saved metadata (empty for a pickle file).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    UnsafeModelError
        For a file without ``allow_pickle``, and whatever :func:`skmedtl.load`
        refuses.
    """
    from ._api import load

    path = Path(path)
    if not (path.exists() or path.is_symlink()):
        raise FileNotFoundError(
            f"{name} {path}: no such folder. Give the folder that skmedtl.save "
            "wrote (a study's DIR/model)."
        )
    if path.is_dir():
        try:
            return load(path, return_metadata=True, device=device)
        except (UnsafeModelError, FileNotFoundError) as e:
            if name == "path":
                raise
            raise type(e)(f"{name} {path}: {e}") from e
    if not allow_pickle:
        raise UnsafeModelError(
            f"{name} {path} is a file, not a saved-model folder; it is refused "
            f"because {PICKLE_RISK}. Give a folder written by skmedtl.save (a "
            f"study's DIR/model), or add {consent} if you trust this file as you "
            "would a program."
        )
    logger.warning("Unpickling %s (%s consent given): %s.", path, consent, PICKLE_RISK)
    import joblib

    try:
        model = joblib.load(path)
    except Exception as e:  # not a pickle, or classes missing here
        raise ValueError(
            f"{name} {path}: could not load a pickle or joblib file from it ({e})."
        ) from e
    if device is not None and hasattr(model, "set_params"):
        from ..utils._devices import resolve_device

        resolve_device(device)
        if "device" in model.get_params(deep=False):
            model.set_params(device=device)
    return model, {}
