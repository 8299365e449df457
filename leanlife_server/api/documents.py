"""Documents: add, page through (filtered by annotation status), read, mark finished or skipped."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy import bindparam, exists, func

from leanlife_server.active.skips import skip, skipped, unskip
from leanlife_server.api import serialize
from leanlife_server.api.access import ACCESS_QUERY, ProjectAccess, access_of, project_access
from leanlife_server.api.annotation_values import AnnotationValues, load_annotations
from leanlife_server.api.pagination import paginate
from leanlife_server.api.payload import json_body, row_id
from leanlife_server.api.serialize import ANNOTATION
from leanlife_server.api.shapes import Body, Either, Field, always, items_of, operation, page_of
from leanlife_server.db import db
from leanlife_server.db.conflicts import commit_unless_duplicate
from leanlife_server.db.lookup import get_in_project
from leanlife_server.auth import require_user
from leanlife_server.db.models import REVIEW_STATES, Annotation, Document, DocumentCompletion, Project
from leanlife_server.db.staging import hidden, published
from leanlife_server.errors import ApiError, invalid, not_found

bp = Blueprint("documents_api", __name__, url_prefix="/api/v1/projects/<int:project_id>/documents")

MAX_BATCH = 1000
STATUSES = ("annotated", "unannotated", "finished", "unfinished", "skipped")


def _max_document_chars() -> int:
    return current_app.config["LEANLIFE"].max_document_chars


NEW_DOCUMENT = Body({
    "text": Field(str, required=True, min_length=1, max_length=_max_document_chars,
                  description="At most LEANLIFE_MAX_DOCUMENT_CHARS characters."),
    "meta": Field(dict, default={}),
})
NEW_DOCUMENTS = Either("documents", Body({
    "documents": Field(list, required=True, items=Field(NEW_DOCUMENT), max_length=MAX_BATCH,
                       hint=f"at most {MAX_BATCH} per request; use an import for more"),
}), NEW_DOCUMENT, description="One document, or up to 1000 as {documents: [...]}.")


def document_json(row: Document) -> dict[str, Any]:
    return {"id": row.id, "text": row.text, "meta": row.meta}


DOCUMENT_SHAPE = Body({"id": always(int), "text": always(str), "meta": always(dict)})
DOCUMENT_WITH_ANNOTATIONS = Body({**DOCUMENT_SHAPE.fields, "finished": always(bool), "skipped": always(bool),
                                  "annotations": always(list, items=Field(ANNOTATION))})


def _visible(row: Document, document_id: int) -> Document:
    if hidden(row.import_id):  # an unfinished import's: not there yet
        raise not_found(f"document {document_id}")
    return row


def get_document(project_id: int, document_id: int) -> Document:
    return _visible(get_in_project(Document, document_id, project_id, "document"), document_id)


_DOCUMENT_ACCESS_QUERY = ACCESS_QUERY.add_columns(Document).outerjoin(
    Document, (Document.id == bindparam("document_id")) & (Document.project_id == Project.id))


def document_access(project_id: int, document_id: int, owner: bool = False) -> tuple[ProjectAccess, Document]:
    """``project_access`` and ``get_document`` in one query (the save and read of a document
    run on every annotator's step): the same checks, in the same order."""
    user = require_user()
    row = db.session.execute(_DOCUMENT_ACCESS_QUERY, {"user_id": user.id, "project_id": project_id,
                                                      "document_id": document_id}).first()
    access = access_of(row, user, project_id, owner)
    if row.Document is None:
        raise not_found(f"document {document_id}")
    return access, _visible(row.Document, document_id)


MAX_LISTED_IDS = 1000
_ID_PAGE = 5000  # ids per query, within every backend's limit on bound parameters


def require_documents(project_id: int, document_ids: list[int], field: str) -> None:
    """422 on ``field`` listing the ids (the first MAX_LISTED_IDS) that are not visible
    documents of the project: another project's, deleted, or of an unfinished import."""
    wanted = list(dict.fromkeys(document_ids))
    found: set[int] = set()
    for i in range(0, len(wanted), _ID_PAGE):
        found.update(db.session.scalars(db.select(Document.id).where(
            Document.project_id == project_id, Document.id.in_(wanted[i:i + _ID_PAGE]),
            published(Document.import_id))))
    missing = [i for i in wanted if i not in found]
    if missing:
        shown = ", ".join(map(str, missing[:20])) + (", ..." if len(missing) > 20 else "")
        raise ApiError(422, "validation_error",
                       f"{field}: {len(missing)} ids are not documents of project {project_id}: {shown}",
                       {"field": field, "missing": missing[:MAX_LISTED_IDS], "missing_count": len(missing)})


def visible_annotator(access: ProjectAccess) -> int | None:
    """The ``annotator`` query parameter (a user id or ``all``); without it, everyone's where
    the caller may see everyone's, else the caller's own. None means every annotator."""
    raw = request.args.get("annotator")
    if raw is None:
        return None if access.sees_all_annotators else access.user.id
    if raw == "all":
        if not access.sees_all_annotators:
            raise ApiError(403, "forbidden", "annotators see only their own annotations in this "
                                             "project", {"field": "annotator"})
        return None
    user_id = row_id(raw, "annotator")
    if not access.can_read_user(user_id):
        raise ApiError(403, "forbidden", "annotators see only their own annotations in this project",
                       {"field": "annotator"})
    return user_id


def requested_annotator(access: ProjectAccess) -> int | None:
    """Whose annotations to show: the caller's unless ``annotator`` asks for someone else's."""
    return visible_annotator(access) if "annotator" in request.args else access.user.id


def document_annotations(access: ProjectAccess, document_id: int) -> list[AnnotationValues]:
    """The document's annotations the request asks for and may see. Imported ones belong to
    no user and are shown to every member (they are the shared ground, e.g. RE's entities)."""
    # The gold layer is the owners' (api/curation.py), not an annotator's view.
    conditions = [Annotation.document_id == document_id, ~Annotation.gold]
    annotator = requested_annotator(access)
    if annotator is not None:
        conditions.append((Annotation.user_id == annotator) | Annotation.user_id.is_(None))
    return load_annotations(*conditions)


@bp.get("")
@operation(answers={200: page_of(DOCUMENT_SHAPE, total=Field(int, description="With count=true."))})
def list_documents(project_id: int):
    """Documents in id order, paginated by cursor; filter with status= and annotator=, and
    review= (annotated, in review, curated: api/curation.py); count=true adds the number of
    matching documents as ``total``."""
    access = project_access(project_id)
    query = db.select(Document).where(Document.project_id == project_id, published(Document.import_id))
    review = request.args.get("review")
    if review is not None:
        if review not in REVIEW_STATES:
            raise invalid("review", f"must be one of {list(REVIEW_STATES)}")
        query = query.where(Document.review_state == review)
    status = request.args.get("status")
    if status is not None:
        if status not in STATUSES:
            raise invalid("status", f"must be one of {list(STATUSES)}")
        annotator = visible_annotator(access)
        if status in ("annotated", "unannotated"):
            marker = exists().where(Annotation.document_id == Document.id)
            if annotator is not None:
                marker = marker.where(Annotation.user_id == annotator)
        elif status == "skipped":  # skips still in force, not finished since (active/skips.py)
            marker = skipped(project_id, annotator or access.user.id)
        else:
            marker = exists().where(DocumentCompletion.document_id == Document.id,
                                    DocumentCompletion.user_id == (annotator or access.user.id))
        query = query.where(marker if status in ("annotated", "finished", "skipped") else ~marker)
    page = paginate(query, Document.id, document_json)
    if request.args.get("count") in ("1", "true"):
        # One COUNT over the filtered query, so progress bars need not page through a project.
        page["total"] = db.session.scalar(db.select(func.count()).select_from(query.subquery()))
    return jsonify(page)


@bp.post("")
@operation(NEW_DOCUMENTS, answers={201: Either("items", items_of(DOCUMENT_SHAPE), DOCUMENT_SHAPE)})
def add_documents(project_id: int):
    """Add one document ({text, meta}) or up to 1000 ({documents: [...]}), all or nothing (owners)."""
    project_access(project_id, owner=True)
    body = json_body()
    single = "documents" not in body
    items = [body] if single else body["documents"]
    rows = [Document(project_id=project_id, text=item["text"], meta=item["meta"]) for item in items]
    db.session.add_all(rows)
    db.session.commit()
    if single:
        return jsonify(document_json(rows[0])), 201
    return jsonify({"items": [document_json(r) for r in rows]}), 201


@bp.get("/<int:document_id>")
@operation(answers={200: DOCUMENT_WITH_ANNOTATIONS})
def get_document_with_annotations(project_id: int, document_id: int):
    """A document with the annotations the caller may see (own by default; annotator=ID)."""
    access, document = document_access(project_id, document_id)
    annotations = document_annotations(access, document_id)
    finished, is_skipped = db.session.execute(db.select(
        exists().where(DocumentCompletion.document_id == document_id,
                       DocumentCompletion.user_id == access.user.id),
        skipped(project_id, access.user.id)).where(Document.id == document_id)).one()
    return jsonify({**document_json(document), "finished": bool(finished), "skipped": bool(is_skipped),
                    "annotations": [serialize.annotation(a) for a in annotations]})


@bp.delete("/<int:document_id>")
@operation(answers={204: None})
def delete_document(project_id: int, document_id: int):
    """Delete a document and its annotations (owners)."""
    project_access(project_id, owner=True)
    db.session.delete(get_document(project_id, document_id))
    db.session.commit()
    return "", 204


@bp.put("/<int:document_id>/finished")
@operation(answers={204: None})
def finish_document(project_id: int, document_id: int):
    """Mark the document finished for the caller; marking it again changes nothing."""
    access = project_access(project_id)
    get_document(project_id, document_id)
    done = db.session.scalar(db.select(DocumentCompletion).where(
        DocumentCompletion.document_id == document_id, DocumentCompletion.user_id == access.user.id))
    if done is None:
        db.session.add(DocumentCompletion(document_id=document_id, user_id=access.user.id))
        # A concurrent request (a double click) may have marked it since the check above:
        # its mark is the one wanted, so losing that race is success too.
        commit_unless_duplicate()
    return "", 204


@bp.delete("/<int:document_id>/finished")
@operation(answers={204: None})
def unfinish_document(project_id: int, document_id: int):
    """Take back the caller's finished mark."""
    access = project_access(project_id)
    get_document(project_id, document_id)
    db.session.execute(db.delete(DocumentCompletion).where(
        DocumentCompletion.document_id == document_id, DocumentCompletion.user_id == access.user.id))
    db.session.commit()
    return "", 204


@bp.put("/<int:document_id>/skipped")
@operation(answers={204: None})
def skip_document(project_id: int, document_id: int):
    """Skip the document for the caller: out of their queue, not finished, until the next
    retraining (docs/api.md); skipping it again renews the skip."""
    access = project_access(project_id)
    get_document(project_id, document_id)
    skip(access.project, access.user.id, document_id)
    return "", 204


@bp.delete("/<int:document_id>/skipped")
@operation(answers={204: None})
def unskip_document(project_id: int, document_id: int):
    """Take back the caller's skip: the document returns to their queue."""
    access = project_access(project_id)
    get_document(project_id, document_id)
    unskip(access.user.id, document_id)
    return "", 204
