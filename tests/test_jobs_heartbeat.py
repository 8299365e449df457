"""A job's heartbeat against a database that refuses it for a while: the heartbeat goes on,
a job failed by the timeout meanwhile is running again once its heartbeat is written, and a
job that finishes ends finished, without the timeout's error. Jobs run in a thread of this
process, on the real database; the errors are real ones (SQLite's write lock held past its
timeout; a PostgreSQL backend terminated while it waited for a row lock)."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from datetime import datetime, timezone

import leanlife_server.db
from leanlife_server.db import db
from leanlife_server.db.models import Job
from leanlife_server.jobs import create_job, execute, reap
from leanlife_server.jobs.heartbeat import reap_stale_jobs
from tests.conftest import create_project
from tests.test_jobs_support import wait_until

TARGET = f"{__name__}:held_job"
RELEASE: dict[int, threading.Event] = {}


def held_job(job_id: int) -> None:
    """A job that runs until the test lets it finish."""
    assert RELEASE[job_id].wait(60), "the test never released the job"


@contextlib.contextmanager
def running_job(app, project_id: int):
    """Start a held job in a thread; yield its id once it runs; release it and wait at exit."""
    with app.app_context():
        job_id = create_job(project_id, "held").id
        db.session.commit()
    RELEASE[job_id] = threading.Event()

    def run() -> None:
        with app.app_context():
            execute(job_id, TARGET)

    thread = threading.Thread(target=run, name=f"test-job-{job_id}")
    thread.start()
    try:
        wait_until(lambda: stored(app, job_id).state == "running", what="the job to start")
        yield job_id
    finally:
        RELEASE[job_id].set()
        thread.join(30)


def stored(app, job_id: int) -> Job:
    with app.app_context():
        return db.session.get(Job, job_id)


def _terminate_waiting_heartbeat() -> None:
    """PostgreSQL: end the backend of the heartbeat that waits for the job's row lock (from a
    connection of its own: pg_stat_activity is a snapshot per transaction)."""
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        def blocked():
            return connection.execute(db.text(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND "
                "wait_event_type = 'Lock' AND query LIKE 'UPDATE jobs SET heartbeat_at%'")).scalars().all()

        pids = wait_until(blocked, what="the heartbeat to wait for the row lock")
        for pid in pids:
            connection.execute(db.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})


def hold_job_row_until_stale_then_reap(app, job_id: int, project_id: int, monkeypatch) -> list[Job]:
    """Lock the job's row (the write lock on SQLite) so that heartbeats fail with a database
    error, past the heartbeat timeout; then, still holding it, let the timeout fail the job.
    Returns the jobs the timeout failed, as it left them."""
    timeout = app.config["LEANLIFE"].job_heartbeat_timeout
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            monkeypatch.setattr(leanlife_server.db, "SQLITE_BUSY_SECONDS", 1)
        held_since = time.monotonic()
        db.session.execute(db.update(Job).where(Job.id == job_id).values(progress=0.5))
        if db.engine.dialect.name == "postgresql":
            _terminate_waiting_heartbeat()
        time.sleep(max(0.0, timeout + 1.5 - (time.monotonic() - held_since)))
        return reap_stale_jobs(project_id)  # commits, and so lets go of the lock


def aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)  # SQLite's are naive


def test_the_heartbeat_outlives_database_errors_and_revives_a_job_the_timeout_failed(
        make_app, make_caller, monkeypatch, caplog):
    app = make_app({"job_heartbeat_seconds": 1, "job_heartbeat_timeout": 2})
    project = create_project(make_caller("owner"), "sa")
    caplog.set_level(logging.WARNING, logger="leanlife_server.jobs.heartbeat")
    with running_job(app, project["id"]) as job_id:
        (failed,) = hold_job_row_until_stale_then_reap(app, job_id, project["id"], monkeypatch)
        assert failed.id == job_id and failed.state == "failed" and "no heartbeat" in failed.error
        revived = wait_until(lambda: (j := stored(app, job_id)).state == "running" and j, timeout=10,
                             what="the heartbeat to be written again")
        assert revived.error is None and revived.finished_at is None
        assert aware(revived.heartbeat_at) > aware(failed.heartbeat_at)
        assert any("could not write its heartbeat" in r.getMessage() for r in caplog.records), \
            "the heartbeat met a database error"
    finished = stored(app, job_id)
    assert (finished.state, finished.error) == ("finished", None)


def test_a_job_that_finishes_after_the_timeout_failed_it_ends_finished_without_the_error(
        make_app, make_caller):
    # The heartbeat writes only every 30 s here: it cannot revive the job before it ends.
    app = make_app({"job_heartbeat_seconds": 30, "job_heartbeat_timeout": 1})
    project = create_project(make_caller("owner"), "sa")
    with running_job(app, project["id"]) as job_id:
        time.sleep(1.5)
        with app.app_context():
            reap(project["id"])
        failed = stored(app, job_id)
        assert failed.state == "failed" and "no heartbeat" in failed.error
    finished = stored(app, job_id)
    assert (finished.state, finished.error, finished.progress) == ("finished", None, 1.0)
    assert finished.finished_at is not None
