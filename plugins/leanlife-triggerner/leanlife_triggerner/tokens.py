"""Tokens with character offsets, and the mapping between character spans and BIO tags.

Annotations arrive as character offsets; the networks work on tokens. Everything here is
plain Python so that data conversion can be tested without torch.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Abbreviations with inner dots ("U.S."), words with inner hyphens, apostrophes or dots
# ("1996-08-22", "don't"), and every other non-space character on its own.
TOKEN_PATTERN = re.compile(r"(?:[^\W\d_]\.){2,}|\w+(?:[-'’.]\w+)*|[^\w\s]")

OUTSIDE = "O"


@dataclass(frozen=True)
class Token:
    text: str
    start: int
    end: int


def tokenize(text: str) -> list[Token]:
    return [Token(m.group(), m.start(), m.end()) for m in TOKEN_PATTERN.finditer(text)]


def token_range(tokens: list[Token], start: int, end: int) -> tuple[int, int] | None:
    """The tokens ``[first, last)`` that overlap characters ``[start, end)``; None if none do."""
    inside = [i for i, token in enumerate(tokens) if token.start < end and start < token.end]
    return (inside[0], inside[-1] + 1) if inside else None


def bio_tags(label_names: list[str]) -> list[str]:
    """The tag set of a label list: O, then B-x and I-x for each label, in label order."""
    return [OUTSIDE] + [f"{prefix}-{name}" for name in label_names for prefix in ("B", "I")]


def encode_bio(length: int, entities: list[tuple[int, int, str]]) -> list[str]:
    """BIO tags for token ranges ``(first, last, label)``; a later entity overlapping an
    earlier one is ignored, since a BIO sequence cannot hold both."""
    tags = [OUTSIDE] * length
    for first, last, label in sorted(entities):
        if any(tag != OUTSIDE for tag in tags[first:last]):
            continue
        tags[first] = f"B-{label}"
        for i in range(first + 1, last):
            tags[i] = f"I-{label}"
    return tags


def decode_bio(tags: list[str]) -> list[tuple[int, int, str]]:
    """Token ranges ``(first, last, label)`` of a BIO sequence; a stray I- starts an entity."""
    entities: list[tuple[int, int, str]] = []
    first, label = None, None
    for i, tag in enumerate(tags + [OUTSIDE]):
        prefix, _, name = tag.partition("-")
        continues = prefix == "I" and name == label
        if first is not None and not continues:
            entities.append((first, i, label))
            first, label = None, None
        if prefix in ("B", "I") and not continues:
            first, label = i, name
    return entities
