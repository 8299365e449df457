"""Readers of the TriggerNER data files (CoNLL-style columns), giving plugin API Examples.

``train.txt`` / ``test.txt``: one ``token TAG`` per line, BIO tags, a blank line between
sentences. ``trigger_20.txt``: tab separated; a sentence is repeated once per entity, only
that entity carries B-/I- tags, and tokens tagged ``T-k`` with the same k form one trigger.
"""

from __future__ import annotations

from itertools import groupby
from pathlib import Path

from leanlife_server.plugin_api import EXPLANATION_TRIGGER, SPAN, AnnotationData, Example, ExplanationIn, Span

from .tokens import decode_bio

Columns = tuple[list[str], list[str]]  # tokens, tags


def read_columns(path: Path) -> list[Columns]:
    sentences: list[Columns] = []
    tokens: list[str] = []
    tags: list[str] = []
    with open(path, encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            fields = line.split()
            if not fields:
                if tokens:
                    sentences.append((tokens, tags))
                tokens, tags = [], []
                continue
            if len(fields) != 2:
                raise ValueError(f"{path}:{number}: expected 'token TAG', got {line.rstrip()!r}")
            if fields[0] == "-DOCSTART-":
                continue
            tokens.append(fields[0])
            tags.append(fields[1])
    if tokens:
        sentences.append((tokens, tags))
    return sentences


def _offsets(tokens: list[str]) -> list[tuple[int, int]]:
    """Character offsets of the tokens in ``" ".join(tokens)``."""
    offsets, position = [], 0
    for token in tokens:
        offsets.append((position, position + len(token)))
        position += len(token) + 1
    return offsets


def _span(offsets: list[tuple[int, int]], first: int, last: int) -> tuple[int, int]:
    return offsets[first][0], offsets[last - 1][1]


def to_example(tokens: list[str], tags: list[str], document_id: int | None = None) -> Example:
    """A sentence with BIO tags as an Example without explanations."""
    offsets = _offsets(tokens)
    annotations = tuple(AnnotationData(SPAN, label, *_span(offsets, first, last))
                        for first, last, label in decode_bio(tags))
    return Example(document_id, " ".join(tokens), annotations)


def _trigger_entity(tokens: list[str], tags: list[str], where: str) -> AnnotationData:
    offsets = _offsets(tokens)
    entity_tags = [tag if tag[:2] in ("B-", "I-") else "O" for tag in tags]
    entities = decode_bio(entity_tags)
    if len(entities) != 1:
        raise ValueError(f"{where}: a trigger instance must tag exactly one entity, found {len(entities)}")
    first, last, label = entities[0]
    groups: dict[str, list[int]] = {}
    for i, tag in enumerate(tags):
        if tag.startswith("T-"):
            groups.setdefault(tag, []).append(i)
    triggers = tuple(ExplanationIn(EXPLANATION_TRIGGER, spans=tuple(Span(*offsets[i]) for i in positions))
                     for positions in groups.values())
    return AnnotationData(SPAN, label, *_span(offsets, first, last), explanations=triggers)


def read_trigger_examples(path: Path) -> list[Example]:
    """One Example per sentence of a trigger file, holding all its entities and their triggers
    (consecutive repeats of a sentence are merged)."""
    examples = []
    instances = read_columns(path)
    for number, (tokens, group) in enumerate(groupby(instances, key=lambda instance: instance[0])):
        entities = tuple(_trigger_entity(tokens, tags, f"{path}: sentence {number + 1}") for _, tags in group)
        examples.append(Example(None, " ".join(tokens), entities))
    return examples
