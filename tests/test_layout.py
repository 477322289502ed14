"""The layout rules of docs/design.md ("Packages"), checked on the source tree itself.

Modules stay small enough to read in one sitting, classes shallow, and the import graph a tree
of layers: no package imports a module that (directly or not) imports it back at import time.
These read the files as text (``ast``), so they hold for every module, imported by a test or not.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("league", "envs", "ratings")
MAX_MODULE_LINES = 420      # "no module over ~400 lines"
MAX_CLASS_LINES = 260       # "no class over ~250"


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """Project modules ``name`` imports at import time (module level, not under TYPE_CHECKING)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        for stmt in (node.body if isinstance(node, (ast.If, ast.Try)) else [node]):
            if isinstance(stmt, ast.Import):
                found.update(a.name for a in stmt.names if a.name in MODULES)
            elif isinstance(stmt, ast.ImportFrom):
                base = stmt.module or ""
                if stmt.level:
                    parts = package.split(".")[: len(package.split(".")) - (stmt.level - 1)]
                    base = ".".join(parts + ([stmt.module] if stmt.module else []))
                # ``from pkg import submodule`` imports the submodule; any other name, the package.
                subs = {f"{base}.{a.name}" for a in stmt.names if f"{base}.{a.name}" in MODULES}
                found |= subs
                if len(subs) < len(stmt.names) and base in MODULES:
                    found.add(base)
    found.discard(name)
    return found


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_module_is_over_the_size_limit():
    big = {name: n for name, path in MODULES.items() if (n := len(path.read_text().splitlines())) > MAX_MODULE_LINES}
    assert big == {}, f"modules over {MAX_MODULE_LINES} lines: split them by job"


def test_no_class_is_over_the_size_limit():
    big = {}
    for name, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and node.end_lineno - node.lineno + 1 > MAX_CLASS_LINES:
                big[f"{name}.{node.name}"] = node.end_lineno - node.lineno + 1
    assert big == {}, f"classes over {MAX_CLASS_LINES} lines"


def test_there_is_no_circle_of_imports():
    graph = {name: _imports(name, path) for name, path in MODULES.items()}
    assert _cycles(graph) == []


@pytest.mark.parametrize("source, expected", [
    ("from league.pool import store\n", {"league.pool.store"}),       # a submodule, not the package
    ("from league.pool import Pool\n", {"league.pool"}),
    ("from . import store\n", {"league.pool.store"}),
    ("if TYPE_CHECKING:\n    from league.pool import Pool\n", set()),
])
def test_the_import_reader_sees_what_python_imports(tmp_path, source, expected):
    path = tmp_path / "mod.py"
    path.write_text(source)
    assert _imports("league.pool.mod", path) == expected
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
