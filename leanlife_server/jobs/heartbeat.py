"""Liveness of running jobs: a thread writes ``jobs.heartbeat_at`` while a job runs; a job
whose heartbeat went silent (its worker was killed, its machine died) is marked failed."""

from __future__ import annotations

import threading
from datetime import timedelta

from flask import current_app

from leanlife_server.db import db
from leanlife_server.db.models import Job, utcnow

RUNNING, FAILED = "running", "failed"


class Heartbeat:
    """``with Heartbeat(job_id):`` refreshes the job's heartbeat every
    ``LEANLIFE_JOB_HEARTBEAT_SECONDS`` on its own connection until the block ends."""

    def __init__(self, job_id: int):
        self.job_id = job_id
        self.interval = current_app.config["LEANLIFE"].job_heartbeat_seconds
        self.engine = db.engine
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._beat, name=f"leanlife-heartbeat-{job_id}",
                                       daemon=True)

    def _beat(self) -> None:
        table = Job.__table__
        while not self.stopped.wait(self.interval):
            with self.engine.begin() as connection:
                connection.execute(table.update().where(table.c.id == self.job_id)
                                   .values(heartbeat_at=utcnow()))

    def __enter__(self) -> "Heartbeat":
        self.thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stopped.set()
        self.thread.join()


def _stale_before():
    return utcnow() - timedelta(seconds=current_app.config["LEANLIFE"].job_heartbeat_timeout)


def alive_running_job(project_id: int, kind: str, exclude: int | None = None) -> Job | None:
    """A running job of this project and kind whose heartbeat is fresh."""
    query = db.select(Job).where(Job.project_id == project_id, Job.kind == kind,
                                 Job.state == RUNNING, Job.heartbeat_at >= _stale_before())
    if exclude is not None:
        query = query.where(Job.id != exclude)
    return db.session.scalars(query.limit(1)).first()


def reap_stale_jobs(project_id: int) -> list[Job]:
    """Mark the project's running jobs with a silent heartbeat failed; returns them."""
    stale = list(db.session.scalars(db.select(Job).where(
        Job.project_id == project_id, Job.state == RUNNING, Job.heartbeat_at < _stale_before())))
    timeout = current_app.config["LEANLIFE"].job_heartbeat_timeout
    for job in stale:
        job.state, job.finished_at = FAILED, utcnow()
        job.error = (f"the worker running this job stopped: no heartbeat for {timeout} s "
                     f"(LEANLIFE_JOB_HEARTBEAT_TIMEOUT)")
    if stale:
        db.session.commit()
    return stale
