"""Documents: add, page through (filtered by annotation status), read, mark finished."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy import exists, func

from leanlife_server.api import serialize
from leanlife_server.api.access import ProjectAccess, project_access
from leanlife_server.api.pagination import paginate
from leanlife_server.api.payload import field, json_body
from leanlife_server.db import db
from leanlife_server.db.lookup import get_in_project
from leanlife_server.db.models import Annotation, Document, DocumentCompletion
from leanlife_server.errors import ApiError, invalid

bp = Blueprint("documents_api", __name__, url_prefix="/api/v1/projects/<int:project_id>/documents")

MAX_BATCH = 1000
STATUSES = ("annotated", "unannotated", "finished", "unfinished")


def document_json(row: Document) -> dict[str, Any]:
    return {"id": row.id, "text": row.text, "meta": row.meta}


def check_text(text: Any, where: str) -> str:
    limit = current_app.config["LEANLIFE"].max_document_chars
    if not isinstance(text, str) or not text:
        raise invalid(where, "must be a non-empty string")
    if len(text) > limit:
        raise invalid(where, f"is {len(text)} characters long; the limit is {limit} "
                             f"(LEANLIFE_MAX_DOCUMENT_CHARS)")
    return text


def get_document(project_id: int, document_id: int) -> Document:
    return get_in_project(Document, document_id, project_id, "document")


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
    try:
        user_id = int(raw)
    except ValueError:
        raise invalid("annotator", f"must be a user id, got {raw!r}") from None
    if not access.can_read_user(user_id):
        raise ApiError(403, "forbidden", "annotators see only their own annotations in this project",
                       {"field": "annotator"})
    return user_id


def requested_annotator(access: ProjectAccess) -> int | None:
    """Whose annotations to show: the caller's unless ``annotator`` asks for someone else's."""
    return visible_annotator(access) if "annotator" in request.args else access.user.id


def document_annotations(access: ProjectAccess, document_id: int) -> list[Annotation]:
    """The document's annotations the request asks for and may see. Imported ones belong to
    no user and are shown to every member (they are the shared ground, e.g. RE's entities)."""
    query = db.select(Annotation).where(Annotation.document_id == document_id)
    annotator = requested_annotator(access)
    if annotator is not None:
        query = query.where((Annotation.user_id == annotator) | Annotation.user_id.is_(None))
    return list(db.session.scalars(query.options(*serialize.ANNOTATION_LOADING).order_by(Annotation.id)))


@bp.get("")
def list_documents(project_id: int):
    """Documents in id order, paginated by cursor; filter with status= and annotator=;
    count=true adds the number of matching documents as ``total``."""
    access = project_access(project_id)
    query = db.select(Document).where(Document.project_id == project_id)
    status = request.args.get("status")
    if status is not None:
        if status not in STATUSES:
            raise invalid("status", f"must be one of {list(STATUSES)}")
        annotator = visible_annotator(access)
        if status in ("annotated", "unannotated"):
            marker = exists().where(Annotation.document_id == Document.id)
            if annotator is not None:
                marker = marker.where(Annotation.user_id == annotator)
        else:
            marker = exists().where(DocumentCompletion.document_id == Document.id,
                                    DocumentCompletion.user_id == (annotator or access.user.id))
        query = query.where(marker if status in ("annotated", "finished") else ~marker)
    page = paginate(query, Document.id, document_json)
    if request.args.get("count") in ("1", "true"):
        # One COUNT over the filtered query, so progress bars need not page through a project.
        page["total"] = db.session.scalar(db.select(func.count()).select_from(query.subquery()))
    return jsonify(page)


@bp.post("")
def add_documents(project_id: int):
    """Add one document ({text, meta}) or up to 1000 ({documents: [...]}), all or nothing (owners)."""
    project_access(project_id, owner=True)
    body = json_body()
    single = "documents" not in body
    items = [body] if single else field(body, "documents", list)
    if len(items) > MAX_BATCH:
        raise invalid("documents", f"at most {MAX_BATCH} per request; use an import for more")
    rows = []
    for i, item in enumerate(items):
        where = "" if single else f"documents[{i}]."
        if not isinstance(item, dict):
            raise invalid(where.rstrip(".") or "body", "must be an object")
        meta = item.get("meta", {})
        if not isinstance(meta, dict):
            raise invalid(f"{where}meta", "must be an object")
        rows.append(Document(project_id=project_id, text=check_text(item.get("text"), f"{where}text"),
                             meta=meta))
    db.session.add_all(rows)
    db.session.commit()
    if single:
        return jsonify(document_json(rows[0])), 201
    return jsonify({"items": [document_json(r) for r in rows]}), 201


@bp.get("/<int:document_id>")
def get_document_with_annotations(project_id: int, document_id: int):
    """A document with the annotations the caller may see (own by default; annotator=ID)."""
    access = project_access(project_id)
    document = get_document(project_id, document_id)
    annotations = document_annotations(access, document_id)
    finished = db.session.scalar(db.select(DocumentCompletion.id).where(
        DocumentCompletion.document_id == document_id, DocumentCompletion.user_id == access.user.id))
    return jsonify({**document_json(document), "finished": finished is not None,
                    "annotations": [serialize.annotation(a) for a in annotations]})


@bp.delete("/<int:document_id>")
def delete_document(project_id: int, document_id: int):
    """Delete a document and its annotations (owners)."""
    project_access(project_id, owner=True)
    db.session.delete(get_document(project_id, document_id))
    db.session.commit()
    return "", 204


@bp.put("/<int:document_id>/finished")
def finish_document(project_id: int, document_id: int):
    """Mark the document finished for the caller."""
    access = project_access(project_id)
    get_document(project_id, document_id)
    done = db.session.scalar(db.select(DocumentCompletion).where(
        DocumentCompletion.document_id == document_id, DocumentCompletion.user_id == access.user.id))
    if done is None:
        db.session.add(DocumentCompletion(document_id=document_id, user_id=access.user.id))
        db.session.commit()
    return "", 204


@bp.delete("/<int:document_id>/finished")
def unfinish_document(project_id: int, document_id: int):
    """Take back the caller's finished mark."""
    access = project_access(project_id)
    get_document(project_id, document_id)
    db.session.execute(db.delete(DocumentCompletion).where(
        DocumentCompletion.document_id == document_id, DocumentCompletion.user_id == access.user.id))
    db.session.commit()
    return "", 204
