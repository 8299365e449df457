"""Named entity recognition: labelled character spans, each with optional trigger explanations.

A trigger is one or more spans of the same text (possibly discontinuous) that made the
annotator choose the label, e.g. "said" or "Mr." for a PERSON (TriggerNER, Lin et al. 2020).
"""

from __future__ import annotations

from typing import Any, Mapping

import pluggy

from leanlife_server.plugin_api import (
    EXPLANATION_TRIGGER,
    SPAN,
    AnnotationData,
    DocumentContext,
    ExplanationIn,
    Span,
    TaskDefinition,
    ValidationError,
    check_disjoint,
    check_span_limit,
    read_explanation_list,
    read_label,
    read_span,
    read_span_list,
)
from leanlife_ner.metrics import evaluate as evaluate_entities

hookimpl = pluggy.HookimplMarker("leanlife")


def _overlaps(a: Span, b: Span) -> bool:
    return a.start < b.end and b.start < a.end


def _trigger_span_count(items: list[Mapping[str, Any]]) -> int:
    return sum(len(item["spans"]) if isinstance(item.get("spans"), list) else 1 for item in items)


def read_triggers(payload: Mapping[str, Any], doc: DocumentContext, entity: Span) -> tuple[ExplanationIn, ...]:
    """Each trigger's spans lie in the text, off the entity, and neither overlap nor repeat
    each other (spans of different triggers may)."""
    items = read_explanation_list(payload, doc, (EXPLANATION_TRIGGER,))
    check_span_limit(_trigger_span_count(items), doc, "explanations", "trigger spans")
    triggers = []
    for i, item in enumerate(items):
        where = f"explanations[{i}].spans"
        spans = read_span_list(item.get("spans"), doc.text, where)
        for j, span in enumerate(spans):
            if _overlaps(span, entity):
                raise ValidationError(f"{where}[{j}]", f"trigger span [{span.start}, {span.end}) "
                                                       f"overlaps the entity [{entity.start}, {entity.end})")
        triggers.append(ExplanationIn(EXPLANATION_TRIGGER, spans=check_disjoint(spans, where, "trigger span")))
    return tuple(triggers)


def parse_entity(payload: Mapping[str, Any], doc: DocumentContext) -> AnnotationData:
    label = read_label(payload, doc, SPAN)
    entity = read_span(payload, doc.text)
    return AnnotationData(SPAN, label, start=entity.start, end=entity.end,
                        explanations=read_triggers(payload, doc, entity))


NER = TaskDefinition(
    name="ner",
    title="Named entity recognition",
    label_kinds=(SPAN,),
    explanation_kinds=(EXPLANATION_TRIGGER,),
    ui_component="ner",
    view="view.js",  # built from view/ into static/ by `make install`
    parse_annotation=parse_entity,
    description="Character spans with entity labels; explanations are trigger spans.",
    evaluate=evaluate_entities,
    overlapping_spans=False,  # one tag per token: docs/user-guide.md, "Overlapping entities"
)


@hookimpl
def leanlife_tasks() -> list[TaskDefinition]:
    return [NER]
