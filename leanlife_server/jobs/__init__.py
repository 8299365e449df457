"""Background jobs: a row in ``jobs`` tracks each one; a runner executes it.

A job function is named by a dotted path and called as ``function(job_id)`` inside an app
context. Without ``LEANLIFE_REDIS_URL`` jobs run in-process on small thread pools, so the
embedded server needs nothing else; with it they go to RQ workers (``leanlife worker``).
Each job goes to a lane by its kind and size (:mod:`leanlife_server.jobs.lanes`), and the
jobs a user asks for are bounded per user and per project (:mod:`leanlife_server.jobs.limits`).
Jobs of one project and kind run one at a time; every state change is emitted as a
``job`` event to the project's room.
"""

from __future__ import annotations

import logging
import time
import traceback
from typing import Any, Mapping

from flask import current_app

from leanlife_server import realtime
from leanlife_server.db import db
from leanlife_server.db.locks import lock_row
from leanlife_server.db.models import Job, Project, utcnow
from leanlife_server.jobs.heartbeat import Heartbeat, alive_running_job, reap_stale_jobs
from leanlife_server.jobs.lanes import MODEL
from leanlife_server.jobs.limits import TooManyJobs, check_job_limits
from leanlife_server.jobs.runners import (
    TURN_POLL_SECONDS,
    InProcessRunner,
    JobInterrupted,
    RQRunner,
    Runner,
    TrainingUnavailable,
)
from leanlife_server.plugin_api import load_object

log = logging.getLogger(__name__)

QUEUED, RUNNING, FINISHED, FAILED = "queued", "running", "finished", "failed"
ACTIVE_STATES = (QUEUED, RUNNING)
RUNNER_KEY = "leanlife_job_runner"
LOST_ERROR = ("the job queue lost this job before a worker started it (Redis restarted without "
              "its data, or was emptied); annotations are kept: submit it again (a retraining "
              "policy queues a new job on its next trigger)")

__all__ = ["QUEUED", "RUNNING", "FINISHED", "FAILED", "ACTIVE_STATES", "TrainingUnavailable",
           "TooManyJobs", "create_job", "submit", "runner", "set_progress", "execute", "job_json", "emit_job",
           "reap", "fail_lost_jobs", "abandon_unfinished_jobs", "JobInterrupted", "fail_interrupted_jobs",
           "stopped_error"]


def job_json(job: Job) -> dict[str, Any]:
    return {"id": job.id, "project_id": job.project_id, "kind": job.kind, "state": job.state,
            "progress": job.progress, "device": job.device, "result": job.result,
            "error": job.error, "model_version_id": job.model_version_id,
            "created_at": job.created_at.isoformat() if job.created_at else None,
            "started_at": job.started_at.isoformat() if job.started_at else None,
            "finished_at": job.finished_at.isoformat() if job.finished_at else None}


def emit_job(job: Job, **details: Any) -> None:
    realtime.emit("job", {**job_json(job), **details}, realtime.project_room(job.project_id))


def create_job(project_id: int, kind: str, params: Mapping[str, Any] | None = None,
               user_id: int | None = None, device: str | None = None) -> Job:
    """A queued job row (flushed, not committed). A job a user asks for (``user_id``) is
    refused with ``TooManyJobs`` past the per-user or per-project limit; jobs the server
    starts itself (a retraining policy) are not."""
    if user_id is not None:
        check_job_limits(project_id, user_id)
    job = Job(project_id=project_id, kind=kind, params=dict(params or {}), user_id=user_id,
              device=device, state=QUEUED, progress=0.0, result={})
    db.session.add(job)
    db.session.flush()
    return job


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


def set_progress(job_id: int, progress: float, **result: Any) -> None:
    job = db.session.get(Job, job_id)
    job.progress = max(0.0, min(1.0, progress))
    if result:
        job.result = {**job.result, **result}
    db.session.commit()
    emit_job(job)


