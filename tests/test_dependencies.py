"""pyproject.toml declares every third-party import, each with a tested floor.

``.ci/run`` installs the floors (``.ci/min_constraints.py``) and runs the tests;
this checks that the list it works from is complete.
"""

from __future__ import annotations

import ast
import importlib.util
import re
import sys
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

#: Import names whose distribution is named differently.
DISTRIBUTIONS = {
    "sklearn": "scikit-learn",
    "PIL": "pillow",
    "yaml": "pyyaml",
    "distributed": "dask",
    "skimage": "scikit-image",
    "open_clip": "open-clip-torch",
    "pytorch_grad_cam": "grad-cam",
}


@pytest.fixture(scope="module")
def ci_script():
    spec = importlib.util.spec_from_file_location(
        "min_constraints", ROOT / ".ci" / "min_constraints.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _name(requirement: str) -> str:
    return re.match(r"[A-Za-z0-9_.\-]+", requirement).group().lower().replace("_", "-")


def _declared() -> tuple[set[str], set[str]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = {_name(r) for r in project["dependencies"]}
    extras = {
        _name(r)
        for reqs in project["optional-dependencies"].values()
        for r in reqs
        if not r.startswith("skmedtl")
    }
    return core, extras


def _imports() -> dict[str, bool]:
    """Third-party top-level modules imported by skmedtl -> imported at module level."""
    found: dict[str, bool] = {}
    stdlib = set(sys.stdlib_module_names)
    for file in (ROOT / "skmedtl").rglob("*.py"):
        tree = ast.parse(file.read_text(), str(file))
        top = {id(node) for node in tree.body}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module]
            else:
                continue
            for name in names:
                root = name.split(".")[0]
                if root in stdlib or root in ("skmedtl", "__future__"):
                    continue
                found[root] = found.get(root, False) or id(node) in top
    return found


def test_every_import_is_declared():
    core, extras = _declared()
    missing, optional_at_top = [], []
    for module, at_top in sorted(_imports().items()):
        dist = DISTRIBUTIONS.get(module, module).lower().replace("_", "-")
        if dist not in core | extras:
            missing.append(f"{module} ({dist})")
        elif at_top and dist not in core:
            optional_at_top.append(module)
    assert not missing, f"imported but not declared in pyproject.toml: {missing}"
    assert not optional_at_top, (
        f"optional dependencies imported at module level: {optional_at_top}"
    )


def test_known_floors():
    """The floors the code needs (see the comments in pyproject.toml)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    floors = {}
    for r in project["dependencies"]:
        m = re.match(r"([A-Za-z0-9_.\-]+)\s*>=\s*([0-9.]+)", r)
        assert m, f"{r!r} has no '>=' floor"
        floors[_name(m.group(1))] = tuple(int(p) for p in m.group(2).split("."))
    # validate_data and __sklearn_tags__ appeared in scikit-learn 1.6
    assert floors["scikit-learn"] >= (1, 6)
    assert {"scipy", "huggingface-hub", "joblib", "skops"} <= set(floors)


def test_min_constraints(ci_script, tmp_path):
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        '[project]\nname = "x"\ndependencies = ["numpy>=1.24", '
        '"scikit-learn >= 1.6", "dask[distributed]>=2024.1"]\n'
    )
    assert ci_script.min_constraints(pyproject) == [
        "numpy==1.24",
        "scikit-learn==1.6",
        "dask==2024.1",
    ]
    pyproject.write_text('[project]\nname = "x"\ndependencies = ["numpy"]\n')
    with pytest.raises(SystemExit, match="declares no minimum"):
        ci_script.min_constraints(pyproject)
    assert ci_script.min_constraints(ROOT / "pyproject.toml")


def test_check_installed(ci_script):
    assert ci_script._release("2.14.1+cu130") == (2, 14, 1)
    assert ci_script._release("1.24") == ci_script._release("1.24.0")
    numpy = metadata.version("numpy")
    assert ci_script.check_installed([f"numpy=={numpy}"]) == []
    assert ci_script.check_installed(["numpy==0.1"]) != []
    assert "not installed" in ci_script.check_installed(["no-such-dist==1"])[0]
