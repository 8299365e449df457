"""Imports and exports: an upload becomes an import job, an export request an export job
whose file is then downloaded as a stream; a project of one task can be made from a project of
another (the new task's plugin says which: ``TaskDefinition.derived_from``).
Follow each job at ``GET /api/v1/projects/<id>/jobs/<job_id>``."""

from __future__ import annotations

import shutil

from flask import Blueprint, current_app, jsonify, request
from werkzeug.utils import secure_filename

from leanlife_server.api.access import ProjectAccess, project_access
from leanlife_server.api.jobs import job_json
from leanlife_server.api.payload import form_fields, json_body
from leanlife_server.api.serialize import JOB
from leanlife_server.api.shapes import Answer, Body, Field, operation, row_id
from leanlife_server.db import db
from leanlife_server.db.models import Job, utcnow
from leanlife_server.errors import ApiError, invalid, not_found
from leanlife_server.formats.derive import tasks_made_from
from leanlife_server.formats.detect import format_for
from leanlife_server.formats.encoding import text_encoding
from leanlife_server.formats.jobs import (
    DERIVE,
    EXPORT,
    IMPORT,
    export_key,
    export_lane,
    import_lane,
    remove_orphan_uploads,
    upload_key,
)
from leanlife_server.formats.reader import ANNOTATORS, GOLD, LAYERS
from leanlife_server.formats.writer import DUPLICATE_POLICIES, KEEP
from leanlife_server.jobs import FAILED, FINISHED, QUEUED, TrainingUnavailable, create_job, submit
from leanlife_server.plugin_api import FormatError, TaskDefinition
from leanlife_server.storage import MissingArtifact, discard, scratch_dir, send_stored, store

bp = Blueprint("transfers_api", __name__, url_prefix="/api/v1/projects/<int:project_id>")

FILTERS = {
    "annotator": row_id(nullable=True, description="Only this user's annotations (absent: everyone's "
                                                   "where the caller may see them, else the caller's)."),
    "finished_only": Field(bool, default=False),
    "include_recommendations": Field(bool, default=True),
    "layer": Field(str, choices=LAYERS, default=ANNOTATORS, description=(
        "annotators: their work; gold: the gold layer only (owners); all: both, gold "
        "annotations by the annotator 'gold' (owners).")),
}
EXPORT_REQUEST = Body({"format": Field(str, required=True, description="An exporter for the project's task."),
                       **FILTERS})
DERIVE_NAME = Field(str, required=True, pattern=r"\S", hint="must not be empty",
                    description="The new project's name.")
DERIVE_REQUEST = Body({"name": DERIVE_NAME, **FILTERS})
DERIVED_PROJECT_REQUEST = Body({
    "task": Field(str, required=True, description="The new project's task: one whose plugin makes "
                                                  "its projects from projects of this one's task."),
    "name": DERIVE_NAME, **FILTERS})
# Every field is text but the file; the handler checks each.
IMPORT_FORM = Body({
    "file": Field(str, required=True, media="application/octet-stream"),
    "format": Field(str, description="An importer for the project's task; absent: guessed."),
    "duplicates": Field(str, choices=DUPLICATE_POLICIES, default=KEEP),
    "encoding": Field(str, description="The file's text encoding; absent: utf-8."),
})


def _checked_format(access: ProjectAccess, name: str, direction: str):
    try:
        return format_for(current_app.extensions["leanlife"], name, access.project.task, direction)
    except FormatError as exc:
        raise invalid("format", exc.message) from None


def _started(access: ProjectAccess, kind: str, params: dict, target: str):
    """Start a job that reads the project (an export, a derived project); it waits in the
    lane of the project's size."""
    lane = export_lane(access.project.id)
    job = create_job(access.project.id, kind, params, user_id=access.user.id)
    db.session.commit()
    try:
        submit(job, target, lane)
    except TrainingUnavailable as exc:
        raise ApiError(503, "jobs_unavailable", str(exc)) from None
    return jsonify(job_json(job)), 202


@bp.post("/imports")
@operation(form=IMPORT_FORM, answers={202: JOB})
def start_import(project_id: int):
    """Upload a file (multipart field ``file``; optional ``format``, guessed otherwise,
    ``duplicates``: keep, skip or fail, and ``encoding``: utf-8 by default) and import it in
    the background (owners)."""
    access = project_access(project_id, owner=True)
    form_fields()
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise invalid("file", "send the file as multipart/form-data field 'file'")
    format_name = request.form.get("format") or None
    if format_name:
        _checked_format(access, format_name, "importer")
    duplicates = request.form.get("duplicates", KEEP)
    if duplicates not in DUPLICATE_POLICIES:
        raise invalid("duplicates", f"must be one of {list(DUPLICATE_POLICIES)}")
    encoding = request.form.get("encoding") or None
    try:
        text_encoding(encoding)
    except FormatError as exc:
        raise invalid("encoding", exc.message) from None
    filename = secure_filename(upload.filename) or "upload"
    key = upload_key(filename)
    job = create_job(access.project.id, IMPORT, {
        "key": key, "filename": filename, "format": format_name, "duplicates": duplicates,
        "encoding": encoding}, user_id=access.user.id)
    db.session.commit()  # before the file exists, so that remove_orphan_uploads keeps it
    remove_orphan_uploads()
    _save_and_submit(job, upload, key)
    return jsonify(job_json(job)), 202


