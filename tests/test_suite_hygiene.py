"""Tests that cannot fail are worse than none: keep out the patterns that made some.

Read with `ast`, so comments and strings never trigger it: `or True` in a condition, an
`except …: pass` inside a test function, an `assert` on a literal (always true, or never),
and a skip taken from inside a test function (a skip belongs in a fixture that needs a
missing service, where `PLEDGE_REQUIRE_SERVICES=1` turns it into a failure).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

TESTS = Path(__file__).parent
_LITERALS = (ast.Constant, ast.Tuple, ast.List, ast.Dict, ast.Set, ast.JoinedStr, ast.Lambda)
_SKIPS = {"skip", "importorskip"}


def _test_files() -> list[Path]:
    files = sorted(TESTS.rglob("*.py"))
    assert len(files) > 50, f"found only {len(files)} test files under {TESTS}"
    return files


def _tests_in(tree: ast.Module) -> Iterator[ast.FunctionDef | ast.AsyncFunctionDef]:
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith(
            "test"
        ):
            yield node


def _always_true_operand(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.BoolOp)
        and isinstance(node.op, ast.Or)
        and any(isinstance(v, ast.Constant) and v.value is True for v in node.values)
    )


def _swallows(handler: ast.ExceptHandler) -> bool:
    return all(
        isinstance(s, ast.Pass) or (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))
        for s in handler.body
    )


def _is_skip(node: ast.AST) -> bool:
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
        return False
    owner = node.func.value
    return node.func.attr in _SKIPS and isinstance(owner, ast.Name) and owner.id == "pytest"


def problems(source: str, name: str) -> list[str]:
    """Every place in `source` (a test module called `name`) that can hide a failure."""
    tree = ast.parse(source, name)
    found = [
        f"{name}:{node.lineno}: `or True` makes the condition always true"
        for node in ast.walk(tree)
        if _always_true_operand(node)
    ]
    found += [
        f"{name}:{node.lineno}: assert on a literal is always (or never) true"
        for node in ast.walk(tree)
        if isinstance(node, ast.Assert) and isinstance(node.test, _LITERALS)
    ]
    for test in _tests_in(tree):
        for node in ast.walk(test):
            if isinstance(node, ast.ExceptHandler) and _swallows(node):
                found.append(f"{name}:{node.lineno}: `except: pass` in {test.name} hides errors")
            if _is_skip(node):
                found.append(f"{name}:{node.lineno}: {test.name} skips itself")
    return found


def test_no_test_hides_its_failures() -> None:
    found = [p for path in _test_files() for p in problems(path.read_text("utf-8"), str(path))]
    assert not found, "\n".join(found)


def test_the_checks_catch_each_pattern() -> None:
    source = """
def test_a(x):
    assert x == 1 or True
    try:
        x()
    except Exception:
        pass
    assert (x, "why")
    if x:
        pytest.skip("later")
"""
    found = problems(source, "t.py")
    assert [line.split(": ", 1)[0] for line in found] == ["t.py:3", "t.py:8", "t.py:6", "t.py:10"]


def test_the_checks_leave_honest_code_alone() -> None:
    source = """
def helper(part):
    charset = part.charset or "utf-8"
    try:
        return connect()
    except OSError:
        pass

def test_b(x):
    assert x or x.fallback
    with pytest.raises(ValueError):
        x()
"""
    assert problems(source, "t.py") == []
