"""Print pip constraints pinning every core dependency to its declared minimum.

``pyproject.toml``'s ``[project] dependencies`` say ``name>=floor``; this prints
``name==floor`` for each, so that ``pip install -c min-constraints.txt -e .``
installs the oldest versions skmedtl claims to support (the way scikit-learn
tests its minimum dependencies). A dependency without a ``>=`` floor is an error:
every core dependency must declare one.

Usage: ``python .ci/min_constraints.py [pyproject.toml] > min-constraints.txt``;
``python .ci/min_constraints.py --check [pyproject.toml]`` then fails unless the
running environment holds exactly those versions (a local label such as
``+cpu`` aside).
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


def _release(version: str) -> tuple[int, ...]:
    """``"2.14.1+cu130"`` -> ``(2, 14, 1)``; trailing zeros dropped."""
    parts = []
    for part in version.split("+")[0].split("."):
        digits = re.match(r"\d+", part)
        if digits is None:
            break
        parts.append(int(digits.group()))
    while parts and parts[-1] == 0:
        parts.pop()
    return tuple(parts)


def check_installed(pins: list[str]) -> list[str]:
    """The pins the running environment does not satisfy exactly."""
    from importlib import metadata

    wrong = []
    for pin in pins:
        name, floor = pin.split("==")
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            wrong.append(f"{name}: not installed (wanted {floor})")
            continue
        if _release(installed) != _release(floor):
            wrong.append(f"{name}: {installed} installed, floor is {floor}")
    return wrong


if __name__ == "__main__":
    args = sys.argv[1:]
    check = "--check" in args
    args = [a for a in args if a != "--check"]
    pins = min_constraints(Path(args[0] if args else "pyproject.toml"))
    if not check:
        print("\n".join(pins))
    else:
        wrong = check_installed(pins)
        if wrong:
            raise SystemExit("Not the declared minimum versions:\n" + "\n".join(wrong))
        print(f"All {len(pins)} core dependencies at their declared minimum.")
