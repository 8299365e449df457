"""Live feedback on a natural-language explanation while the annotator writes it.

The core names no model: it asks the project's model (or, failing that, any model that
serves the task) for its ``explanation_parser`` and passes it plain data.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Callable

from flask import Blueprint, current_app, jsonify
from sqlalchemy import exists, func

from leanlife_server.api.access import ProjectAccess, project_access
from leanlife_server.api.documents import get_document
from leanlife_server.api.payload import json_body
from leanlife_server.api.shapes import Body, Field, operation
from leanlife_server.db import db
from leanlife_server.db.models import Annotation, Document, Label, Project
from leanlife_server.db.staging import published
from leanlife_server.errors import ApiError, invalid
from leanlife_server.annotation_parts import span_sql
from leanlife_server.plugin_api import AnnotationData, Example, TaskDefinition, load_object

bp = Blueprint("explanations_api", __name__, url_prefix="/api/v1/projects/<int:project_id>/explanations")

MAX_TEXT = 2000
EXAMPLES = 5
_ENTITY = "Relations: the id of an entity span annotation on the document."
PARSE_REQUEST = Body({
    "text": Field(str, required=True, pattern=r"\S", max_length=MAX_TEXT,
                  hint=f"must be a non-empty string of at most {MAX_TEXT} characters"),
    # Any integer: one no id column holds names no document (404, like a path id).
    "document_id": Field(int, required=True),
    "label": Field(str, required=True, description="A relation or document label of the project."),
    "subject": Field(int, description=_ENTITY),
    "object": Field(int, description=_ENTITY),
})
# What the model's explanation parser answers (plugin_api: explanation_parser).
PARSE_RESULT = Body({}, open=True, description="The model's parse: the readable logical form, "
                                               "whether it holds, and its matches.")


def _parser(project: Project) -> Callable[..., dict[str, Any]]:
    models = current_app.extensions["leanlife"].models
    chosen = models.get(project.model) if project.model else None
    candidates = [chosen] if chosen is not None else []
    candidates += [m for m in models if project.task in m.tasks]
    for definition in candidates:
        if definition.explanation_parser and project.task in definition.tasks:
            return load_object(definition.explanation_parser)
    raise ApiError(501, "not_implemented", f"no installed model parses explanations for "
                                           f"task {project.task!r}")


def _spans_by_document(document_ids: list[int], access: ProjectAccess) -> dict[int, list[AnnotationData]]:
    rows = db.session.execute(
        db.select(Annotation.id, Annotation.document_id, Annotation.kind, Annotation.start,
                  Annotation.end, Annotation.user_id, Label.name)
        .join(Label, Label.id == Annotation.label_id)
        .where(Annotation.document_id.in_(document_ids), span_sql(),
               ~Annotation.gold)).all()  # gold is the owners' layer (api/curation.py)
    spans: dict[int, list[AnnotationData]] = defaultdict(list)
    for row in rows:
        if row.user_id is None or access.can_read_user(row.user_id):
            spans[row.document_id].append(AnnotationData(row.kind, row.name, start=row.start,
                                                         end=row.end, id=row.id))
    return spans


def _task(access: ProjectAccess) -> TaskDefinition | None:
    return current_app.extensions["leanlife"].tasks.get(access.project.task)


def _target_kinds(task: TaskDefinition | None) -> tuple[str, ...]:
    """The label kinds an explanation explains: the task's targets, not a model's input
    (``TaskDefinition.input_kinds``; RE: relations, not the entity spans they link)."""
    return () if task is None else tuple(k for k in task.label_kinds if k not in task.input_kinds)


def _unlabeled_loader(access: ProjectAccess) -> Callable[[], list[Example]]:
    """Documents nobody has labeled yet (no target-kind annotation: no relation or document
    label), with their entities."""
    targets = _target_kinds(_task(access))

    def load() -> list[Example]:
        labeled = exists().where(Annotation.document_id == Document.id, Annotation.kind.in_(targets))
        rows = db.session.execute(db.select(Document.id, Document.text)
                                  .where(Document.project_id == access.project.id,
                                         published(Document.import_id), ~labeled)
                                  .order_by(Document.id)).all()
        spans: dict[int, list[AnnotationData]] = {}
        for start in range(0, len(rows), 900):  # keeps IN lists within every backend's limit
            spans.update(_spans_by_document([r.id for r in rows[start:start + 900]], access))
        return [Example(r.id, r.text, tuple(spans.get(r.id, ()))) for r in rows]
    return load


def _visibility(access: ProjectAccess) -> tuple:
    """Whose spans the caller's corpus holds (see ``_spans_by_document``): everybody's, or
    the caller's own plus imported ones."""
    return ("all",) if access.sees_all_annotators else ("user", access.user.id)


def _corpus_key(access: ProjectAccess) -> tuple:
    """Changes whenever documents or annotations of the project change, and differs between
    callers who see different annotators' spans, so that the parser's corpus cache never
    serves one caller matches built from spans only another may see."""
    project_id = access.project.id
    documents = db.session.execute(db.select(func.count(Document.id), func.max(Document.id))
                                   .where(Document.project_id == project_id,
                                          published(Document.import_id))).one()
    annotations = db.session.execute(db.select(func.count(Annotation.id), func.max(Annotation.id),
                                               func.max(Annotation.updated_at))
                                     .where(Annotation.project_id == project_id,
                                            published(Annotation.import_id))).one()
    return (project_id, _visibility(access), *documents, *annotations)


def _explained(body: dict, access: ProjectAccess, example: Example) -> AnnotationData:
    label_name = body["label"]
    kind = db.session.scalar(db.select(Label.kind).where(Label.project_id == access.project.id,
                                                         Label.name == label_name))
    task = _task(access)
    if kind is None or kind not in _target_kinds(task):
        raise invalid("label", f"{label_name!r} is not a relation or document label of this project")
    if not task.input_kinds:  # nothing to link: the label is the whole document's
        return AnnotationData(kind, label_name)
    entity_ids = {a.id for a in example.annotations}
    ids = {}
    for key in ("subject", "object"):
        if body.get(key) is None:
            raise invalid(key, "is required for a relation label")
        ids[key] = body[key]
        if ids[key] not in entity_ids:
            raise invalid(key, f"annotation {ids[key]} is not an entity span of this document")
    if ids["subject"] == ids["object"]:
        raise invalid("object", "a relation needs two different entities")
    # Targets of a task with input annotations link two of them (RE: a relation, two entities).
    return AnnotationData(kind, label_name, subject_id=ids["subject"], object_id=ids["object"])


@bp.post("/parse")
@operation(PARSE_REQUEST, answers={200: PARSE_RESULT})
def parse_explanation(project_id: int):
    """Parse ``text`` explaining ``label`` on ``document_id`` (and ``subject``/``object`` for a
    relation): the readable logical form, whether it holds there, and its matches among the
    project's unlabeled documents."""
    access = project_access(project_id)
    body = json_body()
    text = body["text"].strip()
    document = get_document(project_id, body["document_id"])
    spans = _spans_by_document([document.id], access).get(document.id, [])
    example = Example(document.id, document.text, tuple(spans))
    annotation = _explained(body, access, example)
    parser = _parser(access.project)
    result = parser(text, example, annotation, _corpus_key(access),
                    _unlabeled_loader(access), EXAMPLES)
    return jsonify(result)
