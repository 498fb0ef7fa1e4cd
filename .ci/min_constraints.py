"""Print pip constraints pinning every core dependency to its declared minimum.

``pyproject.toml``'s ``[project] dependencies`` say ``name>=floor``; this prints
``name==floor`` for each, so that ``pip install -c min-constraints.txt -e .``
installs the oldest versions skmedtl claims to support (the way scikit-learn
tests its minimum dependencies). A dependency without a ``>=`` floor is an error:
every core dependency must declare one.

Usage: ``python .ci/min_constraints.py [pyproject.toml] > min-constraints.txt``
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

_FLOOR = re.compile(r"^\s*([A-Za-z0-9_.\-]+)(\[[^\]]*\])?\s*>=\s*([0-9][^,;\s]*)")


def min_constraints(pyproject: Path) -> list[str]:
    """``name==floor`` for every core dependency of ``pyproject``."""
    project = tomllib.loads(pyproject.read_text())["project"]
    pins = []
    for requirement in project["dependencies"]:
        match = _FLOOR.match(requirement)
        if match is None:
            raise SystemExit(
                f"{pyproject}: dependency {requirement!r} declares no minimum "
                "version; write it as 'name>=floor'."
            )
        pins.append(f"{match.group(1)}=={match.group(3)}")
    return pins


if __name__ == "__main__":
    path = Path(sys.argv[1] if len(sys.argv) > 1 else "pyproject.toml")
    print("\n".join(min_constraints(path)))
