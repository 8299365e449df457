"""Telling a lost race from a broken write: which ``IntegrityError``s two concurrent requests
cause (a unique key both inserted, a row one of them deleted), on every supported backend."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from leanlife_server.db import db

# SQLSTATEs (PostgreSQL) and extended result codes (SQLite) of unique and foreign-key
# violations; NOT NULL and CHECK violations are bugs, not races, and stay errors.
_UNIQUE = {"23505", "SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY"}
_FOREIGN_KEY = {"23503", "SQLITE_CONSTRAINT_FOREIGNKEY"}


def _reason(exc: IntegrityError) -> str | None:
    orig = exc.orig
    return getattr(orig, "sqlstate", None) or getattr(orig, "sqlite_errorname", None)


def is_unique_violation(exc: IntegrityError) -> bool:
    return _reason(exc) in _UNIQUE


def is_race(exc: IntegrityError) -> bool:
    """A unique or foreign-key violation: what a concurrent request's commit causes."""
    return _reason(exc) in _UNIQUE | _FOREIGN_KEY


def commit_unless_duplicate() -> bool:
    """Commit the session; False, after rolling back, when a unique key it inserts was taken
    by a concurrent commit in the meantime."""
    try:
        db.session.commit()
    except IntegrityError as exc:
        db.session.rollback()
        if not is_unique_violation(exc):
            raise
        return False
    return True
