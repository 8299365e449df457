"""Curation (owners): every annotator's annotations on a document side by side, with the
items they disagree on marked, and the document's gold layer, which owners write by
accepting an annotator's annotation (its explanations with it), writing their own, or
deleting one. Gold annotations are annotation rows flagged ``gold`` that belong to no user;
the project's task checks them as it checks everyone's (api/annotations.py). A document's
review state goes ``annotated`` -> ``in review`` (the first gold write) -> ``curated``
(the owner says so); training takes a curated document's gold layer (pipeline/dataset.py)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from flask import Blueprint, current_app, jsonify

from leanlife_server.api import serialize
from leanlife_server.api.access import ProjectAccess, project_access
from leanlife_server.api.annotation_fields import ANNOTATION_BODY
from leanlife_server.api.annotations import (
    GOLD,
    check_annotation_limit,
    check_if_match,
    duplicate_conflict,
    overlap_conflict,
    parse_request,
    single_label_conflict,
    store,
    with_etag,
)
from leanlife_server.api.documents import DOCUMENT_SHAPE, document_json, get_document
from leanlife_server.api.payload import json_body
from leanlife_server.api.serialize import ANNOTATION
from leanlife_server.api.shapes import Body, Either, Field, always, operation, row_id
from leanlife_server.curation import disagreements
from leanlife_server.db import db
from leanlife_server.db.locks import lock_row
from leanlife_server.db.lookup import get_in_project
from leanlife_server.db.models import (
    ANNOTATED,
    IN_REVIEW,
    REVIEW_STATES,
    Annotation,
    Document,
    DocumentCompletion,
    User,
)
from leanlife_server.errors import invalid, not_found
from leanlife_server.events import GoldChanged, project_of
from leanlife_server.pipeline.dataset import annotation_data

bp = Blueprint("curation_api", __name__, url_prefix="/api/v1/projects/<int:project_id>")

# The request fields that name another annotation (relations' entities), as ANNOTATION_BODY.
LINK_FIELDS = ("subject", "object")

ACCEPT = Body({"accept": row_id(required=True, description=(
    "The id of an annotator's annotation on this document: a copy of it, explanations "
    "included, joins the gold layer (with gold copies of the entities it links)."))})
GOLD_WRITE = Either("accept", ACCEPT, ANNOTATION_BODY,
                    description="{accept: ID}, or a gold annotation written as annotations are.")
STATE = Body({"state": Field(str, required=True, choices=REVIEW_STATES)})
MARKED_ANNOTATION = Body({**ANNOTATION.fields, "disagreement": always(bool)},
                         description="An annotator's annotation; disagreement: on an item the annotators "
                                     "answer differently.")
CURATION = Body({
    "document": always(DOCUMENT_SHAPE), "state": always(str),
    "annotators": always(list, items=Field(Body({
        "user_id": always(int), "username": always(str), "finished": always(bool),
        "annotations": always(list, items=Field(MARKED_ANNOTATION))}))),
    "shared": always(list, items=Field(ANNOTATION), description="Imported annotations (no user)."),
    "gold": always(list, items=Field(ANNOTATION)),
    "disagreements": always(list, items=Field(dict), description=(
        "{item: {kind, start?, end?, subject?, object?}, answers: [{user_id, labels}]}"))},
    description="Annotators' annotations carry disagreement: true on the items they answer differently.")


def _document_rows(document_id: int) -> list[Annotation]:
    return list(db.session.scalars(db.select(Annotation).where(Annotation.document_id == document_id)
                                   .options(*serialize.ANNOTATION_LOADING).order_by(Annotation.id)))


def _curation(access: ProjectAccess, document: Document) -> dict[str, Any]:
    rows = _document_rows(document.id)
    data = {row.id: annotation_data(row) for row in rows}
    work: dict[int, list] = defaultdict(list)
    for row in rows:
        if not row.gold and row.user_id is not None:
            work[row.user_id].append(data[row.id])
    finishers = set(db.session.scalars(db.select(DocumentCompletion.user_id)
                                       .where(DocumentCompletion.document_id == document.id)))
    for user_id in sorted(finishers):
        work.setdefault(user_id, [])
    items, marked = disagreements(work, data) if len(work) > 1 else ([], set())
    names = dict(db.session.execute(db.select(User.id, User.username).where(User.id.in_(list(work)))).all())

    def shown(row: Annotation) -> dict[str, Any]:
        return {**serialize.annotation(row), "disagreement": row.id in marked}

    return {"document": document_json(document), "state": document.review_state,
            "annotators": [{"user_id": user_id, "username": names.get(user_id, ""),
                            "finished": user_id in finishers,
                            "annotations": [shown(r) for r in rows if r.user_id == user_id and not r.gold]}
                           for user_id in sorted(work)],
            "shared": [serialize.annotation(r) for r in rows if r.user_id is None and not r.gold],
            "gold": [serialize.annotation(r) for r in rows if r.gold],
            "disagreements": items}


@bp.get("/documents/<int:document_id>/curation")
@operation(answers={200: CURATION})
def get_curation(project_id: int, document_id: int):
    """A document's annotators' annotations side by side, disagreements marked, and its gold layer (owners)."""
    access = project_access(project_id, owner=True)
    return jsonify(_curation(access, get_document(project_id, document_id)))


@bp.patch("/documents/<int:document_id>/curation")
@operation(STATE, answers={200: CURATION})
def set_review_state(project_id: int, document_id: int):
    """Set the document's review state: annotated, in review or curated (owners). Training
    takes a curated document's gold layer, even an empty one (nothing to label here)."""
    lock_row(Document, document_id)
    access = project_access(project_id, owner=True)
    document = get_document(project_id, document_id)
    document.review_state = json_body()["state"]
    db.session.commit()
    _gold_changed(access, document_id)
    return jsonify(_curation(access, document))


