"""No import cycles between the core's Python modules.

Every import in ``leanlife_server`` counts, those inside functions too: a function-level
import that closes a circle only postpones it to the first call, and the modules still
depend on each other (a reader must hold both in mind, a change in one can break the
other). ``if TYPE_CHECKING:`` imports count as well; none is needed today.

An edge goes from a module to each ``leanlife_server`` module it names: ``from a.b import c``
names ``a.b.c`` when that is a module, else ``a.b``. The package a module lives in is not
an implicit edge: Python runs a package's ``__init__`` first, but that is the loader's
order, not a dependency the module's code chose.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.test_jobs_support import REPO

CORE = "leanlife_server"


def core_modules() -> dict[str, Path]:
    """Every module of the core by dotted name (packages by their own name)."""
    modules = {}
    for path in sorted((REPO / CORE).rglob("*.py")):
        parts = list(path.relative_to(REPO).with_suffix("").parts)
        if "migrations" in parts:  # Alembic scripts, loaded by file path, not imported
            continue
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _absolute(module: str, node: ast.ImportFrom, package: str) -> str:
    if node.level == 0:
        return node.module or ""
    base = package.split(".")
    base = base[:len(base) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The core modules ``name`` imports anywhere in its file."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(name, node, package)
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                       for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in modules:  # `import a.b.c` with c a name: a.b
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = core_modules()
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted:
    every import circle lies inside one of them."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def one_circle(graph: dict[str, set[str]], component: list[str]) -> list[str]:
    """A shortest circle through the component's first module, for the message."""
    members, start = set(component), component[0]
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for target in sorted(graph[node] & members):
                if target == start:
                    return paths[node] + [start]
                if target not in paths:
                    paths[target] = paths[node] + [target]
                    following.append(target)
        frontier = following
    return component


def test_the_walk_sees_the_core():
    graph = import_graph()
    assert "leanlife_server.jobs" in graph and "leanlife_server.api.annotations" in graph
    assert "leanlife_server.db" in graph["leanlife_server.api.annotations"]


def test_a_circle_is_found():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
    assert one_circle(graph, ["a", "b", "c"]) == ["a", "b", "c", "a"]


def test_no_import_cycles_in_the_core():
    graph = import_graph()
    found = cycles(graph)
    assert not found, (f"{len(found)} import cycle(s) in {CORE}:\n" + "\n".join(
        " -> ".join(one_circle(graph, component)) + f"  ({len(component)} modules tangled)"
        for component in found))
