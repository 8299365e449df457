"""doccano JSONL, both ways: sequence labeling (``label``: [[start, end, label]]), text
classification (``label``: [names]) and relations (``entities`` with ``start_offset`` /
``end_offset``, ``relations`` with ``from_id`` / ``to_id`` / ``type``). Other keys are
metadata. doccano has no explanations; those are not exported.

Annotators (docs/formats.md): a line's ``user`` (doccano's per-user export) is the annotator
of all its labels; a line with several annotators names each label's own: ``[start, end,
label, user]``, ``{"label": name, "user": user}``, or ``user`` in an entity or relation."""

from __future__ import annotations

from typing import Any, Iterable, Iterator, Mapping

from leanlife_formats.common import json_lines, sniff_json_value
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

OWN_KEYS = ("text", "label", "labels", "entities", "relations", "user")


def sniff_doccano(head: str) -> bool:
    value = sniff_json_value(head)
    return isinstance(value, Mapping) and "annotations" not in value and (
        "entities" in value or isinstance(value.get("label", value.get("labels")), list))


def _user(value: Any) -> str | None:
    """doccano writes user ids (numbers) or names; either becomes the annotator's name."""
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).strip():
        return None
    return str(value)


def _labels(value: Any, location: str, user: str | None) -> list[RecordAnnotation]:
    if isinstance(value, str):
        return [RecordAnnotation(value, annotator=user)]
    if not isinstance(value, list):
        raise FormatError("must be a list of labels or of [start, end, label]", location, "label")
    out = []
    for i, item in enumerate(value):
        if isinstance(item, str):
            out.append(RecordAnnotation(item, annotator=user))
        elif isinstance(item, Mapping) and isinstance(item.get("label"), str):
            out.append(RecordAnnotation(item["label"], annotator=_user(item.get("user")) or user))
        elif isinstance(item, list) and len(item) in (3, 4):
            who = _user(item[3]) if len(item) == 4 else None
            out.append(RecordAnnotation(item[2], item[0], item[1], annotator=who or user))
        else:
            raise FormatError("must be a label name or [start, end, label]", location, f"label[{i}]")
    return out


def _entities(value: Mapping, location: str, user: str | None) -> list[RecordAnnotation]:
    entities, index = [], {}
    for i, item in enumerate(value.get("entities") or []):
        if not isinstance(item, Mapping):
            raise FormatError("must be an object", location, f"entities[{i}]")
        index[item.get("id")] = len(entities)
        entities.append(RecordAnnotation(item.get("label"), item.get("start_offset"), item.get("end_offset"),
                                         annotator=_user(item.get("user")) or user))
    relations = []
    for i, item in enumerate(value.get("relations") or []):
        if not isinstance(item, Mapping) or item.get("from_id") not in index or item.get("to_id") not in index:
            raise FormatError("must name two entities of the record by from_id and to_id",
                              location, f"relations[{i}]")
        relations.append(RecordAnnotation(item.get("type"), subject=index[item["from_id"]],
                                          object=index[item["to_id"]],
                                          annotator=_user(item.get("user")) or user))
    return entities + relations


def read_doccano(source: ImportSource) -> Iterator[DocumentRecord]:
    for location, value in source.json_values():
        if not isinstance(value, Mapping):
            raise FormatError("must be a JSON object", location, "record")
        user = _user(value.get("user"))
        annotations = _entities(value, location, user) if "entities" in value else \
            _labels(value.get("label", value.get("labels", [])), location, user)
        meta = {k: v for k, v in value.items() if k not in OWN_KEYS}
        yield DocumentRecord(value.get("text"), meta, tuple(annotations), location)


def doccano_json(record: DocumentRecord, context: FormatContext) -> dict[str, Any]:
    out: dict[str, Any] = {**record.meta, "text": record.text}
    annotators = {a.annotator for a in record.annotations}
    # One annotator: the line's ``user``, labels in doccano's plain forms; several: per label.
    if len(annotators) == 1 and None not in annotators:
        out["user"] = annotators.pop()
    each = len(annotators) > 1

    def who(a: RecordAnnotation) -> dict[str, str]:
        return {"user": a.annotator} if each and a.annotator is not None else {}

    if RELATION in context.label_kinds:
        spans = [i for i, a in enumerate(record.annotations) if a.kind == SPAN]
        out["entities"] = [{"id": i, "label": record.annotations[i].label,
                            "start_offset": record.annotations[i].start,
                            "end_offset": record.annotations[i].end, **who(record.annotations[i])}
                           for i in spans]
        out["relations"] = [{"id": i, "from_id": a.subject, "to_id": a.object, "type": a.label, **who(a)}
                            for i, a in enumerate(record.annotations) if a.kind == RELATION]
    elif DOCUMENT in context.label_kinds:
        out["label"] = [{"label": a.label, **who(a)} if who(a) else a.label
                        for a in record.annotations if a.kind == DOCUMENT]
    else:
        out["label"] = [[a.start, a.end, a.label, *who(a).values()]
                        for a in record.annotations if a.kind == SPAN]
    return out


def write_doccano(records: Iterable[DocumentRecord], context: FormatContext) -> Iterator[str]:
    return json_lines(doccano_json(r, context) for r in records)
