"""Annotations with their explanations. Each user has their own; nobody overwrites another's.
The checks a write goes through are shared with the gold layer (api/curation.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Blueprint, current_app, jsonify
from flask import request as http_request
from sqlalchemy import func

from leanlife_server import realtime
from leanlife_server.annotation_identity import IDENTITY_FIELDS
from leanlife_server.api import serialize
from leanlife_server.api.access import ProjectAccess, project_access
from leanlife_server.api.documents import document_annotations, get_document
from leanlife_server.api.annotation_fields import ANNOTATION_BODY, reject_fields_of_other_kinds
from leanlife_server.api.payload import json_body
from leanlife_server.api.serialize import ANNOTATION
from leanlife_server.api.shapes import items_of, operation
from leanlife_server.db import db
from leanlife_server.db.locks import lock_row
from leanlife_server.db.models import (
    Annotation,
    Document,
    Explanation,
    Label,
    TriggerSpan,
)
from leanlife_server.errors import ApiError, invalid, not_found
from leanlife_server.jobs import policy
from leanlife_server.plugin_api import DOCUMENT, SPAN, AnnotationData, DocumentContext, Span

bp = Blueprint("annotations_api", __name__, url_prefix="/api/v1/projects/<int:project_id>")


@dataclass
class ParsedRequest:
    annotation: AnnotationData
    label_id: int
    source: str


@dataclass(frozen=True)
class Layer:
    """The annotations a write is checked against (duplicates, one label per document, the
    limit): the caller's own, or the document's gold layer; and how messages name them."""

    where: Any  # an SQL condition on Annotation
    has: str  # "you already have", "the gold layer already has"
    gold: bool = False


def own_layer(access: ProjectAccess) -> Layer:
    return Layer(Annotation.user_id == access.user.id, "you already have")


GOLD = Layer(Annotation.gold.is_(True), "the gold layer already has", gold=True)


def _context(access: ProjectAccess, document: Document, exclude: int | None, gold: bool
             ) -> tuple[DocumentContext, dict[str, int]]:
    """What the task needs to validate: labels, and the entity spans the caller may refer to
    (their own, imported ones, and others' where visible; in the gold layer, gold and
    imported ones)."""
    labels = db.session.execute(db.select(Label.name, Label.kind, Label.id)
                                .where(Label.project_id == access.project.id)).all()
    spans = db.session.execute(
        db.select(Annotation.id, Annotation.start, Annotation.end, Annotation.user_id, Annotation.gold)
        .where(Annotation.document_id == document.id, Annotation.kind == SPAN)).all()
    entity_spans = {row.id: Span(row.start, row.end) for row in spans if row.id != exclude and (
        row.gold or row.user_id is None if gold else
        not row.gold and (row.user_id is None or access.can_read_user(row.user_id)))}
    context = DocumentContext(text=document.text, labels={l.name: l.kind for l in labels},
                              explanation_kind=access.project.explanation_kind,
                              entity_spans=entity_spans, multi_label=access.project.multi_label,
                              max_spans_per_annotation=current_app.config["LEANLIFE"].max_spans_per_annotation)
    return context, {l.name: l.id for l in labels}


def parse_request(access: ProjectAccess, document: Document, body: dict[str, Any],
                  exclude: int | None = None, gold: bool = False) -> ParsedRequest:
    """``body`` (an ANNOTATION_BODY) as the project's task parses and checks it."""
    task = current_app.extensions["leanlife"].tasks.get(access.project.task)
    context, label_ids = _context(access, document, exclude, gold)
    parsed = task.parse_annotation(body, context)
    reject_fields_of_other_kinds(body, parsed)
    return ParsedRequest(parsed, label_ids[parsed.label], body["source"])


def store(row: Annotation, request: ParsedRequest) -> None:
    parsed = request.annotation
    row.label_id = request.label_id
    row.kind = parsed.kind
    row.start, row.end = parsed.start, parsed.end
    row.subject_id, row.object_id = parsed.subject_id, parsed.object_id
    row.source = request.source
    row.explanations = [
        Explanation(kind=e.kind, text=e.text,
                    spans=[TriggerSpan(start=s.start, end=s.end) for s in e.spans])
        for e in parsed.explanations
    ]


def single_label_conflict(access: ProjectAccess, document: Document, kind: str, layer: Layer) -> None:
    if kind != DOCUMENT or access.project.multi_label:
        return
    existing = db.session.scalar(db.select(Annotation.id).where(
        Annotation.document_id == document.id, layer.where, Annotation.kind == DOCUMENT))
    if existing is not None:
        raise ApiError(409, "conflict", f"this project takes one label per document; change "
                                        f"annotation {existing} with PUT instead",
                       {"field": "label", "annotation_id": existing})


def duplicate_conflict(document: Document, request: ParsedRequest, layer: Layer,
                       exclude: int | None = None) -> None:
    """409 naming the layer's annotation on ``document`` that already is this one
    (annotation_identity), so that the client changes that one with PUT instead."""
    values = {**{name: getattr(request.annotation, name) for name in IDENTITY_FIELDS},
              "label": request.label_id}
    columns = {**{name: getattr(Annotation, name) for name in IDENTITY_FIELDS},
               "label": Annotation.label_id}
    query = db.select(Annotation.id).where(
        Annotation.document_id == document.id, layer.where,
        *(columns[name].is_not_distinct_from(values[name]) for name in IDENTITY_FIELDS))
    if exclude is not None:
        query = query.where(Annotation.id != exclude)
    existing = db.session.scalar(query.order_by(Annotation.id).limit(1))
    if existing is not None:
        raise ApiError(409, "conflict", f"{layer.has} this annotation (annotation {existing}) "
                                        f"on document {document.id}; change it with PUT instead",
                       {"annotation_id": existing})


