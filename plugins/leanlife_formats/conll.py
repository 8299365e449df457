"""CoNLL BIO files (NER) and the TriggerNER trigger files (entities with their triggers).

Import joins a sentence's tokens with single spaces, so every offset is exact and export
(whitespace tokens, also cut at entity and trigger boundaries) gives back the same tokens:
a CoNLL file survives import and export unchanged, minus its -DOCSTART- lines.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Iterable, Iterator

from leanlife_formats.common import (
    bio_tags,
    entities_from_tags,
    join_tokens,
    non_overlapping_spans,
    option,
    token_index,
    tokenize,
)
from leanlife_server.plugin_api import (
    EXPLANATION_TRIGGER,
    SPAN,
    DocumentRecord,
    ExplanationIn,
    FormatContext,
    FormatError,
    ImportSource,
    RecordAnnotation,
    Span,
)

_BIO_LINE = re.compile(r"^\S+([ \t]+\S+)*[ \t]+(O|[BI]-\S+)$")
_TRIGGER_TAG = re.compile(r"^T-(\d+)$")


def _sentences(source: ImportSource) -> Iterator[tuple[list[str], list[str], list[int]]]:
    """(tokens, tags, line numbers) per blank-line separated sentence; the token is the first
    column and the tag the last, separated by tabs (when the line has one) or spaces."""
    tokens, tags, lines = [], [], []
    for number, line in source.lines():
        if not line.strip() or line.startswith("-DOCSTART-"):
            if tokens:
                yield tokens, tags, lines
                tokens, tags, lines = [], [], []
            continue
        columns = line.split("\t") if "\t" in line else line.split()
        if len(columns) < 2 or not columns[0].strip() or not columns[-1].strip():
            raise FormatError("needs a token and a tag separated by a space or a tab",
                              f"line {number}", "tag")
        tokens.append(columns[0].strip())
        tags.append(columns[-1].strip())
        lines.append(number)
    if tokens:
        yield tokens, tags, lines


def sniff_conll(head: str) -> bool:
    lines = [l for l in head.splitlines()[:50] if l.strip() and not l.startswith("-DOCSTART-")]
    return bool(lines) and all(_BIO_LINE.match(l.strip()) for l in lines[:-1] or lines)


def read_conll(source: ImportSource) -> Iterator[DocumentRecord]:
    for tokens, tags, lines in _sentences(source):
        text, starts = join_tokens(tokens)
        yield DocumentRecord(text, annotations=tuple(entities_from_tags(tags, starts, tokens, lines)),
                             location=f"line {lines[0]}")


def write_conll(records: Iterable[DocumentRecord], context: FormatContext) -> Iterator[str]:
    separator = "\t" if option(context, "separator", "space") == "tab" else " "
    for record in records:
        spans = non_overlapping_spans(record)
        tokens = tokenize(record.text, [o for s in spans for o in (s.start, s.end)])
        tags = bio_tags(tokens, spans)
        yield "".join(f"{record.text[s:e]}{separator}{tag}\n" for (s, e), tag in zip(tokens, tags)) + "\n"


# TriggerNER ------------------------------------------------------------------------------

def sniff_triggers(head: str) -> bool:
    return "\t" in head and any(_TRIGGER_TAG.match(l.rsplit("\t", 1)[-1].strip())
                                for l in head.splitlines() if "\t" in l)


def _trigger_spans(indexes: list[int], starts: list[int], tokens: list[str]) -> tuple[Span, ...]:
    """Token indexes of one trigger as spans: adjacent tokens make one span."""
    spans: list[list[int]] = []
    for i in sorted(indexes):
        end = starts[i] + len(tokens[i])
        if spans and spans[-1][2] == i - 1:
            spans[-1][1], spans[-1][2] = end, i
        else:
            spans.append([starts[i], end, i])
    return tuple(Span(s, e) for s, e, _ in spans)


def _instance(tokens: list[str], tags: list[str], lines: list[int], starts: list[int]
              ) -> tuple[RecordAnnotation | None, list[ExplanationIn]]:
    """The one entity of a trigger instance and its triggers (one per T-k number, by k)."""
    triggers: dict[int, list[int]] = defaultdict(list)
    entity_tags = []
    for i, tag in enumerate(tags):
        match = _TRIGGER_TAG.match(tag)
        if match:
            triggers[int(match.group(1))].append(i)
            tag = "O"
        entity_tags.append(tag)
    entities = entities_from_tags(entity_tags, starts, tokens, lines)
    if len(entities) > 1:
        raise FormatError(f"a trigger instance tags one entity, this one tags {len(entities)}",
                          f"line {lines[0]}", "tag")
    explanations = [ExplanationIn(EXPLANATION_TRIGGER, spans=_trigger_spans(triggers[k], starts, tokens))
                    for k in sorted(triggers)]
    if explanations and not entities:
        raise FormatError("has triggers but no entity", f"line {lines[0]}", "tag")
    return (entities[0] if entities else None), explanations


def _merged(tokens: list[str], instances: list, first_line: int) -> DocumentRecord:
    text, _ = join_tokens(tokens)
    entities: dict[tuple[int, int, str], list[ExplanationIn]] = {}
    for entity, explanations in instances:
        if entity is not None:
            entities.setdefault((entity.start, entity.end, entity.label), []).extend(explanations)
    return DocumentRecord(text, annotations=tuple(
        RecordAnnotation(label, start, end, explanations=tuple(explanations))
        for (start, end, label), explanations in entities.items()), location=f"line {first_line}")


def read_triggers(source: ImportSource) -> Iterator[DocumentRecord]:
    """Consecutive instances of the same sentence become one document; each instance adds
    its entity (once) and that entity's triggers."""
    current: list[str] | None = None
    instances: list = []
    first_line = 0
    for tokens, tags, lines in _sentences(source):
        if tokens != current:
            if current is not None:
                yield _merged(current, instances, first_line)
            current, instances, first_line = tokens, [], lines[0]
        instances.append(_instance(tokens, tags, lines, join_tokens(tokens)[1]))
    if current is not None:
        yield _merged(current, instances, first_line)


def write_triggers(records: Iterable[DocumentRecord], context: FormatContext) -> Iterator[str]:
    """One instance per entity (its k-th trigger tagged T-k); a document without entities
    gives one instance tagged O throughout."""
    for record in records:
        entities = [a for a in record.annotations if a.kind == SPAN]
        cuts = [o for a in entities for o in (a.start, a.end)]
        cuts += [o for a in entities for e in a.explanations for s in e.spans for o in (s.start, s.end)]
        tokens = tokenize(record.text, cuts)
        for entity in entities or [None]:
            tags = bio_tags(tokens, [entity] if entity else [])
            for k, explanation in enumerate(entity.explanations if entity else ()):
                for span in explanation.spans:
                    for i in token_index(tokens, span.start, span.end):
                        tags[i] = f"T-{k}"
            yield "".join(f"{record.text[s:e]}\t{tag}\n" for (s, e), tag in zip(tokens, tags)) + "\n"
