"""The errors of saving and loading models."""

from __future__ import annotations

__all__ = ["UnsafeModelError"]


class UnsafeModelError(ValueError):
    """A saved model that :func:`skmedtl.load` refuses to load.

    Raised for an unknown or tampered manifest, files whose content does not match
    their digest, and types that are not on the allowlist (loading them could run
    arbitrary code). A subclass of ``ValueError``.
    """
