"""Runtime state, declared once per estimator, kept out of pickles and saved models.

An estimator lists on its class

- ``_transient_attributes``: attribute -> the value it has before first use
  (a device copy of a network, an inference engine); never pickled nor saved,
  reset to that value on load, rebuilt on use;
- ``_derived_attributes``: attributes recomputed from the others after loading
  (a registry entry looked up again by name).

Its ``__getstate__`` (:func:`persistent_state`) and the persistence registry
(:mod:`skmedtl.persistence`) both read these two declarations, so the list of
runtime state exists once.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["derived_attributes", "persistent_state", "transient_attributes"]


def transient_attributes(cls: type) -> Mapping[str, object]:
    """``cls``'s transient attributes and their initial values."""
    return dict(getattr(cls, "_transient_attributes", {}))


def derived_attributes(cls: type) -> tuple[str, ...]:
    """``cls``'s attributes recomputed after loading."""
    return tuple(getattr(cls, "_derived_attributes", ()))


def persistent_state(estimator) -> dict:
    """A copy of ``estimator.__dict__`` without its transient and derived state."""
    cls = type(estimator)
    drop = {*transient_attributes(cls), *derived_attributes(cls)}
    return {k: v for k, v in estimator.__dict__.items() if k not in drop}
