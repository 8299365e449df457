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
    read_explanation_list,
    read_label,
    read_span,
)
from leanlife_ner.metrics import evaluate as evaluate_entities

hookimpl = pluggy.HookimplMarker("leanlife")


def _overlaps(a: Span, b: Span) -> bool:
    return a.start < b.end and b.start < a.end


def read_triggers(payload: Mapping[str, Any], doc: DocumentContext, entity: Span) -> tuple[ExplanationIn, ...]:
    triggers = []
    for i, item in enumerate(read_explanation_list(payload, doc, (EXPLANATION_TRIGGER,))):
        where = f"explanations[{i}].spans"
        raw_spans = item.get("spans")
        if not isinstance(raw_spans, list) or not raw_spans:
            raise ValidationError(where, "a trigger needs a non-empty list of spans")
        spans: list[Span] = []
        for j, raw in enumerate(raw_spans):
            if not isinstance(raw, Mapping):
                raise ValidationError(f"{where}[{j}]", "must be an object with start and end")
            span = read_span(raw, doc.text, f"{where}[{j}].")
            if _overlaps(span, entity):
                raise ValidationError(f"{where}[{j}]", f"trigger span [{span.start}, {span.end}) "
                                                       f"overlaps the entity [{entity.start}, {entity.end})")
            if any(_overlaps(span, other) for other in spans):
                raise ValidationError(f"{where}[{j}]", "overlaps another span of the same trigger")
            spans.append(span)
        triggers.append(ExplanationIn(EXPLANATION_TRIGGER, spans=tuple(sorted(spans, key=lambda s: s.start))))
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
    parse_annotation=parse_entity,
    description="Character spans with entity labels; explanations are trigger spans.",
    evaluate=evaluate_entities,
)


@hookimpl
def leanlife_tasks() -> list[TaskDefinition]:
    return [NER]
