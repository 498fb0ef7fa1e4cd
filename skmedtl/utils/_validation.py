"""Parameter checks shared by the estimators and functions."""

from __future__ import annotations

import numbers


def check_int(
    name: str, value, minimum: int | None = None, *, allow_none: bool = False
) -> None:
    """Raise a ``ValueError`` naming ``name`` unless ``value`` is a fitting integer.

    Booleans are refused (``True`` is an ``int`` to Python, never to a user).

    Parameters
    ----------
    name : str
        The parameter, as the user wrote it.
    value : object
    minimum : int, optional
        Smallest allowed value.
    allow_none : bool, default=False
        Accept ``None`` as well.
    """
    if value is None and allow_none:
        return
    if (
        not isinstance(value, numbers.Integral)
        or isinstance(value, bool)
        or (minimum is not None and value < minimum)
    ):
        bound = f" >= {minimum}" if minimum is not None else ""
        none = " or None" if allow_none else ""
        raise ValueError(f"{name} must be an integer{bound}{none}; got {value!r}.")
