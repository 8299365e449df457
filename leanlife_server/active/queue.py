"""The annotation queue: documents still wanting annotators, in the active model's ranking,
leased to as many annotators at a time as they want, without those the model is already
sure about.

A document is in a user's queue while it has fewer annotators than the project's overlap
gives it (by default one; active/overlap.py), counting those holding an unexpired lease on
it, and the user is not one of them (input annotations such as RE's imported entities do not
make an annotator); the user has not skipped it (active/skips.py), and the active model's
confidence in it is below the project's ``confidence_threshold``. Documents follow the
active version's scores (most informative first); documents it has not scored yet come
after those, in id order. Documents without a letter come after all others, in that order.

This module is also a built-in plugin (``plugins.DEFAULT_PLUGINS``): after a retraining job
it ranks every member's queue again.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy import Select, null, or_

from leanlife_server.active.overlap import open_to
from leanlife_server.active.skips import skipped
from leanlife_server.db import db
from leanlife_server.db.locks import lock_row
from leanlife_server.db.staging import published
from leanlife_server.db.models import (
    Document,
    DocumentLease,
    Membership,
    Project,
    UncertaintyScore,
    utcnow,
)
from leanlife_server.events import QueueRanked, TrainingFinished
from leanlife_server.hookspecs import hookimpl
from leanlife_server.pipeline.model_store import active_version

QUEUE_EVENT_SIZE = 20


def ranked(project: Project, user_id: int) -> Select:
    """Rows (id, score, confidence) of the user's queue, best first."""
    now = utcnow()
    version = active_version(project.id)
    if version is None:
        query = db.select(Document.id, null().label("score"), null().label("confidence"))
    else:
        query = db.select(Document.id, UncertaintyScore.score, UncertaintyScore.confidence).outerjoin(
            UncertaintyScore, (UncertaintyScore.document_id == Document.id)
            & (UncertaintyScore.model_version_id == version.id))
        if project.confidence_threshold is not None:
            query = query.where(or_(UncertaintyScore.confidence.is_(None),
                                    UncertaintyScore.confidence < project.confidence_threshold))
    query = query.where(
        Document.project_id == project.id, published(Document.import_id),
        open_to(project, user_id, current_app.extensions["leanlife"].tasks.get(project.task).input_kinds, now),
        ~skipped(project.id, user_id))
    # Documents without a letter go last whatever the strategy (active/letters.py).
    if version is None:
        return query.order_by(Document.has_letters.desc(), Document.id)
    return query.order_by(Document.has_letters.desc(), UncertaintyScore.score.desc().nulls_last(), Document.id)


def queue_items(project: Project, user_id: int, limit: int) -> list[dict[str, Any]]:
    rows = db.session.execute(ranked(project, user_id).limit(limit)).all()
    return [{"document_id": r.id, "score": r.score, "confidence": r.confidence} for r in rows]


def _own_lease(project: Project, user_id: int) -> DocumentLease | None:
    """The caller's unexpired lease on a document that is still in their queue."""
    lease = db.session.scalars(db.select(DocumentLease).where(
        DocumentLease.project_id == project.id, DocumentLease.user_id == user_id,
        DocumentLease.expires_at > utcnow())).first()
    if lease is None:
        return None
    still_queued = db.session.execute(ranked(project, user_id).where(Document.id == lease.document_id)).first()
    return lease if still_queued else None


def next_document(project: Project, user_id: int) -> Document | None:
    """The top of the user's queue, leased to them for ``LEANLIFE_LEASE_SECONDS``. Asking
    again while the lease holds returns the same document and extends the lease."""
    expires = utcnow() + timedelta(seconds=current_app.config["LEANLIFE"].lease_seconds)
    # Requests count a document's holders and lease it one at a time (till the commit), so
    # two of them never both take its last place; a few milliseconds each.
    lock_row(Project, project.id)
    lease = _own_lease(project, user_id)
    if lease is not None:
        lease.expires_at = expires
        db.session.commit()
        return db.session.get(Document, lease.document_id)
    db.session.execute(db.delete(DocumentLease).where(
        DocumentLease.project_id == project.id,
        or_(DocumentLease.user_id == user_id, DocumentLease.expires_at <= utcnow())))
    top = db.session.execute(ranked(project, user_id).limit(1)).first()
    if top is not None:
        db.session.add(DocumentLease(project_id=project.id, document_id=top.id, user_id=user_id,
                                     expires_at=expires))
    db.session.commit()
    return None if top is None else db.session.get(Document, top.id)


def release(project: Project, user_id: int, document_id: int) -> None:
    db.session.execute(db.delete(DocumentLease).where(
        DocumentLease.project_id == project.id, DocumentLease.user_id == user_id,
        DocumentLease.document_id == document_id))
    db.session.commit()


@hookimpl
def leanlife_training_finished(event: TrainingFinished) -> None:
    """The built-in queue re-ranking (``plugins.DEFAULT_PLUGINS``): after a retraining job,
    each member's queue follows the new scores; announced as a ``QueueRanked`` per member."""
    project = db.session.get(Project, event.project_id)
    plugins = current_app.extensions["leanlife"]
    members = db.session.scalars(db.select(Membership.user_id).where(Membership.project_id == project.id))
    for user_id in list(members):
        plugins.notify(QueueRanked(project=event.project, user_id=user_id,
                                   documents=queue_items(project, user_id, QUEUE_EVENT_SIZE)))
