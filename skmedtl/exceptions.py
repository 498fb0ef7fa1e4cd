"""Exceptions raised by skmedtl.

They inherit from the built-in (and scikit-learn) exceptions users already catch.
"""

from __future__ import annotations

from sklearn.exceptions import NotFittedError

__all__ = ["NotFittedError", "WeightsUnavailableError", "UnknownBackboneError"]


class WeightsUnavailableError(RuntimeError):
    """Pretrained weights are neither cached locally nor downloadable."""


class UnknownBackboneError(ValueError, KeyError):
    """A backbone name that the registry does not know."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""
