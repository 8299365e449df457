"""Rows of unfinished imports: the clause that hides them.

An import writes its documents and annotations in many short transactions with
``import_id`` set to its ``import_stagings`` row, then publishes them all at once by deleting
that row (:mod:`leanlife_server.formats.staging`). Every query that lists, counts, queues,
exports or trains on a project's documents or annotations filters with :func:`published`.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from leanlife_server.db import db
from leanlife_server.db.models import ImportStaging


def published(import_id: sa.ColumnElement) -> ColumnElement[bool]:
    """True for rows no unfinished import wrote; ``import_id`` is a table's import_id column
    (``Document.import_id``, ``Annotation.import_id``). The subquery reads a table of a few
    rows at most, once per query."""
    return sa.or_(import_id.is_(None), import_id.not_in(sa.select(ImportStaging.id)))


def hidden(import_id: int | None) -> bool:
    """Whether a row with this ``import_id`` belongs to an unfinished import."""
    return import_id is not None and db.session.get(ImportStaging, import_id) is not None
