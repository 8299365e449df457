"""What an online prediction gives the model besides the text: the annotations the task
reads as input (its ``input_kinds``; RE's entity spans), sent as ``entities``. Checked with
the task's own rules, as a saved annotation is, so that a model never sees offsets outside
the text or a label the project lacks."""

from __future__ import annotations

from typing import Any, Mapping

from flask import current_app

from leanlife_server.annotation_parts import has_span
from leanlife_server.api.shapes import Body, Field, always
from leanlife_server.db import db
from leanlife_server.db.models import Label, Project
from leanlife_server.errors import invalid
from leanlife_server.plugin_api import AnnotationData, DocumentContext, Example, ValidationError

ENTITY = Body({"start": always(int, minimum=0), "end": always(int, minimum=1),
               "label": always(str, min_length=1)}, description="an entity span of the text")
ENTITIES = Field(list, items=Field(ENTITY), max_length=lambda: current_app.config["LEANLIFE"]
                 .max_annotations_per_document,
                 description="the text's entity spans, for tasks that predict from them (RE)")


def online_examples(project: Project, body: Mapping[str, Any]) -> list[Example]:
    """The request's texts as examples, with their input annotations where the task takes
    some (422 naming the field when they are missing, unwanted or invalid)."""
    task = current_app.extensions["leanlife"].tasks.get(project.task)
    entities = body.get("entities")
    needs_entities = bool(task.input_kinds)  # the task reads input annotations: entity spans
    if "texts" in body:
        if needs_entities:
            raise invalid("entities", f"a {project.task} model predicts from the text's entity "
                                      f"spans: send {{\"text\", \"entities\"}}, one text a request")
        return [Example(None, text) for text in body["texts"]]
    if not needs_entities:
        if entities is not None:
            raise invalid("entities", f"a {project.task} model takes no input annotations")
        return [Example(None, body["text"])]
    if entities is None:
        raise invalid("entities", f"is required: a {project.task} model predicts from the "
                                  f"entity spans of the text ([{{\"start\", \"end\", \"label\"}}])")
    return [Example(None, body["text"], _entity_annotations(project, task, body["text"], entities))]


def _entity_annotations(project: Project, task, text: str, entities: list[dict]
                        ) -> tuple[AnnotationData, ...]:
    """``entities`` parsed by the task as span annotations, ids 1..n."""
    labels = dict(db.session.execute(db.select(Label.name, Label.kind)
                                     .where(Label.project_id == project.id)).all())
    context = DocumentContext(text=text, labels=labels, explanation_kind="none")
    out = []
    for i, entity in enumerate(entities):
        where = f"entities[{i}]"
        try:
            parsed = task.parse_annotation(dict(entity), context)
        except ValidationError as exc:
            raise invalid(f"{where}.{exc.field}", exc.message) from None
        if not has_span(parsed) or parsed.kind not in task.input_kinds:
            raise invalid(f"{where}.label", f"{entity['label']!r} is not a span label of this project")
        out.append(AnnotationData(parsed.kind, parsed.label, parsed.start, parsed.end, id=i + 1))
    return tuple(out)
