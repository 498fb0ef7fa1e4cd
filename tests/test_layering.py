"""The package's imports point down the layers, and no modules import each other.

Walks the source of every module (AST only: nothing is imported), so a new
back-edge or cycle fails here before it becomes an import-order bug.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "skmedtl"

#: Layers, lowest first (DESIGN.md): a module may import its own layer's
#: package and lower layers only. Packages beside the main chain sit where their
#: own imports put them.
LAYERS = [
    {"_constants", "exceptions", "utils"},
    {"io", "metrics", "model_selection"},
    {"backbones", "datasets"},
    {"cache"},
    {"features"},
    {"hybrid", "finetune", "explain", "distributed"},
    {"study", "_demo", "persistence"},
    {"cli", "__main__"},
]
#: Optional add-ons a lower layer may reach through a function-level import.
OPTIONAL_ADDONS = {"distributed"}
#: Cycles tolerated for now: none (the backbone registry's cycle with _timm is
#: gone since name schemes resolve through a prefix table).
KNOWN_CYCLES: set[frozenset[str]] = set()


def _layer(package: str) -> int:
    for i, names in enumerate(LAYERS):
        if package in names:
            return i
    raise AssertionError(f"skmedtl.{package} has no layer: add it to LAYERS.")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def _imports(name: str, path: Path):
    """``(target module, line, module_level)`` for each skmedtl import."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    function_level = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            function_level.update(id(n) for n in ast.walk(node) if n is not node)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            # "from . import x" imports the submodule x when there is one
            targets = [f"{module}.{a.name}" for a in node.names]
        else:
            continue
        for target in targets:
            if target == "skmedtl" or target.startswith("skmedtl."):
                yield target, node.lineno, id(node) not in function_level


def _type_checking_lines(path: Path) -> set[int]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    lines = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            lines.update(n.lineno for n in ast.walk(node) if hasattr(n, "lineno"))
    return lines


def _graph():
    modules = _modules()
    edges = {}  # module -> {imported module: (line, module_level)}
    for name, path in modules.items():
        skip = _type_checking_lines(path)
        out = {}
        for target, line, module_level in _imports(name, path):
            if line in skip:
                continue
            # the longest known module the target names ("pkg.name" -> "pkg")
            while target not in modules and "." in target:
                target = target.rpartition(".")[0]
            if target in modules and target != name:
                out.setdefault(target, (line, module_level))
        edges[name] = out
    return modules, edges


def _package(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def test_every_package_has_a_layer():
    for module in _modules():
        package = _package(module)
        if package is not None:
            _layer(package)


def test_no_import_points_up_a_layer():
    _, edges = _graph()
    wrong = []
    for module, targets in edges.items():
        source = _package(module)
        if source is None:  # skmedtl/__init__.py: the lazy public API
            continue
        for target, (line, module_level) in targets.items():
            package = _package(target)
            if package is None or _layer(package) <= _layer(source):
                continue
            if not module_level and package in OPTIONAL_ADDONS:
                continue
            where = "module level" if module_level else "in a function"
            wrong.append(f"{module}:{line} imports {target} ({where})")
    assert not wrong, "Imports from a higher layer:\n" + "\n".join(wrong)


def test_io_does_not_import_features():
    _, edges = _graph()
    bad = [
        f"{m} -> {t}"
        for m, targets in edges.items()
        if _package(m) == "io"
        for t in targets
        if _package(t) not in ("io", "utils", "_constants", "exceptions")
    ]
    assert not bad


def test_no_import_cycles_between_modules():
    _, edges = _graph()
    # Module-level edges, and function-level ones inside a package (a deferred
    # import that only hides a cycle); a function-level import of an optional
    # add-on from a lower layer is the one allowed way up.
    graph = {
        m: [
            t
            for t, (_, module_level) in targets.items()
            if module_level or _package(t) == _package(m)
        ]
        for m, targets in edges.items()
    }
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in graph.get(node, ()):
            if state.get(nxt) == 1:
                cycle = stack[stack.index(nxt) :]
                if frozenset(cycle) not in KNOWN_CYCLES:
                    cycles.append(" -> ".join([*cycle, nxt]))
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert not cycles, "Import cycles:\n" + "\n".join(cycles)


def test_constants_are_torch_free():
    tree = ast.parse((ROOT / "_constants.py").read_text(encoding="utf-8"))
    imported = {
        a.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for a in node.names
    } | {
        (node.module or "").split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
    }
    assert imported <= {"__future__"}
