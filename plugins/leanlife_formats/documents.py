"""LeanLife's own shapes: plain text, CSV with a label column, JSON and JSON Lines with
everything (documents, metadata, annotations per annotator, explanations, sources), and
the (datapoint, label, explanation) triplets."""

from __future__ import annotations

import csv
import io
import itertools
from typing import Any, Iterable, Iterator, Mapping

from leanlife_formats.common import (
    explanations_from,
    explanations_json,
    json_array,
    json_lines,
    nl_texts,
    option,
)
from leanlife_server.plugin_api import (
    DOCUMENT,
    RELATION,
    SPAN,
    DocumentRecord,
    FormatContext,
    FormatError,
    ImportSource,
    RecordAnnotation,
)

EXPLANATION_SEPARATOR = "\n"  # several explanations in one CSV cell, one per line


# Plain text ------------------------------------------------------------------------------

def read_text(source: ImportSource) -> Iterator[DocumentRecord]:
    """One document per line; blank lines are skipped."""
    for number, line in source.lines():
        if line.strip():
            yield DocumentRecord(line, location=f"line {number}")


# JSON and JSON Lines ---------------------------------------------------------------------

RECORD_KEYS = ("text", "meta", "annotations", "label", "explanation", "explanations", "annotator")


def _annotation(raw: Any, location: str, where: str) -> RecordAnnotation:
    if not isinstance(raw, Mapping):
        raise FormatError("must be an object", location, where)
    if "explanation" in raw and "explanations" in raw:
        raise FormatError("give explanation or explanations, not both", location, where)
    attributes = raw.get("attributes") or {}
    if not isinstance(attributes, Mapping):
        raise FormatError("must be an object", location, f"{where}.attributes")
    return RecordAnnotation(
        label=raw.get("label"), start=raw.get("start"), end=raw.get("end"),
        subject=raw.get("subject"), object=raw.get("object"),
        explanations=explanations_from(raw.get("explanations", raw.get("explanation")),
                                       location, f"{where}.explanations"),
        annotator=raw.get("annotator"), source=raw.get("source"), attributes=attributes)


def record_from_json(value: Any, location: str, context: FormatContext) -> DocumentRecord:
    """A document object: ``text``, ``meta`` (other keys join it), ``annotations``, and for
    projects with document labels the shorthand ``label`` (+ ``explanation``)."""
    if not isinstance(value, dict):
        raise FormatError("must be a JSON object", location, "record")
    meta = value.get("meta", {})
    if not isinstance(meta, dict):
        raise FormatError("must be an object", location, "meta")
    shorthand = "label" in value and DOCUMENT in context.label_kinds
    extra = {k: v for k, v in value.items() if k not in RECORD_KEYS or (k == "label" and not shorthand)}
    raw_annotations = value.get("annotations", [])
    if not isinstance(raw_annotations, list):
        raise FormatError("must be a list", location, "annotations")
    annotations = [_annotation(a, location, f"annotations[{i}]") for i, a in enumerate(raw_annotations)]
    if shorthand:
        annotations.append(_annotation({k: value[k] for k in ("label", "explanation", "explanations",
                                                              "annotator") if k in value},
                                       location, "label"))
    return DocumentRecord(value.get("text"), {**meta, **extra}, tuple(annotations), location)


def read_json(source: ImportSource) -> Iterator[DocumentRecord]:
    for location, value in source.json_values():
        yield record_from_json(value, location, source.context)


def record_json(record: DocumentRecord) -> dict[str, Any]:
    annotations = []
    for a in record.annotations:
        item: dict[str, Any] = {"label": a.label}
        if a.kind == RELATION:
            item.update(subject=a.subject, object=a.object)
        elif a.kind == SPAN:
            item.update(start=a.start, end=a.end)
        if a.attributes:
            item["attributes"] = dict(a.attributes)
        item.update(explanations=explanations_json(a.explanations), annotator=a.annotator,
                    source=a.source)
        annotations.append(item)
    return {"text": record.text, "meta": dict(record.meta), "annotations": annotations}


def write_jsonl(records: Iterable[DocumentRecord], context: FormatContext) -> Iterator[str]:
    return json_lines(record_json(r) for r in records)


def write_json(records: Iterable[DocumentRecord], context: FormatContext) -> Iterator[str]:
    return json_array(record_json(r) for r in records)


# CSV -------------------------------------------------------------------------------------

# A document may be longer than the csv module's 128 KiB default; validation enforces the
# project's document size limit (LEANLIFE_MAX_DOCUMENT_CHARS) with a clear message.
CSV_FIELD_LIMIT = 1 << 30
csv.field_size_limit(max(csv.field_size_limit(), CSV_FIELD_LIMIT))


def _header(reader: csv.DictReader, required: Mapping[str, str | None]) -> list[str]:
    """The header row; each column of ``required`` (column: the option that names it, if one
    does) must be in it."""
    header = reader.fieldnames
    if header is None:
        raise FormatError("the file is empty; a CSV file starts with a header row", "line 1", "header")
    for column, option_name in required.items():
        if column not in header:
            hint = f"; name it with the {option_name} option" if option_name else ""
            raise FormatError(f"the header has no {column!r} column (columns: {', '.join(header)})"
                              f"{hint}", "line 1", column)
    return header


