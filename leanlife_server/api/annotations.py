"""Annotations with their explanations. Each user has their own; nobody overwrites another's.
The checks a write goes through are shared with the gold layer (api/curation.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

from flask import Blueprint, current_app, jsonify
from flask import request as http_request
from sqlalchemy import Row, bindparam

from leanlife_server.annotation_identity import IDENTITY_FIELDS
from leanlife_server.api import serialize
from leanlife_server.api.access import ProjectAccess, project_access
from leanlife_server.api.documents import document_access, document_annotations, get_document
from leanlife_server.api.annotation_fields import ANNOTATION_BODY, reject_fields_of_other_kinds
from leanlife_server.api.annotation_values import AnnotationValues, insert_annotation
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
from leanlife_server.events import AnnotationDeleted, AnnotationSaved, project_of
from leanlife_server.annotation_parts import has_span, is_document_label
from leanlife_server.plugin_api import AnnotationData, DocumentContext, Span

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

    holds: Callable[[Row], bool]  # whether a row of ``document_rows`` is in the layer
    has: str  # "you already have", "the gold layer already has"
    gold: bool = False


def own_layer(access: ProjectAccess) -> Layer:
    user_id = access.user.id
    return Layer(lambda row: row.user_id == user_id, "you already have")


GOLD = Layer(lambda row: row.gold, "the gold layer already has", gold=True)

# What the checks of a write read of the document's annotations (every layer's), in id order.
_DOCUMENT_ROWS = db.select(
    Annotation.id, Annotation.kind, Annotation.label_id, Label.name.label("label"), Annotation.start,
    Annotation.end, Annotation.subject_id, Annotation.object_id, Annotation.user_id, Annotation.gold,
).join(Label, Label.id == Annotation.label_id).where(
    Annotation.document_id == bindparam("document_id")).order_by(Annotation.id)
_LABELS = db.select(Label.name, Label.kind, Label.id).where(Label.project_id == bindparam("project_id"))


def document_rows(document: Document) -> Sequence[Row]:
    """The document's annotations as the checks below read them: one query for all of a
    write's checks (a save made one per check). Read after ``lock_row`` of the document, so
    that they hold until the commit. The checks load them themselves when not given them."""
    return db.session.execute(_DOCUMENT_ROWS, {"document_id": document.id}).all()


def _in_layer(rows: Sequence[Row] | None, document: Document, layer: Layer) -> list[Row]:
    return [row for row in (document_rows(document) if rows is None else rows) if layer.holds(row)]


def _context(access: ProjectAccess, document: Document, exclude: int | None, gold: bool,
             rows: Sequence[Row] | None) -> tuple[DocumentContext, dict[str, int]]:
    """What the task needs to validate: labels, and the entity spans the caller may refer to
    (their own, imported ones, and others' where visible; in the gold layer, gold and
    imported ones)."""
    labels = db.session.execute(_LABELS, {"project_id": access.project.id}).all()
    spans = [row for row in (document_rows(document) if rows is None else rows) if has_span(row)]
    entity_spans = {row.id: Span(row.start, row.end) for row in spans if row.id != exclude and (
        row.gold or row.user_id is None if gold else
        not row.gold and (row.user_id is None or access.can_read_user(row.user_id)))}
    context = DocumentContext(text=document.text, labels={l.name: l.kind for l in labels},
                              explanation_kind=access.project.explanation_kind,
                              entity_spans=entity_spans, multi_label=access.project.multi_label,
                              max_spans_per_annotation=current_app.config["LEANLIFE"].max_spans_per_annotation)
    return context, {l.name: l.id for l in labels}


def parse_request(access: ProjectAccess, document: Document, body: dict[str, Any],
                  exclude: int | None = None, gold: bool = False,
                  rows: Sequence[Row] | None = None) -> ParsedRequest:
    """``body`` (an ANNOTATION_BODY) as the project's task parses and checks it."""
    task = current_app.extensions["leanlife"].tasks.get(access.project.task)
    context, label_ids = _context(access, document, exclude, gold, rows)
    parsed = task.parse_annotation(body, context)
    reject_fields_of_other_kinds(body, parsed)
    return ParsedRequest(parsed, label_ids[parsed.label], body["source"])


def store(row: Annotation, request: ParsedRequest) -> None:
    parsed = request.annotation
    row.label_id = request.label_id
    row.kind = parsed.kind
    row.start, row.end = parsed.start, parsed.end
    row.subject_id, row.object_id = parsed.subject_id, parsed.object_id
    row.attributes = dict(parsed.attributes) or None
    row.source = request.source
    row.explanations = [
        Explanation(kind=e.kind, text=e.text,
                    spans=[TriggerSpan(start=s.start, end=s.end) for s in e.spans])
        for e in parsed.explanations
    ]


