"""Relation extraction files: SemEval-2010 Task 8 and a CSV with one relation a row."""

from __future__ import annotations

import re
from typing import Iterable, Iterator

from leanlife_formats.common import DEFAULT_ENTITY_LABEL, option
from leanlife_formats.documents import EXPLANATION_SEPARATOR, cell_explanations, csv_text, grouped_rows
from leanlife_server.plugin_api import (
    RELATION,
    DocumentRecord,
    FormatContext,
    FormatError,
    ImportSource,
    RecordAnnotation,
)

_SEMEVAL_HEAD = re.compile(r'^(\d+)\t"(.*)"\s*$')
_TAG = re.compile(r"</?e[12]>")
_RELATION = re.compile(r"^([^()\s]+)\((e[12]),(e[12])\)$")
OTHER = "Other"


def sniff_semeval(head: str) -> bool:
    return bool(_SEMEVAL_HEAD.match(head.split("\n", 1)[0].rstrip("\r")))


def _untag(sentence: str, location: str) -> tuple[str, dict[str, tuple[int, int]]]:
    """The sentence without its <e1>/<e2> tags, and each entity's offsets in it."""
    text, spans, opened, position = [], {}, {}, 0
    length = 0
    for match in _TAG.finditer(sentence):
        text.append(sentence[position:match.start()])
        length += match.start() - position
        position = match.end()
        tag = match.group()
        name = tag.strip("</>")
        if tag.startswith("</"):
            if name not in opened:
                raise FormatError(f"{tag} closes an entity that was not opened", location, "sentence")
            spans[name] = (opened.pop(name), length)
        else:
            opened[name] = length
    text.append(sentence[position:])
    if set(spans) != {"e1", "e2"} or opened:
        raise FormatError("needs one <e1>..</e1> and one <e2>..</e2>", location, "sentence")
    return "".join(text), spans


def _example(lines: list[tuple[int, str]], entity_label: str) -> DocumentRecord:
    (number, head), rest = lines[0], lines[1:]
    location = f"line {number}"
    match = _SEMEVAL_HEAD.match(head)
    if not match:
        raise FormatError('must be ID<TAB>"sentence with <e1>..</e1> and <e2>..</e2>"', location, "sentence")
    if not rest or len(rest) > 2:
        raise FormatError("an example is the sentence line, the relation line and a comment line",
                          location, "relation")
    text, spans = _untag(match.group(2), location)
    relation = rest[0][1].strip()
    if relation == OTHER:
        name, subject, obj = OTHER, "e1", "e2"
    else:
        parsed = _RELATION.match(relation)
        if not parsed or parsed.group(2) == parsed.group(3):
            raise FormatError(f"{relation!r} is neither Other nor Name(e1,e2) / Name(e2,e1)",
                              f"line {rest[0][0]}", "relation")
        name, subject, obj = parsed.groups()
    comment = rest[1][1].partition("Comment:")[2].strip() if len(rest) == 2 else ""
    entities = {key: RecordAnnotation(entity_label, *spans[key]) for key in ("e1", "e2")}
    order = ["e1", "e2"]
    meta = {"semeval_id": int(match.group(1)), **({"comment": comment} if comment else {})}
    return DocumentRecord(text, meta, (entities["e1"], entities["e2"],
                                       RecordAnnotation(name, subject=order.index(subject),
                                                        object=order.index(obj))), location)


def read_semeval(source: ImportSource) -> Iterator[DocumentRecord]:
    entity_label = option(source.context, "entity_label", DEFAULT_ENTITY_LABEL)
    group: list[tuple[int, str]] = []
    for number, line in source.lines():
        if line.strip():
            group.append((number, line))
        elif group:
            yield _example(group, entity_label)
            group = []
    if group:
        yield _example(group, entity_label)


def _tagged(text: str, first: RecordAnnotation, second: RecordAnnotation) -> str:
    out, position = [], 0
    for entity, name in ((first, "e1"), (second, "e2")):
        out += [text[position:entity.start], f"<{name}>", text[entity.start:entity.end], f"</{name}>"]
        position = entity.end
    return "".join(out + [text[position:]])


def write_semeval(records: Iterable[DocumentRecord], context: FormatContext) -> Iterator[str]:
    """One example per relation; e1 is the entity that comes first in the sentence."""
    number = 0
    for record in records:
        for relation in (a for a in record.annotations if a.kind == RELATION):
            number += 1
            subject, obj = record.annotations[relation.subject], record.annotations[relation.object]
            first, second = sorted((subject, obj), key=lambda a: (a.start, a.end))
            if first.end > second.start:
                raise FormatError("SemEval tags cannot nest overlapping entities",
                                  record.location, "annotations")
            label = relation.label if relation.label == OTHER else \
                f"{relation.label}({'e1,e2' if subject is first else 'e2,e1'})"
            identifier = record.meta.get("semeval_id", number)
            yield (f'{identifier}\t"{_tagged(record.text, first, second)}"\n{label}\n'
                   f'Comment:{" " + record.meta["comment"] if record.meta.get("comment") else ""}\n\n')


# Relations CSV ---------------------------------------------------------------------------

RELATION_COLUMNS = ["document", "text", "relation", "subject_start", "subject_end", "subject_label",
                    "object_start", "object_end", "object_label", "explanation", "annotator"]


def sniff_relations_csv(head: str) -> bool:
    header = head.split("\n", 1)[0]
    return "subject_start" in header and "object_start" in header


def _offset(row: dict, key: str, number: int) -> int:
    try:
        return int(row[key])
    except (KeyError, TypeError, ValueError):
        raise FormatError(f"must be an integer offset, got {row.get(key)!r}", f"line {number}", key) from None


def read_relations_csv(source: ImportSource) -> Iterator[DocumentRecord]:
    """Rows of one document (same ``document`` value, consecutive) share their entities."""
    for number, rows in grouped_rows(source, "document", {"text": None}):
        entities: dict[tuple[int, int, str], int] = {}
        annotations: list[RecordAnnotation] = []

        def entity(row: dict, role: str) -> int:
            key = (_offset(row, f"{role}_start", number), _offset(row, f"{role}_end", number),
                   row.get(f"{role}_label") or DEFAULT_ENTITY_LABEL)
            if key not in entities:
                entities[key] = len(annotations)
                annotations.append(RecordAnnotation(key[2], key[0], key[1]))
            return entities[key]

        for row in rows:
            if not row.get("relation"):
                continue
            subject, obj = entity(row, "subject"), entity(row, "object")
            annotations.append(RecordAnnotation(row["relation"], subject=subject, object=obj,
                                                explanations=cell_explanations(row.get("explanation")),
                                                annotator=row.get("annotator") or None))
        yield DocumentRecord(rows[0]["text"], annotations=tuple(annotations), location=f"line {number}")


def write_relations_csv(records: Iterable[DocumentRecord], context: FormatContext) -> Iterator[str]:
    """One row per relation (a document without relations: one row with an empty relation)."""
    def rows():
        for n, record in enumerate(records, 1):
            relations = [a for a in record.annotations if a.kind == RELATION]
            if not relations:
                yield [n, record.text] + [""] * (len(RELATION_COLUMNS) - 2)
            for r in relations:
                s, o = record.annotations[r.subject], record.annotations[r.object]
                yield [n, record.text, r.label, s.start, s.end, s.label, o.start, o.end, o.label,
                       EXPLANATION_SEPARATOR.join(e.text for e in r.explanations if e.text),
                       r.annotator or ""]
    return csv_text(RELATION_COLUMNS, rows())
