"""Liveness of running jobs: a thread writes ``jobs.heartbeat_at`` while a job runs; a job
whose heartbeat went silent (its worker was killed, its machine died) is marked failed."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from flask import current_app

from leanlife_server.db import db
from leanlife_server.db.models import Job, utcnow

log = logging.getLogger(__name__)

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
        while not self.stopped.wait(self.interval):
            try:
                self._write()
            except Exception as exc:  # a locked or restarting database must not end the beat
                log.warning("job %s: could not write its heartbeat (%s); retrying in %s s",
                            self.job_id, exc, self.interval)

    def _write(self) -> None:
        table = Job.__table__
        this_job = table.c.id == self.job_id
        with self.engine.begin() as connection:
            connection.execute(table.update().where(this_job).values(heartbeat_at=utcnow()))
            # The job is running after all: if the timeout failed it while its heartbeat could
            # not be written, undo that (its own failure is recorded only after the beat stops).
            revived = connection.execute(table.update().where(this_job, table.c.state == FAILED)
                                         .values(state=RUNNING, error=None, finished_at=None))
        if revived.rowcount:
            log.warning("job %s: heartbeat written again; it is running, not failed", self.job_id)

    def __enter__(self) -> "Heartbeat":
        self.thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stopped.set()
        self.thread.join()


def stale_before():
    """A running job whose heartbeat is older than this has lost its worker."""
    return utcnow() - timedelta(seconds=current_app.config["LEANLIFE"].job_heartbeat_timeout)


def alive_running_job(project_id: int, kind: str, exclude: int | None = None) -> Job | None:
    """A running job of this project and kind whose heartbeat is fresh."""
    query = db.select(Job).where(Job.project_id == project_id, Job.kind == kind,
                                 Job.state == RUNNING, Job.heartbeat_at >= stale_before())
    if exclude is not None:
        query = query.where(Job.id != exclude)
    return db.session.scalars(query.limit(1)).first()


def reap_stale_jobs(project_id: int) -> list[Job]:
    """Mark the project's running jobs with a silent heartbeat failed; returns them."""
    stale = list(db.session.scalars(db.select(Job).where(
        Job.project_id == project_id, Job.state == RUNNING, Job.heartbeat_at < stale_before())))
    timeout = current_app.config["LEANLIFE"].job_heartbeat_timeout
    for job in stale:
        job.state, job.finished_at = FAILED, utcnow()
        job.error = (f"the worker running this job stopped: no heartbeat for {timeout} s "
                     f"(LEANLIFE_JOB_HEARTBEAT_TIMEOUT)")
    if stale:
        db.session.commit()
    return stale
