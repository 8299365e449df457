"""Running one job in the current app context: its turn (jobs of one project and kind run one
at a time), its heartbeat, and its end state, whatever the runner (a thread, a child process,
an RQ worker)."""

from __future__ import annotations

import logging
import time
import traceback

from leanlife_server.db import db
from leanlife_server.db.locks import lock_row
from leanlife_server.db.models import Job, Project, utcnow
from leanlife_server.jobs.heartbeat import Heartbeat, alive_running_job
from leanlife_server.jobs.states import FAILED, FINISHED, QUEUED, RUNNING, JobInterrupted, emit_job
from leanlife_server.plugin_api import load_object

log = logging.getLogger(__name__)

# How often a job that waits for its turn (another job of its project and kind runs) looks again.
TURN_POLL_SECONDS = 0.5

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