def single_label_conflict(access: ProjectAccess, document: Document, parsed: AnnotationData, layer: Layer,
                          rows: Sequence[Row] | None = None) -> None:
    """Unless the project is multi-label, 409 naming the layer's label of the whole document when
    ``parsed`` would be a second one (annotation_parts.is_document_label)."""
    if not is_document_label(parsed) or access.project.multi_label:
        return
    existing = next((row.id for row in _in_layer(rows, document, layer) if is_document_label(row)), None)
    if existing is not None:
        raise ApiError(409, "conflict", f"this project takes one label per document; change "
                                        f"annotation {existing} with PUT instead",
                       {"field": "label", "annotation_id": existing})


def _identity_of_row(row: Row) -> tuple:
    """A row of ``document_rows`` as annotation_identity sees it (the label by id)."""
    return tuple(row.label_id if name == "label" else getattr(row, name) for name in IDENTITY_FIELDS)


def duplicate_conflict(document: Document, request: ParsedRequest, layer: Layer,
                       exclude: int | None = None, rows: Sequence[Row] | None = None) -> None:
    """409 naming the layer's annotation on ``document`` that already is this one
    (annotation_identity), so that the client changes that one with PUT instead."""
    wanted = tuple(request.label_id if name == "label" else getattr(request.annotation, name)
                   for name in IDENTITY_FIELDS)
    existing = next((row.id for row in _in_layer(rows, document, layer)
                     if row.id != exclude and _identity_of_row(row) == wanted), None)
    if existing is not None:
        raise ApiError(409, "conflict", f"{layer.has} this annotation (annotation {existing}) "
                                        f"on document {document.id}; change it with PUT instead",
                       {"annotation_id": existing})


def overlap_conflict(access: ProjectAccess, document: Document, request: ParsedRequest, layer: Layer,
                     exclude: int | None = None, rows: Sequence[Row] | None = None) -> None:
    """Where the task's spans may not overlap (``TaskDefinition.overlapping_spans``, NER), 409
    naming the layer's span on ``document`` that a new or changed span would overlap."""
    parsed = request.annotation
    task = current_app.extensions["leanlife"].tasks.get(access.project.task)
    if not has_span(parsed) or task is None or task.overlapping_spans:
        return
    hits = [row for row in _in_layer(rows, document, layer) if has_span(row) and row.id != exclude
            and row.start is not None and row.end is not None
            and row.start < parsed.end and row.end > parsed.start]
    if hits:
        hit = min(hits, key=lambda row: (row.start, row.id))
        text = document.text
        raise ApiError(409, "conflict",
                       f"“{text[parsed.start:parsed.end]}” overlaps “{text[hit.start:hit.end]}” "
                       f"({hit.label}, annotation {hit.id}), which {layer.has}: in a {task.name} "
                       f"project one annotator's entities may not overlap, since a word takes one "
                       f"label; change or delete annotation {hit.id} first",
                       {"annotation_id": hit.id, "field": "start"})


def check_annotation_limit(document: Document, layer: Layer, rows: Sequence[Row] | None = None) -> None:
    """Each annotator may keep at most LEANLIFE_MAX_ANNOTATIONS_PER_DOCUMENT on a document, so
    no one's saves make loading and checking that document slow for everybody."""
    limit = current_app.config["LEANLIFE"].max_annotations_per_document
    count = len(_in_layer(rows, document, layer))
    if count >= limit:
        raise invalid("document_id", f"{layer.has} {count} annotations on document "
                                     f"{document.id}; one annotator may have at most {limit} "
                                     f"(LEANLIFE_MAX_ANNOTATIONS_PER_DOCUMENT)")


def _saved(access: ProjectAccess, row: Annotation | AnnotationValues, label: str | None = None) -> dict:
    """Announce a committed save (plugins, then the core's push and retraining policy hear it).
    ``label``: the label's name when it changed on an ORM row (whose ``label`` may be stale)."""
    data = serialize.annotation(row, label)
    current_app.extensions["leanlife"].notify(AnnotationSaved(
        project=project_of(access.project), annotation=data, document_id=row.document_id,
        user_id=access.user.id))
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
    access, document = document_access(project_id, document_id)
    layer = own_layer(access)
    rows = document_rows(document)
    check_annotation_limit(document, layer, rows)
    request = parse_request(access, document, json_body(), rows=rows)
    single_label_conflict(access, document, request.annotation, layer, rows)
    duplicate_conflict(document, request, layer, rows=rows)
    overlap_conflict(access, document, request, layer, rows=rows)
    row = insert_annotation(project_id, document_id, access.user.id, request.label_id,
                            request.annotation.label, request.source, request.annotation)
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
    rows = document_rows(document)
    request = parse_request(access, document, json_body(), exclude=row.id, rows=rows)
    if request.annotation.kind != row.kind:
        raise invalid("label", f"an annotation stays a {row.kind} annotation")
    duplicate_conflict(document, request, own_layer(access), exclude=row.id, rows=rows)
    overlap_conflict(access, document, request, own_layer(access), exclude=row.id, rows=rows)
    store(row, request)
    db.session.commit()
    return with_etag(_saved(access, row, request.annotation.label))


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
    current_app.extensions["leanlife"].notify(AnnotationDeleted(
        project=project_of(access.project), annotation_id=annotation_id, document_id=document_id,
        user_id=access.user.id))
    return "", 204
