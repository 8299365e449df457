"""Background jobs: a row in ``jobs`` tracks each one; a runner executes it.

A job function is named by a dotted path and called as ``function(job_id)`` inside an app
context. Without ``LEANLIFE_REDIS_URL`` jobs run in-process on a small thread pool, so the
embedded server needs nothing else; with it they go to RQ workers (``leanlife worker``).
"""

from __future__ import annotations

import logging
import traceback
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Mapping

from flask import Flask, current_app

from leanlife_server.db import db
from leanlife_server.db.models import Job, utcnow
from leanlife_server.plugin_api import load_object

log = logging.getLogger(__name__)

QUEUED, RUNNING, FINISHED, FAILED = "queued", "running", "finished", "failed"


def create_job(project_id: int, kind: str, params: Mapping[str, Any] | None = None,
               user_id: int | None = None, device: str | None = None) -> Job:
    job = Job(project_id=project_id, kind=kind, params=dict(params or {}), user_id=user_id,
              device=device, state=QUEUED, progress=0.0, result={})
    db.session.add(job)
    db.session.flush()
    return job


def submit(job: Job, target: str) -> None:
    """Run ``target(job.id)`` in the background. Commit the job row before calling this."""
    runner = current_app.extensions.get("leanlife_job_runner")
    if runner is None:
        runner = current_app.extensions["leanlife_job_runner"] = InProcessRunner(current_app._get_current_object())
    runner.submit(job.id, target)


def set_progress(job_id: int, progress: float, **result: Any) -> None:
    job = db.session.get(Job, job_id)
    job.progress = max(0.0, min(1.0, progress))
    if result:
        job.result = {**job.result, **result}
    db.session.commit()


def execute(job_id: int, target: str) -> None:
    """Run one job in the current app context, recording its state; failures are stored, not raised."""
    job = db.session.get(Job, job_id)
    if job is None:
        log.warning("job %s vanished before it ran", job_id)
        return
    job.state, job.started_at = RUNNING, utcnow()
    db.session.commit()
    try:
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


class InProcessRunner:
    """Runs jobs on a thread pool inside the web process (the embedded default)."""

    def __init__(self, app: Flask, workers: int = 2):
        self.app = app
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="leanlife-job")

    def submit(self, job_id: int, target: str):
        return self.pool.submit(self._run, job_id, target)

    def _run(self, job_id: int, target: str) -> None:
        with self.app.app_context():
            execute(job_id, target)
