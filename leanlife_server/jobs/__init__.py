"""Background jobs: a row in ``jobs`` tracks each one; a runner executes it.

A job function is named by a dotted path and called as ``function(job_id)`` inside an app
context. Without ``LEANLIFE_REDIS_URL`` jobs run in-process on small thread pools, so the
embedded server needs nothing else; with it they go to RQ workers (``leanlife worker``).
Each job goes to a lane by its kind and size (:mod:`leanlife_server.jobs.lanes`), and the
jobs a user asks for are bounded per user and per project (:mod:`leanlife_server.jobs.limits`).
Jobs of one project and kind run one at a time; every state change is emitted as a
``job`` event to the project's room.

This module is the face of ``jobs/``: choosing the runner, submitting, reaping lost jobs,
and the names of the modules below it (a job's row and states in ``jobs/states.py``, running
one in ``jobs/execution.py``), which import nothing from here.
"""

from __future__ import annotations

import logging
import time

from flask import current_app

from leanlife_server.db import db
from leanlife_server.db.models import Job, utcnow
from leanlife_server.jobs.execution import execute
from leanlife_server.jobs.heartbeat import reap_stale_jobs
from leanlife_server.jobs.lanes import MODEL
from leanlife_server.jobs.limits import TooManyJobs
from leanlife_server.jobs.runners import InProcessRunner, RQRunner, Runner
from leanlife_server.jobs.states import (
    ACTIVE_STATES,
    FAILED,
    FINISHED,
    QUEUED,
    RUNNING,
    JobInterrupted,
    TrainingUnavailable,
    abandon_unfinished_jobs,
    create_job,
    emit_job,
    fail_interrupted_jobs,
    job_json,
    set_progress,
    stopped_error,
)

log = logging.getLogger(__name__)

RUNNER_KEY = "leanlife_job_runner"
LOST_ERROR = ("the job queue lost this job before a worker started it (Redis restarted without "
              "its data, or was emptied); annotations are kept: submit it again (a retraining "
              "policy queues a new job on its next trigger)")

__all__ = ["QUEUED", "RUNNING", "FINISHED", "FAILED", "ACTIVE_STATES", "TrainingUnavailable",
           "TooManyJobs", "create_job", "submit", "runner", "set_progress", "execute", "job_json", "emit_job",
           "reap", "fail_lost_jobs", "abandon_unfinished_jobs", "JobInterrupted", "fail_interrupted_jobs",
           "stopped_error", "reap_now_and_then"]


def runner() -> Runner:
    """The app's runner: RQ when ``LEANLIFE_REDIS_URL`` is set, else a thread pool."""
    app = current_app._get_current_object()
    if RUNNER_KEY not in app.extensions:
        settings = app.config["LEANLIFE"]
        app.extensions[RUNNER_KEY] = (RQRunner(settings.redis_url, settings.redis_prefix)
                                      if settings.redis_url else InProcessRunner(app))
    return app.extensions[RUNNER_KEY]


def submit(job: Job, target: str, lane: str = MODEL) -> None:
    """Run ``target(job.id)`` in the background, in ``lane`` (training and prediction jobs
    need not say). Commit the job row before calling this. Raises ``TrainingUnavailable``
    (after marking the job failed) when the queue is down."""
    emit_job(job)  # before the runner may start it, so "queued" is heard before "running"
    try:
        runner().submit(job.id, target, lane)
    except TrainingUnavailable as exc:
        job.state, job.error, job.finished_at = FAILED, str(exc), utcnow()
        db.session.commit()
        emit_job(job)
        raise


def reap(project_id: int) -> None:
    """Fail the project's jobs that will never finish: running ones whose worker died (silent
    heartbeat) and queued ones the queue lost; and say so."""
    for job in reap_stale_jobs(project_id):
        emit_job(job)
    fail_lost_jobs(project_id)


# Saves come many a second and each would reap its project (a fifth of a save's CPU); a job
# that died is noticed within the heartbeat timeout anyway, so a save reaps at most this often
# per project and process.
REAP_INTERVAL_SECONDS = 1.0


def reap_now_and_then(project_id: int) -> None:
    """``reap``, unless this process reaped the project less than a second ago."""
    reaped_at = current_app.extensions.setdefault("leanlife.reaped_at", {})
    now = time.monotonic()
    if now - reaped_at.get(project_id, float("-inf")) < REAP_INTERVAL_SECONDS:
        return
    reaped_at[project_id] = now
    reap(project_id)


def fail_lost_jobs(project_id: int | None = None) -> list[Job]:
    """Fail the queued jobs (of one project, or all) that the runner no longer holds, so
    that they block no new job; returns them."""
    query = db.select(Job).where(Job.state == QUEUED)
    if project_id is not None:
        query = query.where(Job.project_id == project_id)
    lost = runner().lost(list(db.session.scalars(query.order_by(Job.id))))
    failed = []
    for job in lost:
        # Only if still queued: another process may have failed it, or started it, meanwhile.
        changed = db.session.execute(db.update(Job).where(Job.id == job.id, Job.state == QUEUED)
                                     .values(state=FAILED, error=LOST_ERROR, finished_at=utcnow()))
        if changed.rowcount:
            failed.append(job)
    if lost:
        db.session.commit()
    for job in failed:
        db.session.refresh(job)
        log.warning("job %s (%s, project %s): %s", job.id, job.kind, job.project_id, LOST_ERROR)
        emit_job(job)
    return failed
