"""The plugin boundary: a plugin imports nothing of LeanLife but ``leanlife_server.plugin_api``
and its own package, so that a built-in plugin is written exactly as a third party's would
be, and a change inside the core cannot break one."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.test_jobs_support import REPO

PLUGINS = REPO / "plugins"
ALLOWED_CORE = "leanlife_server.plugin_api"


def leanlife_imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import of a ``leanlife*`` module in a file, nested ones too."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return [(line, module) for line, module in found if module.split(".")[0].startswith("leanlife")]


def plugin_packages() -> list[Path]:
    """Every built-in plugin package: plugins/<package>/ for those the core distribution ships,
    plugins/<distribution>/<package>/ for the model plugins, distributions of their own."""
    shipped_by_core = [init.parent for init in PLUGINS.glob("*/__init__.py")]
    own_distributions = [init.parent for folder in (PLUGINS, REPO / "examples" / "plugins")
                         for project in folder.glob("*/pyproject.toml")
                         for init in project.parent.glob("*/__init__.py")]
    return sorted(shipped_by_core + own_distributions)


def test_plugins_import_only_the_plugin_api_and_themselves():
    crossings = []
    packages = plugin_packages()
    assert len(packages) >= 9, "the built-in and example plugins were not found"
    for package in packages:
        for path in sorted(package.rglob("*.py")):
            for line, module in leanlife_imports(path):
                top = module.split(".")[0]
                if top != package.name and module != ALLOWED_CORE:
                    crossings.append(f"{path.relative_to(REPO)}:{line} imports {module}")
    assert not crossings, "plugins reach past the plugin API:\n" + "\n".join(crossings)