def reap(project_id: int) -> None:
    """Fail the project's jobs that will never finish: running ones whose worker died (silent
    heartbeat) and queued ones the queue lost; and say so."""
    for job in reap_stale_jobs(project_id):
        emit_job(job)
    fail_lost_jobs(project_id)


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


def abandon_unfinished_jobs(reason: str) -> int:
    """Mark every queued or running job failed (an embedded server restarted under them)."""
    jobs = list(db.session.scalars(db.select(Job).where(Job.state.in_(ACTIVE_STATES))))
    for job in jobs:
        job.state, job.error, job.finished_at = FAILED, reason, utcnow()
    db.session.commit()
    return len(jobs)


def stopped_error(who: str, state: str) -> str:
    """The error of a job whose process stopped (``who``: "the server stopped") under it."""
    when = "while it ran" if state == RUNNING else "before it ran"
    return f"{who} {when}; the job was not requeued: submit it again (annotations are kept)"


def fail_interrupted_jobs(job_ids: list[int], who: str) -> None:
    """Fail these jobs, if still queued or running, because their process is stopping."""
    for state in ACTIVE_STATES:
        db.session.execute(db.update(Job).where(Job.id.in_(job_ids), Job.state == state)
                           .values(state=FAILED, error=stopped_error(who, state), finished_at=utcnow()))
    db.session.commit()
    for job in db.session.scalars(db.select(Job).where(Job.id.in_(job_ids), Job.error.startswith(who))):
        log.warning("job %s (%s, project %s): %s", job.id, job.kind, job.project_id, job.error)


STARTED, WAITING, GONE = "started", "waiting", "gone"


def _start(job_id: int) -> str:
    """Mark the job running (``STARTED``) unless another job of its project and kind runs
    (``WAITING``) or it is no longer queued (``GONE``). Under the project's row lock, so
    that two waiting jobs of one project and kind (in two lanes, or two workers) never
    both start."""
    job = db.session.get(Job, job_id)
    if job is not None:
        lock_row(Project, job.project_id)
        job = db.session.get(Job, job_id, populate_existing=True)
    if job is None or job.state != QUEUED:
        state = job.state if job else "gone"
        db.session.rollback()
        log.warning("job %s is %s, not queued; not running it", job_id, state)
        return GONE
    if alive_running_job(job.project_id, job.kind, exclude=job.id) is not None:
        db.session.rollback()  # also ends the read transaction, so the next look sees new rows
        return WAITING
    job.state, job.started_at, job.heartbeat_at = RUNNING, utcnow(), utcnow()
    db.session.commit()
    emit_job(job)
    return STARTED


def execute(job_id: int, target: str, wait: bool = True) -> bool:
    """Run one job in the current app context, recording its state; failures are stored, not
    raised. Jobs of one project and kind run one at a time: while another one runs, wait
    for it, or, with ``wait`` false, return False at once (the caller tries again later)."""
    while (state := _start(job_id)) == WAITING:
        if not wait:
            return False
        time.sleep(TURN_POLL_SECONDS)
    if state == GONE:
        return True
    try:
        with Heartbeat(job_id):
            load_object(target)(job_id)
    except JobInterrupted as exc:  # its process is stopping: record why, and let it stop
        db.session.rollback()
        job = db.session.get(Job, job_id)
        job.state, job.error, job.finished_at = FAILED, str(exc), utcnow()
        db.session.commit()
        emit_job(job)
        raise
    except Exception as exc:  # the job's owner reads the error from the job row
        db.session.rollback()
        log.error("job %s (%s) failed:\n%s", job_id, target, traceback.format_exc())
        job = db.session.get(Job, job_id)
        job.state, job.error, job.finished_at = FAILED, f"{type(exc).__name__}: {exc}", utcnow()
    else:
        # Re-read the row: the heartbeat timeout may have failed it meanwhile (its heartbeat
        # could not be written); the job did finish, so that error goes.
        job = db.session.get(Job, job_id, populate_existing=True)
        job.state, job.progress, job.error, job.finished_at = FINISHED, 1.0, None, utcnow()
    db.session.commit()
    emit_job(job)
    return True
