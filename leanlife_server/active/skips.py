"""Skipped documents: an annotator puts a document aside without finishing it.

A skip takes the document out of that annotator's queue (nobody else's) until the next
retraining: until a version of a learned model, trained after the skip, is active in the
project. Versions of *cheap* models (``ModelDefinition.cheap``, such as the dictionary
matcher, retrained on every save) do not end a skip, or every save would. Skipping again
renews the skip. A document the annotator marks finished counts as finished, not skipped.
"""

from __future__ import annotations

from flask import current_app
from sqlalchemy import ColumnElement, exists

from leanlife_server.db import db
from leanlife_server.db.conflicts import commit_unless_duplicate
from leanlife_server.db.models import (
    Document,
    DocumentCompletion,
    DocumentLease,
    DocumentSkip,
    ModelVersion,
    Project,
    utcnow,
)


def _cheap_models() -> list[str]:
    return [m.name for m in current_app.extensions["leanlife"].models if getattr(m, "cheap", False)]


def skipped(project_id: int, user_id: int) -> ColumnElement[bool]:
    """A condition on ``Document``: ``user_id`` skipped it, the skip still holds, and they
    have not marked it finished since (a document is counted finished or skipped, never both)."""
    retrained = exists().where(ModelVersion.project_id == project_id, ModelVersion.is_active.is_(True),
                               ModelVersion.model.not_in(_cheap_models()),
                               ModelVersion.created_at > DocumentSkip.created_at)
    finished = exists().where(DocumentCompletion.document_id == Document.id, DocumentCompletion.user_id == user_id)
    return exists().where(DocumentSkip.document_id == Document.id, DocumentSkip.user_id == user_id,
                          ~retrained) & ~finished


def skip(project: Project, user_id: int, document_id: int) -> None:
    """Skip the document for the user (again: renewed), and give back their lease on it.
    Idempotent, also when two requests skip it at the same moment."""
    for _ in range(2):
        db.session.execute(db.delete(DocumentLease).where(
            DocumentLease.document_id == document_id, DocumentLease.user_id == user_id))
        row = db.session.scalar(db.select(DocumentSkip).where(
            DocumentSkip.document_id == document_id, DocumentSkip.user_id == user_id))
        if row is None:
            db.session.add(DocumentSkip(project_id=project.id, document_id=document_id, user_id=user_id))
        else:
            row.created_at = utcnow()
        # A concurrent skip may have inserted the row since the check above: then renew that one.
        if commit_unless_duplicate():
            return
    raise RuntimeError(f"document {document_id}: could not store the skip")


def unskip(user_id: int, document_id: int) -> None:
    """End the user's skip of the document (nothing to end: nothing happens)."""
    db.session.execute(db.delete(DocumentSkip).where(
        DocumentSkip.document_id == document_id, DocumentSkip.user_id == user_id))
    db.session.commit()