def _body_of(row: Annotation) -> dict[str, Any]:
    """``row`` as an annotation request, so that its gold copy is checked like any write."""
    out = {key: value for key, value in serialize.annotation(row).items()
           if key in ANNOTATION_BODY.fields}
    out["explanations"] = [{k: v for k, v in e.items() if k != "id"} for e in out["explanations"]]
    return out


def _annotator_row(document: Document, annotation_id: int) -> Annotation | None:
    """An annotator's (not gold, not imported) annotation on ``document``, else None."""
    row = db.session.get(Annotation, annotation_id)
    if row is None or row.document_id != document.id or row.gold or row.user_id is None:
        return None
    return row


def _gold_links(access: ProjectAccess, document: Document, body: dict[str, Any]) -> dict[str, Any]:
    """``body`` with the annotators' annotations it links (a relation's entities) replaced by
    their gold copies: gold links only gold or imported annotations."""
    out = dict(body)
    for name in LINK_FIELDS:
        linked = _annotator_row(document, out[name]) if isinstance(out.get(name), int) else None
        if linked is not None:
            out[name] = _gold_copy(access, document, linked).id
    return out


def _gold_copy(access: ProjectAccess, document: Document, source: Annotation) -> Annotation:
    """The gold annotation equal to ``source`` (kind, label, offsets), made if missing."""
    same = db.session.scalar(db.select(Annotation).where(
        Annotation.document_id == document.id, Annotation.gold, Annotation.kind == source.kind,
        Annotation.label_id == source.label_id, Annotation.start.is_not_distinct_from(source.start),
        Annotation.end.is_not_distinct_from(source.end), Annotation.subject_id.is_(None),
        Annotation.object_id.is_(None)).order_by(Annotation.id).limit(1))
    return same if same is not None else _write(access, document, _body_of(source))


def _write(access: ProjectAccess, document: Document, body: dict[str, Any]) -> Annotation:
    check_annotation_limit(document, GOLD)
    request = parse_request(access, document, _gold_links(access, document, body), gold=True)
    single_label_conflict(access, document, request.annotation, GOLD)
    duplicate_conflict(document, request, GOLD)
    overlap_conflict(access, document, request, GOLD)
    row = Annotation(project_id=document.project_id, document_id=document.id, user_id=None, gold=True)
    store(row, request)
    db.session.add(row)
    db.session.flush()
    return row


def _gold_changed(access: ProjectAccess, document_id: int) -> None:
    """Announce a committed change of the gold layer or review state (it may retrain)."""
    current_app.extensions["leanlife"].notify(GoldChanged(project=project_of(access.project),
                                                          document_id=document_id))


def _changed(access: ProjectAccess, document: Document) -> None:
    """A gold write puts an unreviewed document in review, and may retrain."""
    if document.review_state == ANNOTATED:
        document.review_state = IN_REVIEW
    db.session.commit()
    _gold_changed(access, document.id)


@bp.post("/documents/<int:document_id>/gold")
@operation(GOLD_WRITE, answers={201: ANNOTATION})
def create_gold(project_id: int, document_id: int):
    """Add to the document's gold layer: {accept: ANNOTATION_ID} copies an annotator's
    annotation (explanations included), or a body as for annotations writes one (owners)."""
    lock_row(Document, document_id)
    access = project_access(project_id, owner=True)
    document = get_document(project_id, document_id)
    body = json_body()
    if "accept" in body:
        source = _annotator_row(document, body["accept"])
        if source is None:
            raise invalid("accept", f"annotation {body['accept']} is not an annotator's annotation "
                                    f"on document {document_id}")
        body = _body_of(source)
    row = _write(access, document, body)
    _changed(access, document)
    return with_etag(serialize.annotation(row)), 201


def _gold_row(project_id: int, annotation_id: int) -> Annotation:
    row = get_in_project(Annotation, annotation_id, project_id, "gold annotation")
    if not row.gold:
        raise not_found(f"gold annotation {annotation_id}")
    return row


@bp.put("/gold/<int:annotation_id>")
@operation(ANNOTATION_BODY, answers={200: ANNOTATION})
def replace_gold(project_id: int, annotation_id: int):
    """Replace a gold annotation (label, offsets, explanations) (owners)."""
    document_id = db.session.scalar(db.select(Annotation.document_id).where(Annotation.id == annotation_id))
    if document_id is not None:
        lock_row(Document, document_id)
    access = project_access(project_id, owner=True)
    row = _gold_row(project_id, annotation_id)
    check_if_match(row)
    document = get_document(project_id, row.document_id)
    request = parse_request(access, document, _gold_links(access, document, json_body()),
                            exclude=row.id, gold=True)
    if request.annotation.kind != row.kind:
        raise invalid("label", f"an annotation stays a {row.kind} annotation")
    duplicate_conflict(document, request, GOLD, exclude=row.id)
    overlap_conflict(access, document, request, GOLD, exclude=row.id)
    store(row, request)
    _changed(access, document)
    return with_etag(serialize.annotation(row))


@bp.delete("/gold/<int:annotation_id>")
@operation(answers={204: None})
def delete_gold(project_id: int, annotation_id: int):
    """Delete a gold annotation (and gold relations built on it) (owners)."""
    lock_row(Annotation, annotation_id)
    access = project_access(project_id, owner=True)
    row = _gold_row(project_id, annotation_id)
    check_if_match(row)
    document_id = row.document_id
    db.session.delete(row)
    db.session.commit()
    _gold_changed(access, document_id)
    return "", 204

