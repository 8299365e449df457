"""Pieces the format modules share: explanations and annotations from JSON, tokens and BIO
tags for the token-based formats, options."""

from __future__ import annotations

import json
import re
from typing import Any, Iterable, Iterator, Mapping, Sequence

from leanlife_server.plugin_api import (
    EXPLANATION_NATURAL_LANGUAGE,
    EXPLANATION_TRIGGER,
    SPAN,
    DocumentRecord,
    ExplanationIn,
    FormatContext,
    FormatError,
    RecordAnnotation,
    Span,
)

DEFAULT_ENTITY_LABEL = "entity"
_TOKEN = re.compile(r"\S+")


def option(context: FormatContext, name: str, default: Any) -> Any:
    return context.options.get(name, default)


def sniff_json_value(head: str) -> Any:
    """The first JSON value of a JSON Lines file or of a JSON array, or None."""
    text = head.lstrip()
    if text.startswith("["):
        text = text[1:].lstrip()
    else:
        text = text.split("\n", 1)[0]
    try:
        value, _ = json.JSONDecoder().raw_decode(text)
    except json.JSONDecodeError:
        return None
    return value


# Explanations and annotations in JSON ----------------------------------------------------

def _span(raw: Any, location: str, where: str) -> Span:
    if isinstance(raw, Mapping):
        return Span(raw.get("start"), raw.get("end"))
    if isinstance(raw, Sequence) and not isinstance(raw, str) and len(raw) == 2:
        return Span(raw[0], raw[1])
    raise FormatError("must be {start, end} or [start, end]", location, where)


def explanations_from(value: Any, location: str, where: str) -> tuple[ExplanationIn, ...]:
    """Explanations written as a sentence, a list of sentences, or a list of objects
    ({"text": ...} or {"kind": "trigger", "spans": [...]})."""
    if value is None:
        return ()
    items = [value] if isinstance(value, (str, Mapping)) else value
    if not isinstance(items, list):
        raise FormatError("must be a sentence or a list of explanations", location, where)
    out = []
    for i, item in enumerate(items):
        if isinstance(item, str):
            out.append(ExplanationIn(EXPLANATION_NATURAL_LANGUAGE, text=item))
        elif isinstance(item, Mapping) and "spans" in item:
            spans = item["spans"]
            if not isinstance(spans, list):
                raise FormatError("must be a list of spans", location, f"{where}[{i}].spans")
            out.append(ExplanationIn(item.get("kind", EXPLANATION_TRIGGER), spans=tuple(
                _span(s, location, f"{where}[{i}].spans[{j}]") for j, s in enumerate(spans))))
        elif isinstance(item, Mapping):
            out.append(ExplanationIn(item.get("kind", EXPLANATION_NATURAL_LANGUAGE), text=item.get("text")))
        else:
            raise FormatError("must be a sentence or an object", location, f"{where}[{i}]")
    return tuple(out)


def explanations_json(explanations: Iterable[ExplanationIn]) -> list[dict]:
    return [{"kind": e.kind, "spans": [{"start": s.start, "end": s.end} for s in e.spans]}
            if e.spans else {"kind": e.kind, "text": e.text} for e in explanations]


def nl_texts(explanations: Iterable[ExplanationIn]) -> list[str]:
    return [e.text for e in explanations if e.text is not None]


# Tokens and BIO tags ---------------------------------------------------------------------

def join_tokens(tokens: Sequence[str]) -> tuple[str, list[int]]:
    """Tokens joined by single spaces (exact and reversible), with each token's start."""
    starts, position = [], 0
    for token in tokens:
        starts.append(position)
        position += len(token) + 1
    return " ".join(tokens), starts


def tokenize(text: str, cuts: Iterable[int]) -> list[tuple[int, int]]:
    """Whitespace tokens, also cut at every offset in ``cuts`` (entity and trigger
    boundaries), so that no label has to cover part of a token."""
    cuts = sorted(set(cuts))
    tokens = []
    for match in _TOKEN.finditer(text):
        start = match.start()
        for cut in cuts:
            if start < cut < match.end():
                tokens.append((start, cut))
                start = cut
        tokens.append((start, match.end()))
    return tokens


def token_index(tokens: Sequence[tuple[int, int]], start: int, end: int) -> list[int]:
    return [i for i, (s, e) in enumerate(tokens) if s >= start and e <= end]


def entities_from_tags(tags: Sequence[str], starts: Sequence[int], tokens: Sequence[str],
                       lines: Sequence[int]) -> list[RecordAnnotation]:
    """Spans from BIO tags; an I- tag that does not continue its type opens a new entity (as
    conlleval reads IOB1)."""
    entities: list[RecordAnnotation] = []
    current: list | None = None
    for i, tag in enumerate(tags):
        kind, _, label = tag.partition("-")
        if kind == "O" and not label:
            current = None
            continue
        if kind not in ("B", "I") or not label:
            raise FormatError(f"tag {tag!r} is not O, B-TYPE or I-TYPE", f"line {lines[i]}", "tag")
        end = starts[i] + len(tokens[i])
        if kind == "I" and current is not None and current[0] == label:
            current[2] = end
        else:
            current = [label, starts[i], end]
            entities.append(current)  # type: ignore[arg-type]
    return [RecordAnnotation(label, start, end) for label, start, end in entities]


def non_overlapping_spans(record: DocumentRecord) -> list[RecordAnnotation]:
    """The record's entity spans for a BIO file: duplicates (same span and label, e.g. from two
    annotators) once; overlapping entities fail, since a token carries one tag. The message
    says what to do: two annotators' overlapping entities (each may have their own) go out one
    annotator (or the curated gold layer) at a time; one annotator's (stored before NER
    refused them) need one of the two deleted."""
    spans = sorted({(a.start, a.end, a.label): a for a in record.annotations if a.kind == SPAN}.values(),
                   key=lambda a: (a.start, a.end))
    for before, after in zip(spans, spans[1:]):
        if after.start < before.end:
            text = record.text
            both = (f"entities “{text[before.start:before.end]}” [{before.start}, {before.end}) "
                    f"{before.label}{_by(before)} and “{text[after.start:after.end]}” [{after.start}, "
                    f"{after.end}) {after.label}{_by(after)} overlap; BIO gives a word one tag")
            if before.annotator != after.annotator:
                fix = ("export one annotator's work at a time (leanlife export --annotator NAME, or "
                       "\"annotator\": USER_ID in POST .../exports), or curate the document and export "
                       "the gold layer (--layer gold, or \"layer\": \"gold\")")
            else:
                fix = ("delete or shorten one of the two in the document (they were stored before "
                       "overlapping entities were refused), then export again")
            raise FormatError(f"{both}: {fix}", record.location, "annotations")
    return spans


def _by(annotation: RecordAnnotation) -> str:
    return f" by {annotation.annotator}" if annotation.annotator else ""


def bio_tags(tokens: Sequence[tuple[int, int]], spans: Iterable[RecordAnnotation]) -> list[str]:
    tags = ["O"] * len(tokens)
    for span in spans:
        for n, i in enumerate(token_index(tokens, span.start, span.end)):
            tags[i] = f"{'B' if n == 0 else 'I'}-{span.label}"
    return tags


def json_lines(values: Iterable[Any]) -> Iterator[str]:
    for value in values:
        yield json.dumps(value, ensure_ascii=False) + "\n"


def json_array(values: Iterable[Any]) -> Iterator[str]:
    separator = "[\n"
    for value in values:
        yield separator + json.dumps(value, ensure_ascii=False)
        separator = ",\n"
    yield "[]\n" if separator == "[\n" else "\n]\n"
