"""Dotted references (``package.module:attribute``) in plugin definitions, checked at start.

A definition names its factory, importer or parser by a dotted path so that heavy libraries
(torch, transformers) load only when a job needs them. A typo in such a path must still stop
the server at start-up, naming the plugin, not fail inside a training job hours later. So the
check finds the module without running it and looks for the attribute among the names the
module's source defines at its top level (modules already imported are asked directly).
"""

from __future__ import annotations

import ast
import importlib.util
import sys
from functools import lru_cache
from typing import Any


def _bound_names(node: ast.stmt) -> set[str]:
    """Names a top-level statement binds (definitions, assignments, imports)."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {node.name}
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return {(alias.asname or alias.name).split(".")[0] for alias in node.names}
    targets: list[ast.expr] = []
    if isinstance(node, ast.Assign):
        targets = node.targets
    elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
        targets = [node.target]
    names = set()
    for target in targets:
        names |= {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}
    if isinstance(node, (ast.If, ast.Try)):  # e.g. "try: import x except ImportError: x = None"
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.stmt):
                names |= _bound_names(child)
            elif isinstance(child, ast.ExceptHandler):
                for stmt in child.body:
                    names |= _bound_names(stmt)
    return names


@lru_cache(maxsize=None)
def _top_level_names(module_name: str) -> frozenset[str] | None:
    """The names ``module_name`` binds at its top level; None when its source is unreadable
    (an extension module): then only its existence is checked."""
    spec = importlib.util.find_spec(module_name)
    if spec is None:
        raise ModuleNotFoundError(f"no module named {module_name!r}")
    source = spec.loader.get_source(module_name) if hasattr(spec.loader, "get_source") else None
    if source is None:
        return None
    names: set[str] = set()
    for node in ast.parse(source).body:
        names |= _bound_names(node)
    return frozenset(names)


def reference_problem(dotted: Any) -> str | None:
    """Why ``dotted`` does not name an attribute of an importable module, or None."""
    if not isinstance(dotted, str) or dotted.count(":") != 1:
        return "is not a 'package.module:attribute' path"
    module_name, attribute = dotted.split(":")
    first = attribute.split(".")[0]
    if not module_name or not first:
        return "is not a 'package.module:attribute' path"
    module = sys.modules.get(module_name)
    if module is not None:
        return None if hasattr(module, first) else f"module {module_name!r} has no attribute {first!r}"
    try:
        names = _top_level_names(module_name)
    except (ImportError, ValueError, SyntaxError) as exc:
        return f"cannot find module {module_name!r} ({exc})"
    if names is not None and first not in names:
        return f"module {module_name!r} defines no {first!r}"
    return None
