"""The caller's annotation queue: the next document to label (leased to them), the ranked
list, and giving a leased document back."""

from __future__ import annotations

from flask import Blueprint, jsonify

from leanlife_server.active.queue import next_document, queue_items, release
from leanlife_server.api.access import project_access
from leanlife_server.api.documents import DOCUMENT_SHAPE, document_json, get_document
from leanlife_server.api.payload import query_int
from leanlife_server.api.shapes import Body, always, items_of, maybe_null, operation
from leanlife_server.db import db
from leanlife_server.db.models import DocumentLease, UncertaintyScore
from leanlife_server.pipeline.model_store import active_version

bp = Blueprint("queue_api", __name__, url_prefix="/api/v1/projects/<int:project_id>/queue")

# leanlife_server.active.queue.queue_items
QUEUE_ITEM = Body({"document_id": always(int), "score": maybe_null(float), "confidence": maybe_null(float)})
NEXT_DOCUMENT = Body({**DOCUMENT_SHAPE.fields, "score": maybe_null(float),
                      "lease_expires_at": maybe_null(str)})


@bp.get("")
@operation(answers={200: items_of(QUEUE_ITEM)})
def ranked_queue(project_id: int):
    """The caller's queue, most informative first (limit=, default 20)."""
    access = project_access(project_id)
    limit = query_int("limit", 20, minimum=1, maximum=500)
    return jsonify({"items": queue_items(access.project, access.user.id, limit)})


@bp.get("/next")
@operation(answers={200: NEXT_DOCUMENT, 204: None})
def next_in_queue(project_id: int):
    """The next document to annotate, leased to the caller; 204 when the queue is empty."""
    access = project_access(project_id)
    document = next_document(access.project, access.user.id)
    if document is None:
        return "", 204
    lease = db.session.scalar(db.select(DocumentLease).where(DocumentLease.document_id == document.id,
                                                             DocumentLease.user_id == access.user.id))
    version = active_version(project_id)
    score = None if version is None else db.session.scalar(db.select(UncertaintyScore.score).where(
        UncertaintyScore.model_version_id == version.id, UncertaintyScore.document_id == document.id))
    return jsonify({**document_json(document), "score": score,
                    "lease_expires_at": lease.expires_at.isoformat() if lease else None})


@bp.delete("/lease/<int:document_id>")
@operation(answers={204: None})
def release_lease(project_id: int, document_id: int):
    """Give a leased document back to the queue."""
    access = project_access(project_id)
    get_document(project_id, document_id)
    release(access.project, access.user.id, document_id)
    return "", 204
