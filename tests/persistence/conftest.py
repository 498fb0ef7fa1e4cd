"""The small saved hybrid of ``tests/_helpers.py`` (fixtures ``data``, ``hybrid``,
``saved``), shared with ``tests/security``."""

from __future__ import annotations

from tests._helpers import data, hybrid, saved  # noqa: F401  (the fixtures)
