"""Keeps the guide's walk through the aspect-based sentiment example (docs/plugins.md, "A
whole task") honest: every excerpt is in the example's files as written, and the block that
tries it runs."""

from __future__ import annotations

import re

from tests.test_docs import GUIDE, ROOT, run_blocks

EXAMPLE = ROOT / "examples" / "plugins" / "leanlife-absa"
SECTION = "## A whole task"
CODE_BLOCK = re.compile(r"^```(python|js)\n(.*?)^```", re.DOTALL | re.MULTILINE)
VIEW = "leanlife_absa/static/view.js"


def walk_blocks() -> list[tuple[int, str, str]]:
    """(first code line, language, code) of each code block of the section."""
    guide = GUIDE.read_text()
    start = guide.index(SECTION)
    end = guide.find("\n## ", start + 1)
    return [(guide.count("\n", 0, m.start(2)) + 1, m.group(1), m.group(2))
            for m in CODE_BLOCK.finditer(guide, start, len(guide) if end < 0 else end)]


def test_every_excerpt_is_in_the_example_as_written():
    checked = 0
    for line, language, code in walk_blocks():
        first, _, rest = code.partition("\n")
        if language == "js":
            path, excerpt = VIEW, code
        elif first.startswith("# leanlife_absa/"):
            path, excerpt = first.removeprefix("# "), rest
        else:
            continue
        assert excerpt in (EXAMPLE / path).read_text(encoding="utf-8"), \
            f"docs/plugins.md line {line}: this excerpt is not in {path} as written"
        checked += 1
    assert checked >= 5, "the walk's excerpts were not found"


def test_the_try_it_block_runs():
    blocks = [(line, code) for line, language, code in walk_blocks()
              if language == "python" and code.startswith("# try it")]
    assert len(blocks) == 1
    run_blocks(blocks, {})
