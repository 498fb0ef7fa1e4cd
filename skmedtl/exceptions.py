"""Exceptions raised by skmedtl.

They inherit from the built-in (and scikit-learn) exceptions users already catch.
"""

from __future__ import annotations

from sklearn.exceptions import NotFittedError

__all__ = [
    "NotFittedError",
    "UnknownBackboneError",
    "UnsafeModelError",
    "WeightsUnavailableError",
]


class WeightsUnavailableError(RuntimeError):
    """Pretrained weights are neither cached locally nor downloadable."""


class UnknownBackboneError(ValueError, KeyError):
    """A backbone name that the registry does not know."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class UnsafeModelError(ValueError):
    """A model that skmedtl refuses to load, because loading it could run code.

    Raised by :func:`skmedtl.load` for an unknown or tampered manifest, files
    whose content does not match their digest, damaged files and types outside
    the allowlist; by the command line for a pickle file given without
    ``--allow-pickle``; and for a ``hf:`` backbone whose configuration asks to
    run Python files it ships (``auto_map``). A subclass of ``ValueError``.
    """
