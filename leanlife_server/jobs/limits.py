"""Bounds on the jobs one user and one project may have queued or running at once
(``LEANLIFE_MAX_JOBS_PER_USER``, ``LEANLIFE_MAX_JOBS_PER_PROJECT``), so that nobody fills
the job queue for everyone else. A job past either bound is refused with 429.
"""

from __future__ import annotations

from flask import current_app
from sqlalchemy import and_, func, or_

from leanlife_server.db import db
from leanlife_server.db.locks import lock_row
from leanlife_server.db.models import Job, Project, User
from leanlife_server.errors import ApiError
from leanlife_server.jobs.heartbeat import RUNNING, stale_before

QUEUED = "queued"
# When a refused client should try again: jobs end at times nobody knows in advance, so this
# is a polling interval, not a promise.
RETRY_AFTER_SECONDS = 15


class TooManyJobs(ApiError):
    """A user or project has as many queued and running jobs as allowed (429)."""

    def __init__(self, message: str, setting: str, limit: int):
        super().__init__(429, "too_many_jobs",
                         f"{message}; wait until one of them finishes, then try again",
                         {"setting": setting, "limit": limit, "retry_after": RETRY_AFTER_SECONDS},
                         headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


def _active_jobs(*where) -> int:
    """Queued jobs, and running ones with a fresh heartbeat: a job whose worker died holds
    no place (the next look at its project fails it)."""
    alive = and_(Job.state == RUNNING, Job.heartbeat_at >= stale_before())
    return db.session.scalar(db.select(func.count(Job.id)).where(or_(Job.state == QUEUED, alive), *where))


def check_job_limits(project_id: int, user_id: int) -> None:
    """Refuse a new job of ``user_id`` in ``project_id`` with ``TooManyJobs`` when either has
    as many jobs as allowed. Locks the project's and the user's rows (in that order, as the
    retraining policy, which locks the project first) until the caller commits the new job,
    so that concurrent requests cannot both take the last place."""
    settings = current_app.config["LEANLIFE"]
    lock_row(Project, project_id)
    lock_row(User, user_id)
    per_user, per_project = settings.max_jobs_per_user, settings.max_jobs_per_project
    if per_user > 0 and _active_jobs(Job.user_id == user_id) >= per_user:
        db.session.rollback()
        raise TooManyJobs(f"you have {per_user} queued or running jobs, the most one user may have "
                          f"(LEANLIFE_MAX_JOBS_PER_USER={per_user})",
                          "LEANLIFE_MAX_JOBS_PER_USER", per_user)
    if per_project > 0 and _active_jobs(Job.project_id == project_id) >= per_project:
        db.session.rollback()
        raise TooManyJobs(f"project {project_id} has {per_project} queued or running jobs, the "
                          f"most one project may have (LEANLIFE_MAX_JOBS_PER_PROJECT={per_project})",
                          "LEANLIFE_MAX_JOBS_PER_PROJECT", per_project)
