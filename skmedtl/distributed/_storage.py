"""What the workers of a cluster can read: a shared file system, or nothing.

A study on a cluster works either way:

- **Shared file system** (the workers see the driver's files at the same paths,
  as on most SLURM clusters): image files are passed as paths and decoded by the
  workers; the embedding cache is one file that every process opens under its
  lock protocol.
- **No shared storage** (a Kubernetes namespace without a shared volume):
  images are decoded by the driver and travel to the workers as task data, with
  the embeddings; workers open no cache file (embeddings are the same without
  it).

:func:`shared_storage` finds out which: the driver writes a small file with a
random token, and every worker is asked to read it back.
"""

from __future__ import annotations

import logging
import os
import uuid
from pathlib import Path

import numpy as np

__all__ = ["in_memory", "shared_storage"]

logger = logging.getLogger(__name__)


def _read_token(path: str) -> str | None:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError:
        return None


def shared_storage(client, directory: str | os.PathLike) -> bool:
    """Whether every worker reads the files this process writes in ``directory``.

    Parameters
    ----------
    client : distributed.Client
    directory : path
        A folder this process writes (a study's ``out_dir``).

    Returns
    -------
    bool
        ``True`` when every worker read back the token this process wrote
        there; ``True`` also for a cluster without workers yet (nothing can be
        asked; the workers an adaptive cluster starts usually share the file
        system of its jobs), with a logged note.
    """
    token = uuid.uuid4().hex
    path = Path(directory).resolve() / f".skmedtl-probe-{token[:12]}"
    path.write_text(token, encoding="utf-8")
    try:
        answers = client.run(_read_token, os.fspath(path))
    finally:
        path.unlink(missing_ok=True)
    if not answers:
        logger.info(
            "The Dask cluster has no workers yet: assuming they share this "
            "file system (%s).",
            directory,
        )
        return True
    blind = sorted(w for w, got in answers.items() if got != token)
    if blind:
        logger.info(
            "%d of %d Dask worker(s) cannot read %s (%s): no shared file system; "
            "images and embeddings travel to the workers as task data.",
            len(blind),
            len(answers),
            directory,
            ", ".join(blind[:3]) + (", ..." if len(blind) > 3 else ""),
        )
    return not blind


def in_memory(images):
    """``images`` with files decoded here, so they can travel as task data.

    Arrays are returned as they are; a list holding file paths becomes a list
    of the decoded arrays (decoded as every estimator decodes them).
    """
    if isinstance(images, np.ndarray):
        return images
    from ..io._sequence import ImageSequence

    sequence = ImageSequence(images)
    if sequence.kind != "paths":
        return images
    return [sequence[i] for i in range(len(sequence))]
