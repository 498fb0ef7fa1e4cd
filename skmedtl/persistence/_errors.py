"""The errors of saving and loading models (defined in :mod:`skmedtl.exceptions`)."""

from __future__ import annotations

from ..exceptions import UnsafeModelError

__all__ = ["UnsafeModelError"]
