"""Label Studio JSON, both ways: a list of tasks ``{"data": {"text": ...}, "annotations":
[{"result": [...]}]}`` whose results are ``labels`` (spans), ``relation`` (``from_id`` /
``to_id`` between span results) and ``choices`` (document labels). A ``textarea`` result
carries the natural-language explanation of the annotation's choices. Cancelled annotations
and predictions are not imported; trigger and relation explanations are not exported. Each
annotation's ``completed_by`` is its annotator, both ways (docs/formats.md)."""

from __future__ import annotations

from typing import Any, Iterable, Iterator, Mapping

from leanlife_formats.common import json_array, nl_texts, option, sniff_json_value
from leanlife_server.plugin_api import (
    DOCUMENT,
    RELATION,
    SPAN,
    DocumentRecord,
    ExplanationIn,
    EXPLANATION_NATURAL_LANGUAGE,
    FormatContext,
    FormatError,
    ImportSource,
    RecordAnnotation,
)

EXPLANATION_FIELD = "explanation"


def sniff_label_studio(head: str) -> bool:
    value = sniff_json_value(head)
    return isinstance(value, Mapping) and isinstance(value.get("data"), Mapping)


def _annotator(completed_by: Any) -> str | None:
    """Label Studio writes a user id or, in older exports, a user object: the annotator is its
    username, else its email, else the id as a string ("7"), so that two annotators of one task
    stay two (docs/formats.md, annotators)."""
    if isinstance(completed_by, Mapping):
        name = completed_by.get("username") or completed_by.get("email")
        completed_by = name if name else completed_by.get("id")
    if isinstance(completed_by, bool):
        return None
    if isinstance(completed_by, (int, str)) and str(completed_by).strip():
        return str(completed_by)
    return None


def _completed_by(annotator: str) -> int | dict[str, str]:
    """A numeric annotator (a Label Studio id read in) goes back as that id, a name as a user
    object, as older Label Studio exports wrote it."""
    return int(annotator) if annotator.isascii() and annotator.isdigit() else {"username": annotator}


def _results(annotation: Mapping, location: str, where: str
             ) -> tuple[list[RecordAnnotation], list[tuple[str, int, int]]]:
    results = annotation.get("result", [])
    if not isinstance(results, list):
        raise FormatError("must be a list", location, f"{where}.result")
    annotator = _annotator(annotation.get("completed_by"))
    spans, regions, choices, relations, explanations = [], {}, [], [], []
    for i, result in enumerate(results):
        here = f"{where}.result[{i}]"
        if not isinstance(result, Mapping):
            raise FormatError("must be an object", location, here)
        value = result.get("value") or {}
        kind = result.get("type")
        if kind == "labels":
            for label in value.get("labels") or []:
                regions.setdefault(result.get("id"), len(spans))
                spans.append(RecordAnnotation(label, value.get("start"), value.get("end"), annotator=annotator))
        elif kind == "choices":
            choices += value.get("choices") or []
        elif kind == "textarea":
            explanations += [t for t in value.get("text") or [] if isinstance(t, str)]
        elif kind == "relation":
            if result.get("from_id") not in regions or result.get("to_id") not in regions:
                raise FormatError("from_id and to_id must name span results of the same annotation",
                                  location, here)
            ends = [regions[result["from_id"]], regions[result["to_id"]]]
            if result.get("direction") == "left":
                ends.reverse()
            labels = result.get("labels") or []
            if not labels:
                raise FormatError("a relation needs a label", location, f"{here}.labels")
            relations += [(label, *ends) for label in labels]
    nl = tuple(ExplanationIn(EXPLANATION_NATURAL_LANGUAGE, text=t) for t in explanations)
    out = list(spans)
    out += [RecordAnnotation(c, explanations=nl, annotator=annotator) for c in choices]
    return out, relations


def read_label_studio(source: ImportSource) -> Iterator[DocumentRecord]:
    text_key = option(source.context, "text_key", "text")
    for location, task in source.json_values():
        if not isinstance(task, Mapping) or not isinstance(task.get("data"), Mapping):
            raise FormatError("must be a task object with a data object", location, "data")
        data = task["data"]
        if text_key not in data:
            raise FormatError(f"has no {text_key!r} (name the key with text_key)", location, f"data.{text_key}")
        annotations: list[RecordAnnotation] = []
        for n, annotation in enumerate(task.get("annotations") or []):
            if not isinstance(annotation, Mapping):
                raise FormatError("must be an object", location, f"annotations[{n}]")
            if annotation.get("was_cancelled"):
                continue
            items, relations = _results(annotation, location, f"annotations[{n}]")
            base = len(annotations)
            annotations += items
            annotations += [RecordAnnotation(label, subject=base + s, object=base + o,
                                             annotator=items[s].annotator) for label, s, o in relations]
        meta = {k: v for k, v in data.items() if k != text_key}
        yield DocumentRecord(data[text_key], meta, tuple(annotations), location)


def _result_for(record: DocumentRecord, index: int) -> dict[str, Any]:
    a = record.annotations[index]
    return {"id": f"r{index}", "from_name": "label", "to_name": "text", "type": "labels",
            "value": {"start": a.start, "end": a.end, "text": record.text[a.start:a.end],
                      "labels": [a.label]}}


def _annotation_json(record: DocumentRecord, annotator: str | None, indexes: list[int]) -> dict[str, Any]:
    """One Label Studio annotation: one annotator's results (plus the entities their
    relations point at)."""
    mine = [record.annotations[i] for i in indexes]
    needed = sorted({i for i in indexes if record.annotations[i].kind == SPAN} |
                    {e for a in mine if a.kind == RELATION for e in (a.subject, a.object)})
    result = [_result_for(record, i) for i in needed]
    result += [{"from_id": f"r{a.subject}", "to_id": f"r{a.object}", "type": "relation",
                "direction": "right", "labels": [a.label]} for a in mine if a.kind == RELATION]
    choices = [a for a in mine if a.kind == DOCUMENT]
    if choices:
        result.append({"id": "choice", "from_name": "label", "to_name": "text", "type": "choices",
                       "value": {"choices": [a.label for a in choices]}})
        texts = [t for a in choices for t in nl_texts(a.explanations)]
        if texts:
            result.append({"id": "explanation", "from_name": EXPLANATION_FIELD, "to_name": "text",
                           "type": "textarea", "value": {"text": texts}})
    return {"result": result, **({"completed_by": _completed_by(annotator)} if annotator else {})}


def label_studio_json(record: DocumentRecord) -> dict[str, Any]:
    groups: dict[str | None, list[int]] = {}
    for i, a in enumerate(record.annotations):
        groups.setdefault(a.annotator, []).append(i)
    return {"data": {**record.meta, "text": record.text},
            "annotations": [_annotation_json(record, annotator, indexes)
                            for annotator, indexes in groups.items()]}


def write_label_studio(records: Iterable[DocumentRecord], context: FormatContext) -> Iterator[str]:
    return json_array(label_studio_json(r) for r in records)
