"""Job status: state, progress, result or error."""

from __future__ import annotations

from flask import Blueprint, jsonify

from leanlife_server.api.access import project_access
from leanlife_server.api.serialize import JOB
from leanlife_server.api.shapes import operation
from leanlife_server.db.lookup import get_in_project
from leanlife_server.db.models import Job
from leanlife_server.jobs import job_json, reap

bp = Blueprint("jobs_api", __name__, url_prefix="/api/v1/projects/<int:project_id>/jobs")


@bp.get("/<int:job_id>")
@operation(answers={200: JOB})
def get_job(project_id: int, job_id: int):
    """One job of the project."""
    project_access(project_id)
    reap(project_id)  # a job whose worker died reads as failed
    return jsonify(job_json(get_in_project(Job, job_id, project_id, "job")))
