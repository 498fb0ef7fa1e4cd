"""Validating lists of image files up front, before they enter a Pipeline."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

import numpy as np

from ._errors import ImageReadError, SkippedFile, check_on_error, warn_skipped
from ._readers import check_file, get_reader, read_image

__all__ = ["check_images", "check_paths"]

logger = logging.getLogger(__name__)


def check_paths(X, name: str = "X") -> list[str]:
    """``X`` as a list of path strings, or a ``TypeError`` / ``ValueError``."""
    if isinstance(X, (str, os.PathLike)):
        raise TypeError(
            f"{name} is a single path ({os.fspath(X)!r}); pass a list of paths, "
            f"e.g. [{os.fspath(X)!r}]."
        )
    if hasattr(X, "to_numpy") and not isinstance(X, np.ndarray):  # pandas
        X = X.to_numpy()
    if isinstance(X, np.ndarray) and X.dtype.kind in "biuf":
        raise TypeError(
            f"{name} is a numeric array of shape {X.shape}; this step reads image "
            "files and expects a list of paths. Arrays already in memory can go "
            "straight to CNNFeatures (or through skmedtl.io.scale_intensity)."
        )
    try:
        items = list(np.ravel(X) if isinstance(X, np.ndarray) else X)
    except TypeError as e:
        raise TypeError(f"{name} must be a list of file paths; got {type(X)}.") from e
    bad = next(
        ((i, x) for i, x in enumerate(items) if not isinstance(x, (str, os.PathLike))),
        None,
    )
    if bad is not None:
        raise TypeError(
            f"{name}[{bad[0]}] is {type(bad[1]).__name__}, not a file path; "
            f"{name} must be a list of paths (str or pathlib.Path)."
        )
    if not items:
        raise ValueError(f"{name} is empty: at least one image path is needed.")
    return [os.fspath(x) for x in items]


def _check_length(values, n: int, what: str):
    if values is None:
        return None
    values = np.asarray(values)
    if values.ndim == 0 or len(values) != n:
        length = "a scalar" if values.ndim == 0 else f"{len(values)} {what}"
        raise ValueError(
            f"There are {n} images but {length}: images and {what} must have the "
            f"same length (one {what[:-1]} per image, in the same order)."
        )
    return values


def check_images(
    paths: Sequence[str | os.PathLike],
    labels=None,
    groups=None,
    *,
    on_error: str = "raise",
    decode: bool = True,
    n_jobs: int | None = None,
) -> tuple[list[str], np.ndarray | None, np.ndarray | None, list[SkippedFile]]:
    """Check that every file is a readable image, before fitting anything.

    Use it on a list of paths before a Pipeline that starts with
    :class:`~skmedtl.io.ImageLoader`: a transformer inside a Pipeline cannot drop
    rows (``y`` would no longer line up), so bad files are dealt with here, where
    ``labels`` and ``groups`` are filtered together with the paths.

    Parameters
    ----------
    paths : sequence of str or path-like
        The image files.
    labels, groups : array-like of shape (n,), optional
        Targets and group ids (patients) aligned with ``paths``; filtered with
        them. A length mismatch is always an error.
    on_error : {"raise", "skip"}, default="raise"
        ``"raise"``: the first bad file raises its error (naming the file).
        ``"skip"``: bad files are left out, with one :class:`SkippedImagesWarning`
        and a :class:`SkippedFile` record each. A missing optional dependency
        (``ImportError``) always raises: it is not a property of the file.
    decode : bool, default=True
        Decode every image (the only way to catch truncated files). ``False``
        only checks that files exist, are not empty and have a known format.
    n_jobs : int, optional
        Threads used to decode (``None``: 1, ``-1``: all cores).

    Returns
    -------
    paths : list of str
        The readable files, in input order.
    labels, groups : ndarray or None
        Filtered the same way (``None`` when not given).
    skipped : list of SkippedFile
        What was left out and why (empty with ``on_error="raise"``).

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from pathlib import Path
    >>> from skmedtl.io import check_images
    >>> workdir = tempfile.TemporaryDirectory()
    >>> tmp = Path(workdir.name)
    >>> np.save(tmp / "a.npy", np.zeros((8, 8), dtype=np.uint8))
    >>> _ = (tmp / "b.png").write_text("not an image")
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     paths, y, _, skipped = check_images(
    ...         [tmp / "a.npy", tmp / "b.png"], [0, 1], on_error="skip")
    >>> [Path(p).name for p in paths], y.tolist(), Path(skipped[0].path).name
    (['a.npy'], [0], 'b.png')
    >>> workdir.cleanup()
    """
    check_on_error(on_error)
    paths = check_paths(paths, "paths")
    labels = _check_length(labels, len(paths), "labels")
    groups = _check_length(groups, len(paths), "groups")

    skipped = find_unreadable(paths, on_error=on_error, decode=decode, n_jobs=n_jobs)
    if not skipped:
        return paths, labels, groups, []
    warn_skipped(skipped, len(paths), "check_images", stacklevel=3)
    for s in skipped:
        logger.info("Skipped %s", s)
    keep = np.ones(len(paths), dtype=bool)
    keep[[s.index for s in skipped]] = False
    if not keep.any():
        raise ValueError(
            f"None of the {len(paths)} files is a readable image; the first: "
            f"{skipped[0]}"
        )
    kept = [p for p, k in zip(paths, keep, strict=True) if k]
    return (
        kept,
        None if labels is None else labels[keep],
        None if groups is None else groups[keep],
        skipped,
    )


def find_unreadable(
    paths: list[str], *, on_error: str, decode: bool, n_jobs: int | None
) -> list[SkippedFile]:
    """A :class:`SkippedFile` per unreadable path (``on_error="raise"``: raise)."""

    def check(i: int, path: str) -> SkippedFile | None:
        try:
            if decode:
                read_image(path)
            else:
                check_file(path)
                _check_format(path)
        except (ImageReadError, FileNotFoundError) as e:
            if on_error == "raise":
                raise
            reason = getattr(e, "reason", None) or str(e)
            return SkippedFile(path, reason, i)
        return None

    if n_jobs in (None, 1):
        results = [check(i, p) for i, p in enumerate(paths)]
    else:
        from joblib import Parallel, delayed

        results = Parallel(n_jobs=n_jobs, prefer="threads")(
            delayed(check)(i, p) for i, p in enumerate(paths)
        )
    return [r for r in results if r is not None]


def _check_format(path: str) -> None:
    reader = get_reader(path)
    if reader.name == "pil" and not reader.verify_suffix(path):
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(path):
                pass
        except (UnidentifiedImageError, OSError) as e:
            raise ImageReadError(
                path, "not an image file: its format is not one skmedtl reads."
            ) from e
