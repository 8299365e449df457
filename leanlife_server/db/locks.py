"""Serialising writers of one row, on every supported backend.

A request that checks something and then writes on the strength of it (a project keeps an
owner, a document keeps one label per annotator, an annotation is replaced whole) must not
interleave with another request doing the same. ``lock_row`` is its first write: from there
to the end of the transaction, nobody else locks that row, and every read the request makes
afterwards sees what the previous holder committed.

- PostgreSQL: ``SELECT ... FOR NO KEY UPDATE`` (read committed: later statements see the
  latest commits). Not ``FOR UPDATE``: that also blocks inserts of rows referring to the
  locked one (their foreign-key check takes ``FOR KEY SHARE``), so a request holding a
  project's lock and waiting for a document that an annotation save holds, while the save
  inserts its annotation of that project, deadlocked.
- SQLite: a no-op ``UPDATE`` takes the database's write lock now rather than at the first
  real write; the reads before it ran outside any transaction, the ones after it inside it.
"""

from __future__ import annotations

from sqlalchemy import text

from leanlife_server.db import Base, db


def lock_row(model: type[Base], row_id: int) -> None:
    """Lock the row ``row_id`` of ``model``'s table (nothing happens to a missing row, but
    on SQLite the write lock is still taken). Load the row after this, not before."""
    table = model.__table__.name
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text(f"SELECT id FROM {table} WHERE id = :id FOR NO KEY UPDATE"), {"id": row_id})
    else:  # written in SQL so that no ORM onupdate (updated_at) fires
        db.session.execute(text(f"UPDATE {table} SET id = id WHERE id = :id"), {"id": row_id})
