"""The core names no task: what a task needs from the core it declares in its plugin's
TaskDefinition, so a string literal that is a task's name has no place in leanlife_server/.
Comments and prose in docstrings may mention tasks; only literals equal to a name count."""

from __future__ import annotations

import ast
import io
import tokenize
from pathlib import Path

CORE = Path(__file__).resolve().parent.parent / "leanlife_server"
# The bundled tasks. Installed plugins' names are left out: one may name a task like a core
# constant (a task "span"), which would be no fault of the core.
TASK_NAMES = {"ner", "re", "sa"}


def task_literals(source: str, names: set[str]) -> list[tuple[int, str]]:
    """(line, literal) of each string token whose value is one of ``names`` (f-strings and
    concatenations are not looked into: a name spelled that way is hard to miss in review)."""
    hits = []
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type != tokenize.STRING:
            continue
        try:
            value = ast.literal_eval(token.string)
        except (ValueError, SyntaxError):  # an f-string
            continue
        if value in names:
            hits.append((token.start[0], token.string))
    return hits


def test_the_finder_sees_literals_but_not_prose():
    source = 'task = "ner"\nother = \'re\'\n# the "sa" task\n"""A task like "ner"."""\nx = b"sa"\n'
    assert task_literals(source, TASK_NAMES) == [(1, '"ner"'), (2, "'re'")]


def test_no_core_module_names_a_task():
    found = [f"{path.relative_to(CORE.parent)}:{line}: {literal}"
             for path in sorted(CORE.rglob("*.py"))
             for line, literal in task_literals(path.read_text(encoding="utf-8"), TASK_NAMES)]
    assert not found, "the core names tasks (declare it in the task's plugin instead):\n" + "\n".join(found)
