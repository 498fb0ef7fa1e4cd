"""Errors, warnings and skip records of :mod:`skmedtl.io`."""

from __future__ import annotations

import os
from dataclasses import dataclass

from .._constants import ON_ERROR
from ..utils._validation import StrOptions, validate_params

__all__ = ["ImageReadError", "SkippedFile", "SkippedImagesWarning"]


class ImageReadError(ValueError):
    """A file that cannot be read as an image.

    The message always names the file and the problem. A :class:`ValueError`,
    so code catching ``ValueError`` keeps working.

    Parameters
    ----------
    path : str or path-like
        The file.
    reason : str
        What is wrong with it, and where possible how to fix it.

    Attributes
    ----------
    path : str
    reason : str
    """

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path = os.fspath(path)
        self.reason = reason
        super().__init__(f"Cannot read {self.path}: {reason}")

    def __reduce__(self):
        return (type(self), (self.path, self.reason))


class SkippedImagesWarning(UserWarning):
    """Some files were skipped because of ``on_error="skip"``."""


@dataclass(frozen=True)
class SkippedFile:
    """A file, or a class folder, left out because of ``on_error="skip"``.

    Attributes
    ----------
    path : str
        The file (or folder) that was left out.
    reason : str
        Why, as the error would have said it.
    index : int or None
        Its position in the input list, where there was one.
    """

    path: str
    reason: str
    index: int | None = None

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


def check_on_error(on_error: str) -> str:
    """Validate an ``on_error`` parameter."""
    validate_params({"on_error": on_error}, {"on_error": [StrOptions(ON_ERROR)]})
    return on_error


def warn_skipped(skipped: list[SkippedFile], total: int, where: str, stacklevel=3):
    """One warning that lists what was skipped (the first few in full)."""
    import warnings

    if not skipped:
        return
    shown = "; ".join(str(s).rstrip(".") for s in skipped[:3])
    more = f"; and {len(skipped) - 3} more" if len(skipped) > 3 else ""
    warnings.warn(
        f"{where}: skipped {len(skipped)} of {total} because of on_error='skip': "
        f"{shown}{more}. The full list is in the returned `skipped` record.",
        SkippedImagesWarning,
        stacklevel=stacklevel,
    )