def _save_and_submit(job: Job, upload, key: str) -> None:
    """Save the upload into the store and start its import; if either fails, the file goes
    and the job fails."""
    try:
        work = scratch_dir()
        try:
            upload.save(work / "upload")  # streamed to disk in chunks, then to the store
            size = (work / "upload").stat().st_size
            store().put_file(key, work / "upload")
        finally:  # the import reads the store's copy, wherever its worker runs
            shutil.rmtree(work, ignore_errors=True)
        # fails the job if the queue is down
        submit(job, "leanlife_server.formats.jobs:run_import", import_lane(size))
    except BaseException as exc:
        discard(key)  # no import will read it
        if job.state == QUEUED:  # the upload broke off before the job was submitted
            job.state, job.error, job.finished_at = FAILED, f"the upload failed: {exc}", utcnow()
            db.session.commit()
        if isinstance(exc, TrainingUnavailable):
            raise ApiError(503, "jobs_unavailable", str(exc)) from None
        raise


def _export_filters(access: ProjectAccess, body: dict) -> dict:
    annotator = body.get("annotator")
    if annotator is None and not access.sees_all_annotators:
        annotator = access.user.id
    if annotator is not None and not access.can_read_user(annotator):
        raise ApiError(403, "forbidden", "annotators export only their own annotations in this "
                                         "project", {"field": "annotator"})
    layer = body["layer"]
    if layer != ANNOTATORS and not access.is_owner:
        raise ApiError(403, "forbidden", "only the project's owners export the gold layer", {"field": "layer"})
    if layer == GOLD and body.get("annotator") is not None:
        raise invalid("annotator", "the gold layer belongs to no annotator; leave annotator out "
                                   "with layer 'gold'")
    return {"annotator": annotator, "finished_only": body["finished_only"],
            "include_recommendations": body["include_recommendations"], "layer": layer}


@bp.post("/exports")
@operation(EXPORT_REQUEST, answers={202: JOB})
def start_export(project_id: int):
    """Export in the background: ``format``, and filters ``annotator`` (a user id),
    ``finished_only``, ``include_recommendations``. Download the file when the job finished."""
    access = project_access(project_id)
    body = json_body()
    format_name = body["format"]
    _checked_format(access, format_name, "exporter")
    return _started(access, EXPORT, {"format": format_name, "filters": _export_filters(access, body)},
                    "leanlife_server.formats.jobs:run_export")


@bp.get("/exports/<int:job_id>/file")
@operation(answers={200: Answer("application/octet-stream", "The exported file, in the format's media type.")})
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
    extension = definition.extensions[0] if definition.extensions else "txt"
    try:
        return send_stored(export_key(job.result["file"]), definition.media_type,
                           f"project-{project_id}-{definition.name}.{extension}")
    except MissingArtifact:
        raise not_found(f"the file of export {job_id}") from None


def _tasks_made_from(access: ProjectAccess) -> list[TaskDefinition]:
    return tasks_made_from(current_app.extensions["leanlife"].tasks, access.project.task)


def _derived_task(access: ProjectAccess, name: str) -> TaskDefinition:
    """The installed task ``name``, if its projects are made from this project's task."""
    task = current_app.extensions["leanlife"].tasks.get(name)
    if task is None:
        raise invalid("task", f"no task {name!r} is installed")
    if task.derived_from != access.project.task:
        raise invalid("task", f"{name!r} projects are not made from {access.project.task!r} projects; "
                              f"these are: {[t.name for t in _tasks_made_from(access)]}")
    return task


def _relation_task(access: ProjectAccess) -> TaskDefinition:
    """What ``relation-project`` makes: the one task with relations made from this project's
    task, i.e. one that takes the source's annotations as input (``TaskDefinition.input_kinds``:
    RE's relations link the NER project's entity spans)."""
    made = [t for t in _tasks_made_from(access) if t.input_kinds]
    if len(made) != 1:
        raise invalid("project", f"project {access.project.id} is a {access.project.task!r} project, and "
                                 f"{len(made) or 'no'} installed tasks with relations are made from "
                                 f"those; use POST /api/v1/projects/{access.project.id}/derived-project "
                                 f"with a task")
    return made[0]


def _start_derive(access: ProjectAccess, task: TaskDefinition, body: dict):
    params = {"task": task.name, "name": body["name"].strip(), "filters": _export_filters(access, body)}
    return _started(access, DERIVE, params, "leanlife_server.formats.jobs:run_derive")


@bp.post("/derived-project")
@operation(DERIVED_PROJECT_REQUEST, answers={202: JOB})
def derive_project(project_id: int):
    """Make a project of ``task`` (``name``) from this project's documents and what that task
    keeps of their annotations, in the background (owners). The job's result names the new
    project. The task's plugin says which projects it is made from."""
    access = project_access(project_id, owner=True)
    body = json_body()
    return _start_derive(access, _derived_task(access, body["task"]), body)


@bp.post("/relation-project")
@operation(DERIVE_REQUEST, answers={202: JOB})
def derive_relation_project(project_id: int):
    """Make a relation project (``name``) from this project's documents, in the background
    (owners): ``derived-project`` with the one installed task with relations that is made from
    this project's task. The job's result names the new project."""
    access = project_access(project_id, owner=True)
    task = _relation_task(access)
    return _start_derive(access, task, json_body())
