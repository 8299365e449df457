"""Database access: the SQLAlchemy extension and engine tuning per backend."""

from __future__ import annotations

import threading
import weakref

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import event, exc
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.pool import Pool

SQLITE_BUSY_SECONDS = 30


class Base(DeclarativeBase):
    pass


# Rows stay readable after commit without a reload: a request serialises what it just
# saved, and re-selecting every row after each commit doubled the queries of a save.
db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})


def engine_options(database_url: str) -> dict:
    """SQLite gets a busy timeout, no thread pinning (several request threads share it) and a
    pool for the server's default 32 threads (and as many again in overflow), so connections
    and their PRAGMAs are reused, not opened per request once more than 5 requests run at once."""
    if database_url.startswith("sqlite"):
        return {"connect_args": {"timeout": SQLITE_BUSY_SECONDS, "check_same_thread": False},
                "pool_size": 32, "max_overflow": 32}
    return {"pool_pre_ping": True, "pool_size": 20, "max_overflow": 40}


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # WAL lets readers work during a write; foreign keys are off by default in SQLite.
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_SECONDS * 1000}")
        cursor.close()


# SQLite takes one writer at a time, and a writer that finds the lock taken sleeps in
# SQLite's busy handler (1 ms, 2 ms, ... up to 100 ms a try), so under many annotators some
# saves lost every race and waited for seconds. Writers of one process queue on this lock
# instead, from their first write statement until their connection returns to the pool
# (after commit or rollback); readers never take it, WAL lets them read meanwhile.
_sqlite_write_locks: "weakref.WeakKeyDictionary[Engine, threading.Lock]" = weakref.WeakKeyDictionary()
_sqlite_write_locks_guard = threading.Lock()
_READ_ONLY = ("SELECT", "PRAGMA")


@event.listens_for(Engine, "before_cursor_execute")
def _sqlite_one_writer(conn, _cursor, statement: str, _parameters, _context, _executemany) -> None:
    if (conn.dialect.name != "sqlite" or "sqlite_write_lock" in conn.info
            or statement.lstrip()[:6].upper() in _READ_ONLY):
        return
    with _sqlite_write_locks_guard:
        lock = _sqlite_write_locks.setdefault(conn.engine, threading.Lock())
    if not lock.acquire(timeout=SQLITE_BUSY_SECONDS):
        raise exc.OperationalError(statement, None, Exception(
            f"database is locked: another write transaction held it for {SQLITE_BUSY_SECONDS} s"))
    conn.info["sqlite_write_lock"] = lock


@event.listens_for(Pool, "checkin")
def _sqlite_writer_done(_dbapi_connection, record) -> None:
    lock = record.info.pop("sqlite_write_lock", None)
    if lock is not None:
        lock.release()
