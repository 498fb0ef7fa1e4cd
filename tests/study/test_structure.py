"""The study package's shape (issue #27): small modules, short functions.

These are the rules CONTRIBUTING.md states for ``skmedtl/study/``; they fail the
moment a module grows past them, so a split happens when it is due, not later.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

STUDY = Path(__file__).resolve().parents[2] / "skmedtl" / "study"
MAX_MODULE_LINES = 500
MAX_FUNCTION_CODE_LINES = 60
MODULES = sorted(STUDY.glob("*.py"))


def code_lines(function: ast.FunctionDef, lines: list[str]) -> int:
    """Non-blank, non-comment lines of ``function``'s body after its docstring."""
    body = function.body
    first = body[0]
    has_doc = (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    )
    start = first.end_lineno + 1 if has_doc else first.lineno
    text = lines[start - 1 : function.end_lineno]
    return sum(1 for line in text if line.strip() and not line.strip().startswith("#"))


def test_code_lines_counts_code_not_docstrings_or_comments():
    source = (
        'def f():\n    """Doc.\n\n    More.\n    """\n'
        "    # why\n    a = 1\n\n    return a\n"
    )
    (function,) = ast.parse(source).body
    assert code_lines(function, source.splitlines()) == 2


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_module_is_at_most_500_lines(path):
    n = len(path.read_text().splitlines())
    assert n <= MAX_MODULE_LINES, f"{path.name} has {n} lines: split it by concept"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_functions_are_at_most_60_code_lines(path):
    text = path.read_text()
    lines = text.splitlines()
    long = [
        f"{node.name} ({code_lines(node, lines)})"
        for node in ast.walk(ast.parse(text))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        and code_lines(node, lines) > MAX_FUNCTION_CODE_LINES
    ]
    assert not long, f"{path.name}: functions over 60 code lines: {long}"
