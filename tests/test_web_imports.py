"""The browser code's module graph: no import cycles in web/src or the task views, and the page
itself imports no task's view (it loads them by URL: web/src/contract.ts)."""

from __future__ import annotations

import re
from pathlib import Path

from tests.test_jobs_support import REPO

WEB_SRC = REPO / "web" / "src"
VIEWS = sorted((REPO / "plugins").glob("*/view"))
# import ... from "./x"; export ... from "./x"; import "./x"; import("./x")
RELATIVE_IMPORT = re.compile(r"""(?:\bfrom\s*|\bimport\s*\(?\s*)["'](\.{1,2}/[^"']+)["']""")
SOURCE_SUFFIXES = (".ts", ".tsx")


def resolve(importer: Path, specifier: str) -> Path | None:
    base = (importer.parent / specifier).resolve()
    for candidate in (base, *(base.with_name(base.name + s) for s in SOURCE_SUFFIXES),
                      *(base / f"index{s}" for s in SOURCE_SUFFIXES)):
        if candidate.is_file() and candidate.suffix in SOURCE_SUFFIXES:
            return candidate
    return None


def import_graph(roots: list[Path]) -> dict[Path, list[Path]]:
    files = [p for root in roots for p in root.rglob("*") if p.suffix in SOURCE_SUFFIXES]
    graph = {}
    for path in files:
        targets = (resolve(path, s) for s in RELATIVE_IMPORT.findall(path.read_text(encoding="utf-8")))
        graph[path.resolve()] = [t for t in targets if t is not None]
    return graph


def cycles(graph: dict[Path, list[Path]]) -> list[list[Path]]:
    """One cycle through each module that is on one (depth-first search, colouring nodes)."""
    found, state, stack = [], {}, []

    def visit(node: Path) -> None:
        state[node] = "open"
        stack.append(node)
        for target in graph.get(node, []):
            if state.get(target) == "open":
                found.append(stack[stack.index(target):] + [target])
            elif target not in state:
                visit(target)
        stack.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return found


def test_web_sources_import_each_other_without_cycles():
    graph = import_graph([WEB_SRC, *VIEWS])
    assert len(graph) > 20, "the web sources were not found"
    found = [" -> ".join(str(p.relative_to(REPO)) for p in cycle) for cycle in cycles(graph)]
    assert not found, "import cycles:\n" + "\n".join(found)


def test_the_page_imports_no_task_view():
    graph = import_graph([WEB_SRC])
    crossing = [f"{src.relative_to(REPO)} imports {dst.relative_to(REPO)}"
                for src, targets in graph.items() for dst in targets if not dst.is_relative_to(WEB_SRC)]
    assert not crossing, "\n".join(crossing)
    assert VIEWS, "the built-in task views were not found"
