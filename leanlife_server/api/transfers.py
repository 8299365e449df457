"""Imports and exports: an upload becomes an import job, an export request an export job
whose file is then downloaded as a stream; a relation project can be made from an NER one.
Follow each job at ``GET /api/v1/projects/<id>/jobs/<job_id>``."""

from __future__ import annotations

import uuid
from pathlib import Path

from flask import Blueprint, current_app, jsonify, request, send_file
from werkzeug.utils import secure_filename

from leanlife_server.api.access import ProjectAccess, project_access
from leanlife_server.api.jobs import job_json
from leanlife_server.api.payload import field, json_body
from leanlife_server.db import db
from leanlife_server.db.models import Job
from leanlife_server.errors import ApiError, invalid, not_found
from leanlife_server.formats.detect import format_for
from leanlife_server.formats.jobs import DERIVE, EXPORT, IMPORT, transfer_dir
from leanlife_server.formats.writer import DUPLICATE_POLICIES, KEEP
from leanlife_server.jobs import FINISHED, create_job, submit
from leanlife_server.plugin_api import FormatError

bp = Blueprint("transfers_api", __name__, url_prefix="/api/v1/projects/<int:project_id>")


def _checked_format(access: ProjectAccess, name: str, direction: str):
    try:
        return format_for(current_app.extensions["leanlife"], name, access.project.task, direction)
    except FormatError as exc:
        raise invalid("format", exc.message) from None


def _started(access: ProjectAccess, kind: str, params: dict, target: str):
    job = create_job(access.project.id, kind, params, user_id=access.user.id)
    db.session.commit()
    submit(job, target)
    return jsonify(job_json(job)), 202


@bp.post("/imports")
def start_import(project_id: int):
    """Upload a file (multipart field ``file``; optional ``format``, guessed otherwise, and
    ``duplicates``: keep, skip or fail) and import it in the background (owners)."""
    access = project_access(project_id, owner=True)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise invalid("file", "send the file as multipart/form-data field 'file'")
    format_name = request.form.get("format") or None
    if format_name:
        _checked_format(access, format_name, "importer")
    duplicates = request.form.get("duplicates", KEEP)
    if duplicates not in DUPLICATE_POLICIES:
        raise invalid("duplicates", f"must be one of {list(DUPLICATE_POLICIES)}")
    filename = secure_filename(upload.filename) or "upload"
    path = transfer_dir() / f"import-{uuid.uuid4().hex}-{filename}"
    upload.save(path)  # streamed to disk in chunks
    return _started(access, IMPORT, {"path": str(path), "filename": filename, "format": format_name,
                                     "duplicates": duplicates}, "leanlife_server.formats.jobs:run_import")


def _export_filters(access: ProjectAccess, body: dict) -> dict:
    annotator = field(body, "annotator", int, None)
    if annotator is None and not access.sees_all_annotators:
        annotator = access.user.id
    if annotator is not None and not access.can_read_user(annotator):
        raise ApiError(403, "forbidden", "annotators export only their own annotations in this "
                                         "project", {"field": "annotator"})
    return {"annotator": annotator, "finished_only": field(body, "finished_only", bool, False),
            "include_recommendations": field(body, "include_recommendations", bool, True)}


@bp.post("/exports")
def start_export(project_id: int):
    """Export in the background: ``format``, and filters ``annotator`` (a user id),
    ``finished_only``, ``include_recommendations``. Download the file when the job finished."""
    access = project_access(project_id)
    body = json_body()
    format_name = field(body, "format", str)
    _checked_format(access, format_name, "exporter")
    return _started(access, EXPORT, {"format": format_name, "filters": _export_filters(access, body)},
                    "leanlife_server.formats.jobs:run_export")


@bp.get("/exports/<int:job_id>/file")
def download_export(project_id: int, job_id: int):
    """The file of a finished export job, streamed."""
    access = project_access(project_id)
    job = db.session.get(Job, job_id)
    if job is None or job.project_id != project_id or job.kind != EXPORT or (
            job.user_id != access.user.id and not access.is_owner):
        raise not_found(f"export {job_id}")
    if job.state != FINISHED:
        raise ApiError(409, "conflict", f"export {job_id} is {job.state}; download it when the job "
                                        f"has finished", {"state": job.state})
    definition = _checked_format(access, job.params["format"], "exporter")
    path: Path = transfer_dir() / job.result["file"]
    if not path.exists():
        raise not_found(f"the file of export {job_id}")
    extension = definition.extensions[0] if definition.extensions else "txt"
    return send_file(path, mimetype=definition.media_type, as_attachment=True,
                     download_name=f"project-{project_id}-{definition.name}.{extension}")


@bp.post("/relation-project")
def derive_relation_project(project_id: int):
    """Make a relation extraction project (``name``) from this NER project's documents and
    entities, in the background (owners). The job's result names the new project."""
    access = project_access(project_id, owner=True)
    if access.project.task != "ner":
        raise invalid("project", f"project {project_id} is a {access.project.task!r} project; "
                                 f"relation projects are made from 'ner' projects")
    body = json_body()
    name = field(body, "name", str).strip()
    if not name:
        raise invalid("name", "must not be empty")
    return _started(access, DERIVE, {"name": name, "filters": _export_filters(access, body)},
                    "leanlife_server.formats.jobs:run_derive")