def csv_rows(source: ImportSource, required: Mapping[str, str | None] | None = None
             ) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, row) of a CSV file with a header row (checked to have the ``required``
    columns). Every row has as many cells as the header: a short row, like a quoted field the
    file ends in, is a file cut short."""
    with source.open() as stream:
        reader = csv.DictReader(stream, strict=True)
        done = 0  # the last line of the last complete row
        try:
            header = _header(reader, required or {})
            done = reader.line_num
            for row in reader:
                cells = len(header) + len(row.get(None, ())) - sum(v is None for v in row.values())
                if cells != len(header):
                    raise FormatError(f"has {cells} cells; the header has {len(header)}",
                                      f"line {reader.line_num}", "row")
                yield reader.line_num, row
                done = reader.line_num
        except csv.Error as exc:
            if str(exc) == "unexpected end of data":
                raise FormatError("a quoted field opened on or after this line is never closed: "
                                  "the file is cut short or a quote is missing",
                                  f"line {done + 1}", "row") from None
            raise FormatError(f"is not valid CSV ({exc})", f"line {reader.line_num}", "row") from None


def grouped_rows(source: ImportSource, key: str, required: Mapping[str, str | None] | None = None
                 ) -> Iterator[tuple[int, list[dict[str, str]]]]:
    """Consecutive rows with the same value in column ``key`` (several annotations of one
    document); without that column every row stands alone."""
    group: list[dict[str, str]] = []
    first = 0
    for number, row in csv_rows(source, required):
        if group and (key not in row or row[key] != group[0][key]):
            yield first, group
            group = []
        if not group:
            first = number
        group.append(row)
    if group:
        yield first, group


def cell_explanations(cell: str | None) -> tuple:
    return explanations_from([t for t in (cell or "").split(EXPLANATION_SEPARATOR) if t.strip()], "", "")


def read_csv(source: ImportSource) -> Iterator[DocumentRecord]:
    """A ``text`` column; in projects with document labels a ``label`` column (and
    ``explanation``, ``annotator``); ``document`` groups rows; other columns become metadata.
    A column named by the ``text_column`` or ``label_column`` option must exist."""
    text_column = option(source.context, "text_column", "text")
    label_column = option(source.context, "label_column", "label")
    required = {text_column: "text_column"}
    if "label_column" in source.context.options:
        required[label_column] = "label_column"
    labels = DOCUMENT in source.context.label_kinds
    reserved = {text_column, "document"} | ({label_column, "explanation", "annotator"} if labels else set())
    for number, rows in grouped_rows(source, "document", required):
        meta = {k: v for k, v in rows[0].items() if k not in reserved}
        annotations = tuple(
            RecordAnnotation(row[label_column], explanations=cell_explanations(row.get("explanation")),
                             annotator=row.get("annotator") or None)
            for row in rows if labels and row.get(label_column))
        yield DocumentRecord(rows[0][text_column], meta, annotations, f"line {number}")


def csv_text(header: list[str], rows: Iterable[list[Any]]) -> Iterator[str]:
    """CSV text, a row at a time (text, never bytes)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for cells in itertools.chain([header], rows):
        writer.writerow(cells)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()


def write_csv(records: Iterable[DocumentRecord], context: FormatContext) -> Iterator[str]:
    """One row per document label (a document without one gets one row with an empty label)."""
    def rows():
        for n, record in enumerate(records, 1):
            labels = [a for a in record.annotations if a.kind == DOCUMENT] or [None]
            for a in labels:
                yield [n, record.text, a.label if a else "",
                       EXPLANATION_SEPARATOR.join(nl_texts(a.explanations)) if a else "",
                       (a.annotator or "") if a else ""]
    return csv_text(["document", "text", "label", "explanation", "annotator"], rows())


# Triplets --------------------------------------------------------------------------------

def _piece(text: str, a: RecordAnnotation) -> dict[str, Any]:
    return {"start": a.start, "end": a.end, "text": text[a.start:a.end], "label": a.label}


def _explanation(text: str, e) -> Any:
    if e.spans:
        return {"trigger": [{"start": s.start, "end": s.end, "text": text[s.start:s.end]} for s in e.spans]}
    return e.text


def triplets(record: DocumentRecord, context: FormatContext) -> Iterator[dict[str, Any]]:
    relations_only = RELATION in context.label_kinds
    for a in record.annotations:
        if relations_only and a.kind != RELATION:
            continue
        datapoint: dict[str, Any] = {"text": record.text}
        if a.kind == RELATION:
            datapoint.update(subject=_piece(record.text, record.annotations[a.subject]),
                             object=_piece(record.text, record.annotations[a.object]))
        elif a.kind == SPAN:
            datapoint.update(span={"start": a.start, "end": a.end, "text": record.text[a.start:a.end]})
        for e in a.explanations or [None]:
            yield {"datapoint": datapoint, "label": a.label,
                   "explanation": _explanation(record.text, e) if e else None,
                   "annotator": a.annotator}


def write_triplets(records: Iterable[DocumentRecord], context: FormatContext) -> Iterator[str]:
    """One JSON line per (datapoint, label, explanation); a label without explanations gives
    one line with ``explanation: null``."""
    return json_lines(t for r in records for t in triplets(r, context))
