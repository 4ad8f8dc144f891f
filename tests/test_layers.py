"""DESIGN §2, checked: which parts of Pledge may import which (issue 12, item 6; first version).

An AST scan of `src/pledge`: every `import pledge.…` anywhere in a module counts, deferred
ones inside functions too (a deferred import is still a dependency); imports under
`if TYPE_CHECKING:` are for types only and do not. So do imports by name: a string naming
`pledge.<part>…` outside a docstring (`importlib.import_module("pledge.requests.handlers")`),
and the bare package `pledge` (walked with `pkgutil` to find every part), which counts as the
part `pledge`, allowed to no lower layer. A part is a top-level package or module
(`manifest`, `store`, `requests`, `errors` …). Migrations are held tighter: frozen history
imports nothing of Pledge but `pledge.store.migrations._frozen`.

Today's violations are listed in KNOWN and KNOWN_CYCLE_EDGES, each with the work that removes
it. A new violation fails; so does a listed one that is gone (delete its line then), so the
lists only shrink.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pledge

SRC = Path(pledge.__file__).parent

ALLOWED: dict[str, set[str]] = {
    "manifest": {"errors"},
    "policy": {"manifest", "errors"},
    "store": {"errors", "config", "files", "identities"},
    "connectors": {"errors", "manifest", "identities"},
    "identities": {"errors"},  # the kernel's canonical forms of identities
}
"""A part → the only other parts it may import."""

KNOWN: set[tuple[str, str]] = set()
"""(module, part it imports against ALLOWED): today's violations, to be removed."""

KNOWN_CYCLE_EDGES: set[tuple[str, str]] = {
    ("consent", "requests"),  # consent pages use the page kit in requests/render (item 3)
    ("runtime", "api"),  # runtime/server builds the API app it serves (item 1)
}
"""Edges between parts that close today's cycles; without them the parts form no cycle."""


def _parts() -> set[str]:
    return {p.stem for p in SRC.iterdir() if p.suffix == ".py" or (p / "__init__.py").exists()}


def _module(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_only(tree: ast.Module) -> set[int]:
    """Ids of the nodes under `if TYPE_CHECKING:`."""
    return {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for inner in ast.walk(node)
    }


_NAMED = re.compile(r"\bpledge\.(\w+)")


def _docstrings(tree: ast.Module) -> set[int]:
    """Ids of the string constants that are docstrings or other bare string statements."""
    return {
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
    }


def _imported(tree: ast.Module) -> Iterator[str]:
    """Every dotted name a module imports at run time, or names as a string to import."""
    skip = _type_only(tree) | _docstrings(tree)
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield from (f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield from (f"pledge.{part}" for part in _NAMED.findall(node.value))


def _imported_by(path: Path) -> list[str]:
    return list(_imported(ast.parse(path.read_text(encoding="utf-8"))))


def imports() -> Iterator[tuple[str, str, str]]:
    """(module, its part, part it imports) for every run-time import of another part."""
    parts = _parts()
    for path in sorted(SRC.rglob("*.py")):
        module = _module(path)
        if "." not in module:
            continue  # pledge/__init__.py: the package itself
        own = module.split(".")[1]
        for name in _imported_by(path):
            bits = name.split(".")
            if bits == ["pledge"]:
                yield module, own, "pledge"  # the whole package, to walk its parts
            elif bits[0] == "pledge" and len(bits) > 1 and bits[1] in parts and bits[1] != own:
                yield module, own, bits[1]


def _violations() -> set[tuple[str, str]]:
    return {
        (module, other)
        for module, own, other in imports()
        if own in ALLOWED and other not in ALLOWED[own]
    }


def test_lower_layers_import_only_what_design_allows() -> None:
    new = _violations() - KNOWN
    assert not new, f"imports DESIGN §2 forbids: {sorted(new)}"


def test_known_violations_that_are_gone_leave_the_list() -> None:
    assert not KNOWN - _violations(), "fixed: remove these lines from KNOWN"


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for _, own, other in imports():
        graph.setdefault(own, set()).add(other)
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle (first part repeated last), or None."""
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> list[str] | None:
        for nxt in sorted(graph.get(node, ())):
            if nxt in path:
                return [*path[path.index(nxt) :], nxt]
            found = None if nxt in done else visit(nxt, [*path, nxt])
            if found:
                return found
        done.add(node)
        return None

    for start in sorted(graph):
        found = None if start in done else visit(start, [start])
        if found:
            return found
    return None


def test_no_new_import_cycles_between_parts() -> None:
    graph = {k: v - {b for a, b in KNOWN_CYCLE_EDGES if a == k} for k, v in _graph().items()}
    cycle = _cycle(graph)
    assert cycle is None, "parts import each other in a circle: " + " → ".join(cycle or ())


def test_known_cycle_edges_that_are_gone_leave_the_list() -> None:
    graph = _graph()
    gone = {(a, b) for a, b in KNOWN_CYCLE_EDGES if b not in graph.get(a, set())}
    assert not gone, f"fixed: remove these from KNOWN_CYCLE_EDGES: {sorted(gone)}"


def test_the_scan_sees_deferred_imports() -> None:
    """The scan is not blind: the CLI's deferred imports of the store are found."""
    assert ("pledge.cli.db", "cli", "store") in set(imports())


def test_the_scan_sees_imports_by_name() -> None:
    """Walking the package or importing a module by its name is a dependency too."""
    walk = "def load():\n    import pledge\n    return pkgutil.iter_modules(pledge.__path__)\n"
    by_name = 'importlib.import_module("pledge.requests.handlers")\n'
    doc = '"""Found by workers as `pledge.requests.handlers`."""\n'
    seen = [list(_imported(ast.parse(code))) for code in (walk, by_name, doc)]
    assert seen == [["pledge"], ["pledge.requests"], []]


def test_migrations_are_frozen_history() -> None:
    """A revision imports nothing live (tables, services): only its frozen helpers, which
    import nothing of Pledge themselves."""
    migrations = SRC / "store" / "migrations"
    frozen = "pledge.store.migrations._frozen"
    live = {
        f"{path.parent.name}/{path.name}": name
        for path in [*sorted((migrations / "versions").glob("*.py")), migrations / "_frozen.py"]
        for name in _imported_by(path)
        if name.split(".")[0] == "pledge" and not name.startswith(f"{frozen}.")
    }
    assert not live, f"migrations importing live modules: {live}"
