"""Text as the dictionary matcher compares it, with a way back to the original offsets.

Text is cut into *clusters*: a character with the combining marks that follow it (so "é"
written as e + U+0301 is one cluster, and no match may split it). Each cluster is
normalised on its own: NFKC and case folding (so "É", "é" and "e\u0301" agree, and "ﬁ"
matches "fi"), and a run of whitespace clusters becomes one space. A cluster may grow or
shrink ("ß" folds to "ss"), so the normalised text keeps, for each of its characters, the
cluster it came from; a match counts only when it starts and ends on cluster edges.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

# Scripts written without spaces between words: a word edge cannot be seen in them, so a
# match needs no word boundary next to their characters.
UNSPACED_SCRIPTS = ("CJK UNIFIED IDEOGRAPH", "CJK COMPATIBILITY IDEOGRAPH", "HIRAGANA", "KATAKANA",
                    "THAI", "LAO", "KHMER", "MYANMAR", "TIBETAN")


def _is_combining(char: str) -> bool:
    return unicodedata.combining(char) > 0 or unicodedata.category(char) in ("Mn", "Mc", "Me")


def is_word_char(char: str) -> bool:
    """A character that continues a word: letters, digits, '_' and combining marks."""
    return char.isalnum() or char == "_" or _is_combining(char)


def _unspaced(char: str) -> bool:
    return unicodedata.name(char, "").startswith(UNSPACED_SCRIPTS)


def needs_boundary(inside: str, outside: str) -> bool:
    """Whether a match whose edge character is ``inside`` may not continue into ``outside``
    (a neighbour that would make the match part of a longer word)."""
    return (is_word_char(inside) and is_word_char(outside)
            and not _unspaced(inside) and not _unspaced(outside)) or _is_combining(outside)


def _fold(cluster: str) -> str:
    # NFKC, case folding, then NFKC again: folding can leave text that is not NFKC-normal.
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", cluster).casefold())


@dataclass(frozen=True)
class Normalized:
    """``text`` normalised, and for each of its characters the original cluster's
    [start, end) offsets; ``begins`` and ``ends`` are the normalised offsets where a cluster
    starts or ends (the only places a match may start or end)."""

    text: str
    origin: tuple[tuple[int, int], ...]
    begins: frozenset[int]
    ends: frozenset[int]

    def original_span(self, start: int, end: int) -> tuple[int, int] | None:
        """The original [start, end) of normalised [start, end), or None when it cuts a cluster."""
        if start >= end or start not in self.begins or end not in self.ends:
            return None
        return self.origin[start][0], self.origin[end - 1][1]


def clusters(text: str) -> list[tuple[int, int]]:
    """[start, end) of each character with its following combining marks."""
    out: list[tuple[int, int]] = []
    for i, char in enumerate(text):
        if out and _is_combining(char):
            out[-1] = (out[-1][0], i + 1)
        else:
            out.append((i, i + 1))
    return out


def normalize(text: str) -> Normalized:
    pieces: list[str] = []
    origin: list[tuple[int, int]] = []
    begins, ends = set(), set()
    for start, end in clusters(text):
        cluster = text[start:end]
        if cluster.isspace():
            if pieces and pieces[-1] == " " and origin[-1][1] == start:
                origin[-1] = (origin[-1][0], end)  # one space stands for the whole run
                continue
            folded = " "
        else:
            folded = _fold(cluster)
        if not folded:  # a cluster that normalises to nothing (a lone format character)
            continue
        begins.add(len(pieces))
        pieces.extend(folded)
        origin.extend([(start, end)] * len(folded))
        ends.add(len(pieces))
    return Normalized("".join(pieces), tuple(origin), frozenset(begins), frozenset(ends))


def key(text: str) -> str:
    """The dictionary key of an annotated span's text: normalised, without outer spaces."""
    return normalize(text).text.strip(" ")
