"""A job's row and its states: created queued, running, then finished or failed; every change
is emitted as a ``job`` event to the project's room. The lowest layer of ``jobs/``: runners,
child processes and job functions import it, it imports none of them."""

from __future__ import annotations

import logging
from typing import Any, Mapping

from leanlife_server import realtime
from leanlife_server.db import db
from leanlife_server.db.models import Job, utcnow
from leanlife_server.events import JOB_EVENT
from leanlife_server.jobs.limits import check_job_limits

log = logging.getLogger(__name__)

QUEUED, RUNNING, FINISHED, FAILED = "queued", "running", "finished", "failed"
ACTIVE_STATES = (QUEUED, RUNNING)


class TrainingUnavailable(RuntimeError):
    """The job queue cannot take work now (Redis is unreachable)."""


class JobInterrupted(BaseException):
    """Raised into a running job when its process must stop now (SIGTERM): the job is
    recorded failed with this message. Not an ``Exception``, so that no job code swallows it."""


def job_json(job: Job) -> dict[str, Any]:
    return {"id": job.id, "project_id": job.project_id, "kind": job.kind, "state": job.state,
            "progress": job.progress, "device": job.device, "result": job.result,
            "error": job.error, "model_version_id": job.model_version_id,
            "created_at": job.created_at.isoformat() if job.created_at else None,
            "started_at": job.started_at.isoformat() if job.started_at else None,
            "finished_at": job.finished_at.isoformat() if job.finished_at else None}


def emit_job(job: Job, **details: Any) -> None:
    realtime.emit(JOB_EVENT, {**job_json(job), **details}, realtime.project_room(job.project_id))


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


def set_progress(job_id: int, progress: float, **result: Any) -> None:
    job = db.session.get(Job, job_id)
    job.progress = max(0.0, min(1.0, progress))
    if result:
        job.result = {**job.result, **result}
    db.session.commit()
    emit_job(job)


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
