"""The core asks an annotation's parts (leanlife_server/annotation_parts.py: a span, links,
neither), never its kind's name: no comparison under leanlife_server/ names SPAN, RELATION,
DOCUMENT, EXPLANATION_TRIGGER or their strings. plugin_api.py defines the kinds and the
migrations describe old data, so both are left out; plugins may branch on kinds freely."""

from __future__ import annotations

import ast
from pathlib import Path

CORE = Path(__file__).resolve().parent.parent / "leanlife_server"
KIND_NAMES = {"SPAN", "RELATION", "DOCUMENT", "EXPLANATION_TRIGGER"}
KIND_STRINGS = {"span", "relation", "document", "trigger"}


def _core_files() -> list[Path]:
    migrations = CORE / "db" / "migrations"
    return sorted(p for p in CORE.rglob("*.py")
                  if p != CORE / "plugin_api.py" and migrations not in p.parents)


def _names_kind(node: ast.AST) -> bool:
    if isinstance(node, ast.Name):
        return node.id in KIND_NAMES
    if isinstance(node, ast.Attribute):  # plugin_api.SPAN
        return node.attr in KIND_NAMES
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str) and node.value in KIND_STRINGS
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):  # kind in (SPAN, ...)
        return any(_names_kind(element) for element in node.elts)
    return False


def _violations(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return [f"{path.relative_to(CORE.parent)}:{node.lineno}: {ast.unparse(node)}"
            for node in ast.walk(tree)
            if isinstance(node, ast.Compare) and any(_names_kind(n) for n in (node.left, *node.comparators))]


def test_the_walk_finds_the_core():
    files = _core_files()
    assert CORE / "app.py" in files and CORE / "annotation_parts.py" in files
    assert CORE / "plugin_api.py" not in files
    assert not any("migrations" in p.parts for p in files)


def test_the_check_catches_kind_comparisons():
    samples = ["a.kind == SPAN", "kind != plugin_api.RELATION", "DOCUMENT == kind",
               "kind in (SPAN, RELATION)", "row.kind == 'trigger'", "kind not in {'document'}"]
    for sample in samples:
        node = ast.parse(sample, mode="eval").body
        assert isinstance(node, ast.Compare) and any(
            _names_kind(n) for n in (node.left, *node.comparators)), sample
    for fine in ["a.kind == kind", "kind in task.input_kinds", "name == 'spans'"]:
        node = ast.parse(fine, mode="eval").body
        assert not any(_names_kind(n) for n in (node.left, *node.comparators)), fine


def test_core_compares_no_annotation_kind_names():
    found = [v for path in _core_files() for v in _violations(path)]
    assert not found, ("the core compares annotation kind names; ask the annotation's parts "
                       "(leanlife_server/annotation_parts.py) or the task definition instead:\n"
                       + "\n".join(found))
