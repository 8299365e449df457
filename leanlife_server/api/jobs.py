"""Job status: state, progress, result or error."""

from __future__ import annotations

from flask import Blueprint, jsonify

from leanlife_server.api.access import project_access
from leanlife_server.db import db
from leanlife_server.db.models import Job
from leanlife_server.errors import not_found

bp = Blueprint("jobs_api", __name__, url_prefix="/api/v1/projects/<int:project_id>/jobs")


def job_json(job: Job) -> dict:
    return {"id": job.id, "kind": job.kind, "state": job.state, "progress": job.progress,
            "device": job.device, "result": job.result, "error": job.error,
            "created_at": job.created_at.isoformat() if job.created_at else None,
            "finished_at": job.finished_at.isoformat() if job.finished_at else None}


@bp.get("/<int:job_id>")
def get_job(project_id: int, job_id: int):
    """One job of the project."""
    project_access(project_id)
    job = db.session.get(Job, job_id)
    if job is None or job.project_id != project_id:
        raise not_found(f"job {job_id}")
    return jsonify(job_json(job))
