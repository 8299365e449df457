"""The life of an import's hidden rows: chunks, publishing, and removal after a failure.

SQLite lets one writer in at a time, so an import that wrote everything in one transaction
made every save wait for it (30 s, then an error). Instead an import writes a chunk per short
transaction, its rows hidden by ``import_id`` (:mod:`leanlife_server.db.staging`), pauses
after each chunk so that waiting writers get their turn, and publishes everything with one
one-row transaction. A failed import deletes its rows; one whose process was killed is
removed by the next import (:func:`remove_abandoned_imports`).
"""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from datetime import timedelta
from typing import Iterator, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from leanlife_server.db.models import Annotation, Document, ImportStaging, Job, Label, utcnow
from leanlife_server.jobs import ACTIVE_STATES

log = logging.getLogger(__name__)

WRITING, DISCARDING = "writing", "discarding"
# An import touches its row with every chunk; one untouched this long was killed.
ABANDONED_AFTER = timedelta(minutes=10)
DELETE_CHUNK = 2000
# After each chunk the import sleeps for this share of the chunk's time (within the bounds):
# a save waiting in SQLite's busy handler polls every 1 to 100 ms, the longer the wait the
# rarer, so the gap must grow with the chunk for every waiter to find the lock free.
PAUSE_SHARE, MIN_PAUSE, MAX_PAUSE = 0.6, 0.005, 0.1

stagings = ImportStaging.__table__
documents = Document.__table__


class ImportAbandoned(RuntimeError):
    """Another process took this import for dead and is removing its rows."""


class Staging:
    """One import's hidden rows on ``engine``."""

    def __init__(self, engine: Engine, project_id: int, job_id: int | None = None):
        self.engine, self.project_id = engine, project_id
        self.sqlite = engine.dialect.name == "sqlite"
        with engine.begin() as conn:
            self.id = conn.execute(stagings.insert().values(
                project_id=project_id, job_id=job_id, state=WRITING, labels_created=[],
                created_at=utcnow(), touched_at=utcnow()).returning(stagings.c.id)).scalar_one()

    @contextmanager
    def chunk(self) -> Iterator[Connection]:
        """A transaction for one chunk of rows. Its first statement writes (the staging row's
        heartbeat), so on SQLite the write lock is held before anything is read: ids read
        from the tables then stay free until the commit."""
        started = time.perf_counter()
        with self.engine.begin() as conn:
            touched = conn.execute(stagings.update().where(
                stagings.c.id == self.id, stagings.c.state == WRITING).values(touched_at=utcnow()))
            if touched.rowcount != 1:
                raise ImportAbandoned(f"import {self.id} was taken for dead and is being removed")
            yield conn
        if self.sqlite:  # PostgreSQL locks rows, not the database: nobody waits for a chunk
            time.sleep(min(MAX_PAUSE, max(MIN_PAUSE, PAUSE_SHARE * (time.perf_counter() - started))))

    def labels_created(self, conn: Connection, label_ids: Sequence[int]) -> None:
        conn.execute(stagings.update().where(stagings.c.id == self.id)
                     .values(labels_created=list(label_ids)))

    def publish(self) -> None:
        """Make every row visible at once: the final transaction deletes one row."""
        with self.engine.begin() as conn:
            gone = conn.execute(stagings.delete().where(stagings.c.id == self.id,
                                                        stagings.c.state == WRITING))
            if gone.rowcount != 1:
                raise ImportAbandoned(f"import {self.id} was taken for dead and is being removed")

    def discard(self) -> None:
        discard(self.engine, self.id)


def discard(engine: Engine, staging_id: int) -> None:
    """Delete an unfinished import's rows, a chunk per transaction (annotations, explanations
    and trigger spans go with their documents), then the labels it created that nothing uses,
    then its staging row: the rows stay hidden until they are gone."""
    with engine.begin() as conn:
        conn.execute(stagings.update().where(stagings.c.id == staging_id).values(state=DISCARDING))
    while True:
        with engine.begin() as conn:
            ids = conn.execute(sa.select(documents.c.id).where(documents.c.import_id == staging_id)
                               .limit(DELETE_CHUNK)).scalars().all()
            if not ids:
                break
            conn.execute(documents.delete().where(documents.c.id.in_(ids)))
        time.sleep(MIN_PAUSE)
    with engine.begin() as conn:
        label_ids = conn.execute(sa.select(stagings.c.labels_created)
                                 .where(stagings.c.id == staging_id)).scalar() or []
        if label_ids:
            conn.execute(sa.delete(Label).where(Label.id.in_(label_ids), ~sa.exists().where(
                Annotation.label_id == Label.id)))
        conn.execute(stagings.delete().where(stagings.c.id == staging_id))


def remove_abandoned_imports(engine: Engine, abandoned_after: timedelta = ABANDONED_AFTER) -> int:
    """Remove the hidden rows of imports that will never finish: their job is no longer queued
    or running (its worker was killed and the job failed), they have not written for
    ``abandoned_after`` (a killed ``leanlife import``), or their removal broke off. Returns
    how many."""
    with engine.connect() as conn:
        dead = conn.execute(sa.select(stagings.c.id).outerjoin(Job, Job.id == stagings.c.job_id).where(
            sa.or_(stagings.c.state == DISCARDING,
                   stagings.c.touched_at < utcnow() - abandoned_after,
                   sa.and_(stagings.c.job_id.is_not(None), Job.state.not_in(ACTIVE_STATES))))
        ).scalars().all()
    for staging_id in dead:
        log.warning("removing the rows of unfinished import %s", staging_id)
        discard(engine, staging_id)
    return len(dead)
