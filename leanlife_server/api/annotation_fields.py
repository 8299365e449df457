"""The fields an annotation request may carry, by annotation and explanation kind: the shape
every task's ``parse_annotation`` reads (``RecordAnnotation.payload`` writes it)."""

from __future__ import annotations

from typing import Any, Mapping

from leanlife_server.api.shapes import Body, Field, reject_unknown
from leanlife_server.db.models import SOURCE_MANUAL, SOURCES
from leanlife_server.plugin_api import EXPLANATION_NATURAL_LANGUAGE, EXPLANATION_TRIGGER, AnnotationData

# The generic annotation's parts, and the request fields that carry each.
_COMMON = ("label", "source", "explanations")
_SPAN = ("start", "end")
_LINKS = ("subject", "object")
_ATTRIBUTES = ("attributes",)
ANY_KIND = tuple(sorted((*_COMMON, *_SPAN, *_LINKS, *_ATTRIBUTES)))
EXPLANATION_FIELDS = {EXPLANATION_TRIGGER: ("kind", "spans"), EXPLANATION_NATURAL_LANGUAGE: ("kind", "text")}
SPAN_FIELDS = ("start", "end")

# The envelope every annotation body shares; the task's ``parse_annotation`` checks the rest
# (which fields its kinds use, offsets within the text, the explanations' content).
_OFFSET = "A character offset into the document's text (spans)."
_ENTITY = "The id of an entity span annotation on the same document (relations)."
ANNOTATION_BODY = Body({
    "label": Field(str, required=True, description="The name of one of the project's labels."),
    "source": Field(str, choices=SOURCES, default=SOURCE_MANUAL),
    "explanations": Field(list, items=Field(dict), description=(
        "Checked by the project's task: trigger explanations are {kind: 'trigger', spans: "
        "[{start, end}]}, natural-language ones {kind: 'natural_language', text}.")),
    "start": Field(int, description=_OFFSET), "end": Field(int, description=_OFFSET),
    "subject": Field(int, description=_ENTITY), "object": Field(int, description=_ENTITY),
    "attributes": Field(dict, description="The task's own part of the annotation (e.g. an aspect "
                                          "term's polarity), checked by the task."),
}, description="Which fields a kind of annotation uses is checked by the project's task: spans "
               "take start and end, relations subject and object, document labels neither; "
               "attributes only where the task defines them.")
assert set(ANNOTATION_BODY.fields) == set(ANY_KIND)


def fields_used(parsed: AnnotationData) -> tuple[str, ...]:
    """The request fields of the parts the task gave ``parsed`` (a span, links, attributes)."""
    return (*_COMMON, *(_SPAN if parsed.start is not None else ()),
            *(_LINKS if parsed.subject_id is not None or parsed.object_id is not None else ()),
            *(_ATTRIBUTES if parsed.attributes else ()))


def reject_fields_of_other_kinds(body: Mapping[str, Any], parsed: AnnotationData) -> None:
    """Once the task has parsed ``body``: refuse fields the parsed kind does not use (offsets on
    a relation), in the body and in its explanations, instead of dropping them unseen."""
    reject_unknown(body, fields_used(parsed))
    # Tasks accept only the project's explanation kind, so every item has the same one.
    kind = parsed.explanations[0].kind if parsed.explanations else None
    if kind not in EXPLANATION_FIELDS:
        return
    for i, item in enumerate(body.get("explanations") or ()):
        reject_unknown(item, EXPLANATION_FIELDS[kind], f"explanations[{i}].")
        if "spans" in EXPLANATION_FIELDS[kind]:
            for j, span in enumerate(item.get("spans") or ()):
                reject_unknown(span, SPAN_FIELDS, f"explanations[{i}].spans[{j}].")
