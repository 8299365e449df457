"""Tokens and instances: what explanations are parsed against and executed over.

An instance is one tokenised sentence whose arguments (relation subject and object, or the
aspect term) are each replaced by one placeholder token, as in the NExT data
(``SUBJ-PERSON``, ``OBJ-O``, ``$T$``). Matching is case-insensitive.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Mapping

SUBJ, OBJ, TERM = "SUBJ", "OBJ", "TERM"
# Placeholders as written in the data sets; the type after the dash is the entity type.
_PLACEHOLDER = re.compile(r"^(?:(SUBJ|OBJ)-([A-Za-z_]+)|\$T\$)$")
# Penn Treebank bracket tokens (-LRB-, -RRB-, ...) in the data sets stay one token.
TOKEN_PATTERN = re.compile(r"(?:SUBJ|OBJ)-[A-Za-z_]+|\$T\$|-[LR][RSC]B-|\w+(?:-\w+)*|'\w+|[^\w\s]")


def tokenize(text: str) -> list[str]:
    """Words, clitics (``'s``) and single punctuation marks; placeholders stay whole."""
    return TOKEN_PATTERN.findall(text)


def normalize(token: str) -> str:
    return token.lower()


@dataclass(frozen=True)
class Argument:
    index: int  # token position of the argument's placeholder
    type: str = ""
    surface: str = ""  # the original words, when known (for capitalisation)


@dataclass(frozen=True)
class Instance:
    tokens: tuple[str, ...]
    arguments: Mapping[str, Argument] = field(default_factory=dict)
    # (start, end) character offsets of each token in the text it came from (a placeholder:
    # its argument's span); empty for data-set sentences, which have no text of their own.
    offsets: tuple[tuple[int, int], ...] = field(default=(), compare=False)

    @property
    def words(self) -> tuple[str, ...]:
        return tuple(normalize(t) for t in self.tokens)


def placeholder_token(role: str, entity_type: str) -> str:
    return "$T$" if role == TERM else f"{role}-{entity_type or 'O'}"


def instance_from_placeholders(sentence: str) -> Instance:
    """A data-set sentence with ``SUBJ-TYPE`` / ``OBJ-TYPE`` / ``$T$`` placeholders."""
    tokens = tokenize(sentence)
    arguments = {}
    for i, token in enumerate(tokens):
        match = _PLACEHOLDER.match(token)
        if match:
            role = match.group(1) or TERM
            arguments[role] = Argument(i, (match.group(2) or "").upper())
    return Instance(tuple(tokens), arguments)


def instance_from_text(text: str, spans: Mapping[str, tuple[int, int, str]]) -> Instance:
    """Raw text with argument character spans ``role -> (start, end, type)``: each span becomes
    one placeholder token, so that word counts match the data sets' convention."""
    tokens: list[str] = []
    offsets: list[tuple[int, int]] = []
    arguments = {}
    cursor = 0

    def add_words(start: int, end: int) -> None:
        for match in TOKEN_PATTERN.finditer(text, start, end):  # as tokenize(text[start:end])
            tokens.append(match.group())
            offsets.append(match.span())

    for role, (start, end, entity_type) in sorted(spans.items(), key=lambda item: item[1][0]):
        if start < cursor:
            raise ValueError(f"argument {role} at [{start}, {end}) overlaps another argument")
        add_words(cursor, start)
        arguments[role] = Argument(len(tokens), entity_type.upper(), text[start:end])
        tokens.append(placeholder_token(role, entity_type.upper()))
        offsets.append((start, end))
        cursor = end
    add_words(cursor, len(text))
    return Instance(tuple(tokens), arguments, tuple(offsets))
