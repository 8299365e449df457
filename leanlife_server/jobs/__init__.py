"""Background jobs: a row in ``jobs`` tracks each one; a runner executes it.

A job function is named by a dotted path and called as ``function(job_id)`` inside an app
context. Without ``LEANLIFE_REDIS_URL`` jobs run in-process on a small thread pool, so the
embedded server needs nothing else; with it they go to RQ workers (``leanlife worker``).
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
from leanlife_server.db.models import Job, utcnow
from leanlife_server.jobs.heartbeat import Heartbeat, alive_running_job, reap_stale_jobs
from leanlife_server.jobs.runners import InProcessRunner, RQRunner, Runner, TrainingUnavailable
from leanlife_server.plugin_api import load_object

log = logging.getLogger(__name__)

QUEUED, RUNNING, FINISHED, FAILED = "queued", "running", "finished", "failed"
ACTIVE_STATES = (QUEUED, RUNNING)
RUNNER_KEY = "leanlife_job_runner"

__all__ = ["QUEUED", "RUNNING", "FINISHED", "FAILED", "ACTIVE_STATES", "TrainingUnavailable",
           "create_job", "submit", "runner", "set_progress", "execute", "job_json", "emit_job",
           "reap", "abandon_unfinished_jobs"]


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


def submit(job: Job, target: str) -> None:
    """Run ``target(job.id)`` in the background. Commit the job row before calling this.
    Raises ``TrainingUnavailable`` (after marking the job failed) when the queue is down."""
    emit_job(job)  # before the runner may start it, so "queued" is heard before "running"
    try:
        runner().submit(job.id, target)
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
    """Fail the project's jobs whose worker died (silent heartbeat), and say so."""
    for job in reap_stale_jobs(project_id):
        emit_job(job)


def abandon_unfinished_jobs(reason: str) -> int:
    """Mark every queued or running job failed (an embedded server restarted under them)."""
    jobs = list(db.session.scalars(db.select(Job).where(Job.state.in_(ACTIVE_STATES))))
    for job in jobs:
        job.state, job.error, job.finished_at = FAILED, reason, utcnow()
    db.session.commit()
    return len(jobs)


def _wait_for_turn(job: Job) -> None:
    """Jobs of one project and kind run one at a time: wait while another one runs."""
    while alive_running_job(job.project_id, job.kind, exclude=job.id) is not None:
        db.session.rollback()  # end the read transaction so the next poll sees new rows
        time.sleep(0.5)


def execute(job_id: int, target: str) -> None:
    """Run one job in the current app context, recording its state; failures are stored, not raised."""
    job = db.session.get(Job, job_id)
    if job is None or job.state != QUEUED:
        log.warning("job %s is %s, not queued; not running it", job_id, job.state if job else "gone")
        return
    _wait_for_turn(job)
    job.state, job.started_at, job.heartbeat_at = RUNNING, utcnow(), utcnow()
    db.session.commit()
    emit_job(job)
    try:
        with Heartbeat(job_id):
            load_object(target)(job_id)
    except Exception as exc:  # the job's owner reads the error from the job row
        db.session.rollback()
        log.error("job %s (%s) failed:\n%s", job_id, target, traceback.format_exc())
        job = db.session.get(Job, job_id)
        job.state, job.error, job.finished_at = FAILED, f"{type(exc).__name__}: {exc}", utcnow()
    else:
        job = db.session.get(Job, job_id)
        job.state, job.progress, job.finished_at = FINISHED, 1.0, utcnow()
    db.session.commit()
    emit_job(job)