def check_annotation_limit(document: Document, layer: Layer) -> None:
    """Each annotator may keep at most LEANLIFE_MAX_ANNOTATIONS_PER_DOCUMENT on a document, so
    no one's saves make loading and checking that document slow for everybody."""
    limit = current_app.config["LEANLIFE"].max_annotations_per_document
    count = db.session.scalar(db.select(func.count(Annotation.id)).where(
        Annotation.document_id == document.id, layer.where))
    if count >= limit:
        raise invalid("document_id", f"{layer.has} {count} annotations on document "
                                     f"{document.id}; one annotator may have at most {limit} "
                                     f"(LEANLIFE_MAX_ANNOTATIONS_PER_DOCUMENT)")


def _saved(access: ProjectAccess, row: Annotation) -> dict:
    data = serialize.annotation(row)
    current_app.extensions["leanlife"].manager.hook.leanlife_annotation_saved(
        project={"id": access.project.id, "task": access.project.task}, annotation=data)
    realtime.document_changed(access.project, row.document_id, access.user.id, "saved", data)
    policy.annotation_saved(access.project.id)
    return data


def with_etag(data: dict):
    response = jsonify(data)
    response.set_etag(data["etag"])
    return response


@bp.get("/documents/<int:document_id>/annotations")
@operation(answers={200: items_of(ANNOTATION)})
def list_annotations(project_id: int, document_id: int):
    """Annotations on a document: the caller's and imported ones, or annotator=ID where allowed."""
    access = project_access(project_id)
    get_document(project_id, document_id)
    return jsonify({"items": [serialize.annotation(r) for r in document_annotations(access, document_id)]})


@bp.post("/documents/<int:document_id>/annotations")
@operation(ANNOTATION_BODY, answers={201: ANNOTATION})
def create_annotation(project_id: int, document_id: int):
    """Save an annotation (span, relation or document label) with its explanations."""
    lock_row(Document, document_id)  # one label per document and the limit hold under races
    access = project_access(project_id)
    document = get_document(project_id, document_id)
    layer = own_layer(access)
    check_annotation_limit(document, layer)
    request = parse_request(access, document, json_body())
    single_label_conflict(access, document, request.annotation.kind, layer)
    duplicate_conflict(document, request, layer)
    row = Annotation(project_id=project_id, document_id=document_id, user_id=access.user.id)
    store(row, request)
    db.session.add(row)
    db.session.commit()
    return with_etag(_saved(access, row)), 201


def _own_annotation(access: ProjectAccess, annotation_id: int) -> Annotation:
    row = db.session.get(Annotation, annotation_id)
    if row is None or row.project_id != access.project.id or not (
            row.user_id is None or access.can_read_user(row.user_id)):
        raise not_found(f"annotation {annotation_id}")
    if row.user_id != access.user.id:
        raise ApiError(403, "forbidden", "annotations are changed only by the user who made them")
    return row


def check_if_match(row: Annotation) -> None:
    """``If-Match: <etag>`` makes a change conditional on the annotation being as the client
    last saw it (its ``etag``), so two editors cannot overwrite each other unknowingly."""
    wanted = http_request.if_match
    if wanted and not wanted.star_tag and not wanted.contains_weak(serialize.annotation(row)["etag"]):
        raise ApiError(412, "precondition_failed", f"annotation {row.id} changed since you read it "
                                                   f"(If-Match does not match its etag); read it again")


@bp.put("/annotations/<int:annotation_id>")
@operation(ANNOTATION_BODY, answers={200: ANNOTATION})
def replace_annotation(project_id: int, annotation_id: int):
    """Replace one of the caller's annotations (label, offsets, explanations)."""
    # The document first (as POST and deleting a document lock it), so the duplicate check
    # holds under races; then the annotation, so concurrent replacements apply one by one.
    document_id = db.session.scalar(db.select(Annotation.document_id).where(Annotation.id == annotation_id))
    if document_id is not None:
        lock_row(Document, document_id)
    lock_row(Annotation, annotation_id)
    access = project_access(project_id)
    row = _own_annotation(access, annotation_id)
    check_if_match(row)
    document = get_document(project_id, row.document_id)
    request = parse_request(access, document, json_body(), exclude=row.id)
    if request.annotation.kind != row.kind:
        raise invalid("label", f"an annotation stays a {row.kind} annotation")
    duplicate_conflict(document, request, own_layer(access), exclude=row.id)
    store(row, request)
    db.session.commit()
    return with_etag(_saved(access, row))


@bp.delete("/annotations/<int:annotation_id>")
@operation(answers={204: None})
def delete_annotation(project_id: int, annotation_id: int):
    """Delete one of the caller's annotations (and relations built on it)."""
    lock_row(Annotation, annotation_id)
    access = project_access(project_id)
    row = _own_annotation(access, annotation_id)
    check_if_match(row)
    document_id = row.document_id
    db.session.delete(row)
    db.session.commit()
    realtime.document_changed(access.project, document_id, access.user.id, "deleted", {"id": annotation_id})
    policy.annotations_changed(project_id)
    return "", 204
