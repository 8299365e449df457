"""Overlap: how many annotators each document goes to.

A project's ``overlap`` (K, default 1) applies to the share ``overlap_share`` (0..1, default
1: all) of its documents; the others go to one annotator. Which documents are in the share is
fixed by a hash of the document id: the same on every request and backend, and spread evenly
over the ids (of any 10,000 consecutive ids, exactly the share's part is in).

A document's annotators are the users who labeled it with a target-kind annotation (imported
annotations without a user count as one annotator) or marked it finished. The queue offers it
to a user who is not one of them while they, with the other users holding an unexpired lease
on it, are fewer than its K: so it leaves every queue once it has its annotators, never goes
to one annotator twice, and is never held by more than K at once. The queue counts and leases
under the project's row lock (active/queue.py), so concurrent requests cannot both take the
last place.
"""

from __future__ import annotations

from datetime import datetime
from typing import Sequence

from sqlalchemy import BigInteger, ColumnElement, case, cast, func, literal, true, union

from sqlalchemy.orm import aliased

from leanlife_server.db import db
from leanlife_server.db.models import Annotation, Document, DocumentCompletion, DocumentLease, Project

SHARE_BUCKETS = 10_000
# Multiplicative hashing: odd and not a multiple of 5 (coprime to SHARE_BUCKETS, so 10,000
# consecutive ids fill every bucket once), computed in 64 bits (products pass 2**31), and
# not the held-out split's constant (pipeline/dataset.py), so the two choices are independent.
SHARE_MULTIPLIER = 2246822519


def in_share(document_id: int, share: float) -> bool:
    """Whether the document is one of the ``share`` that go to ``overlap`` annotators."""
    return (document_id * SHARE_MULTIPLIER) % SHARE_BUCKETS < share * SHARE_BUCKETS


def wanted(project: Project, document_id: ColumnElement[int]) -> ColumnElement[int]:
    """SQL: how many annotators the document ``document_id`` goes to (``in_share`` in SQL)."""
    if project.overlap == 1 or project.overlap_share <= 0:
        return literal(1)
    if project.overlap_share >= 1:
        return literal(project.overlap)
    bucket = (cast(document_id, BigInteger) * literal(SHARE_MULTIPLIER, BigInteger)) % SHARE_BUCKETS
    return case((bucket < project.overlap_share * SHARE_BUCKETS, project.overlap), else_=1)


def _target(input_kinds: Sequence[str]) -> ColumnElement[bool]:
    return Annotation.kind.not_in(input_kinds) if input_kinds else true()


def open_to(project: Project, user_id: int, input_kinds: Sequence[str], now: datetime) -> ColumnElement[bool]:
    """A condition on ``Document``: ``user_id`` is not one of its annotators, and its
    annotators and the others holding it number fewer than it wants."""
    finished = aliased(Document)  # not the outer query's Document: nothing to correlate
    # The project's (document, person) pairs, once each (UNION): an annotator who labeled and
    # finished a document counts once. Counted in one pass over the project, not per document.
    people = union(
        db.select(Annotation.document_id, func.coalesce(Annotation.user_id, 0).label("user_id"))
        .where(Annotation.project_id == project.id, ~Annotation.gold, _target(input_kinds)),
        db.select(DocumentCompletion.document_id, DocumentCompletion.user_id)
        .join(finished, finished.id == DocumentCompletion.document_id).where(finished.project_id == project.id),
        db.select(DocumentLease.document_id, DocumentLease.user_id)
        .where(DocumentLease.project_id == project.id, DocumentLease.expires_at > now,
               DocumentLease.user_id != user_id),
    ).subquery()
    closed = (db.select(people.c.document_id).group_by(people.c.document_id)
              .having((func.count() >= wanted(project, people.c.document_id))
                      | (func.sum(case((people.c.user_id == user_id, 1), else_=0)) > 0)))
    return Document.id.not_in(closed)
