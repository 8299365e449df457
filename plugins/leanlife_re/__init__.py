"""Relation extraction: a directed relation (subject -> object) between two entity spans of a
document, with natural-language explanations. Entities are the document's NER spans, made in
the project or imported with the documents."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Mapping

import pluggy

from leanlife_server.plugin_api import (
    EXPLANATION_NATURAL_LANGUAGE,
    RELATION,
    SPAN,
    AnnotationData,
    DocumentContext,
    DocumentRecord,
    TaskDefinition,
    ValidationError,
    read_int,
    read_label,
    read_natural_language_explanations,
    read_span,
)
from leanlife_re.metrics import evaluate as evaluate_relations

hookimpl = pluggy.HookimplMarker("leanlife")


def _entity(payload: Mapping[str, Any], doc: DocumentContext, key: str) -> int:
    annotation_id = read_int(payload, key)
    if annotation_id not in doc.entity_spans:
        raise ValidationError(key, f"annotation {annotation_id} is not an entity span of this document")
    return annotation_id


def parse_relation_or_entity(payload: Mapping[str, Any], doc: DocumentContext) -> AnnotationData:
    """A payload with ``subject`` and ``object`` is a relation; one with offsets is an entity."""
    if "start" in payload and "subject" not in payload and "object" not in payload:
        if payload.get("explanations"):
            raise ValidationError("explanations", "entities in a relation project carry no explanations")
        entity = read_span(payload, doc.text)
        return AnnotationData(SPAN, read_label(payload, doc, SPAN), start=entity.start, end=entity.end)
    label = read_label(payload, doc, RELATION)
    subject = _entity(payload, doc, "subject")
    obj = _entity(payload, doc, "object")
    if subject == obj:
        raise ValidationError("object", "a relation needs two different entities")
    return AnnotationData(RELATION, label, subject_id=subject, object_id=obj,
                        explanations=read_natural_language_explanations(payload, doc))


def entities_only(record: DocumentRecord) -> DocumentRecord:
    """An NER document as a relation project takes it: its entity spans, without their trigger
    explanations (entities of a relation project carry none)."""
    return replace(record, annotations=tuple(
        replace(a, explanations=()) for a in record.annotations if a.kind == SPAN))


RE = TaskDefinition(
    name="re",
    title="Relation extraction",
    label_kinds=(RELATION, SPAN),
    explanation_kinds=(EXPLANATION_NATURAL_LANGUAGE,),
    input_kinds=(SPAN,),
    ui_component="re",
    view="view.js",  # built from view/ into static/ by `make install`
    parse_annotation=parse_relation_or_entity,
    description="Directed relations between entity spans; explanations are sentences.",
    evaluate=evaluate_relations,
    derived_from="ner",  # POST .../derived-project: the documents and entities of an NER project
    derive_record=entities_only,
)


@hookimpl
def leanlife_tasks() -> list[TaskDefinition]:
    return [RE]
