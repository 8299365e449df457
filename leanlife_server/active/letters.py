"""Documents without a letter: numbers, dates, table rows of figures.

A tagger is unsure of such a line for the same reason it has nothing to learn from it, so
uncertainty ranks it high. The queue puts every document without a letter after those with
one, whatever the strategy (random order and the order before any model included)."""

from __future__ import annotations

import unicodedata


def has_letter(text: str) -> bool:
    """Whether ``text`` holds a letter of any script (Unicode category L*)."""
    return any(unicodedata.category(character).startswith("L") for character in text)
