"""Background job functions (``function(job_id)``, run by :mod:`leanlife_server.jobs`).

A job's ``params`` say what to do; its ``result`` gets the counts (import), the file
(export) or the new project (derive). Files live in the artifact store under ``transfers/``
(the worker that runs a job may be on another machine), passing through a scratch folder in
the data dir of the process at hand; an import's upload is removed when the import ends,
or, if its worker was killed or the job never ran, by the next upload
(:func:`remove_orphan_uploads`).
"""

from __future__ import annotations

import shutil
import uuid

from flask import current_app

import sqlalchemy as sa

from leanlife_server.db import db
from leanlife_server.db.models import Document, Job, Project
from leanlife_server.formats.derive import derived_project
from leanlife_server.formats.exporter import export_file
from leanlife_server.formats.importer import import_file
from leanlife_server.formats.reader import ExportFilters
from leanlife_server.jobs import ACTIVE_STATES, set_progress
from leanlife_server.jobs.lanes import EXPORTS, IMPORTS, SMALL
from leanlife_server.storage import scratch_dir, store

# The derive kind keeps its first name: job rows and API clients already know it.
IMPORT, EXPORT, DERIVE = "import", "export", "derive_relations"
TRANSFERS = "transfers/"
UPLOAD_PREFIX = "import-"


def upload_key(filename: str) -> str:
    """A fresh key for an uploaded file (``filename`` already made safe)."""
    return f"{TRANSFERS}{UPLOAD_PREFIX}{uuid.uuid4().hex}-{filename}"


def export_key(file: str) -> str:
    return TRANSFERS + file


def remove_orphan_uploads() -> int:
    """Delete the uploads that no queued or running import will read (its worker was killed,
    the job failed before it ran); returns how many. An upload is saved only after its job is
    committed, and the files are listed before the jobs are read, so a fresh upload is kept."""
    uploads = list(store().keys(TRANSFERS + UPLOAD_PREFIX))
    db.session.commit()  # read the jobs in a new transaction, after the listing
    wanted = {params.get("key") for params in db.session.scalars(
        sa.select(Job.params).where(Job.kind == IMPORT, Job.state.in_(ACTIVE_STATES)))}
    orphans = [key for key in uploads if key not in wanted]
    for key in orphans:
        store().delete(key)
    return len(orphans)


def import_lane(size: int) -> str:
    """The lane of an import of ``size`` bytes: ``small`` up to ``LEANLIFE_SMALL_IMPORT_BYTES``,
    else ``imports``."""
    limit = current_app.config["LEANLIFE"].small_import_bytes
    return SMALL if size <= limit else IMPORTS


def export_lane(project_id: int) -> str:
    """The lane of an export or a derived project: ``small`` for projects of up to
    ``LEANLIFE_SMALL_EXPORT_DOCUMENTS`` documents, else ``exports``. Counts no further than
    that, so sizing a huge project costs no more than a small one."""
    limit = current_app.config["LEANLIFE"].small_export_documents
    first = sa.select(Document.id).where(Document.project_id == project_id).limit(limit + 1).subquery()
    return SMALL if db.session.scalar(sa.select(sa.func.count()).select_from(first)) <= limit else EXPORTS


def _reporter(job_id: int):
    """Progress into the job row (an import writes its chunks in short transactions, so the
    row can be written between them, on SQLite too)."""

    def report(fraction: float, phase: str = "exporting") -> None:
        set_progress(job_id, fraction, phase=phase)
    return report


def _load(job_id: int) -> tuple[Job, Project]:
    job = db.session.get(Job, job_id)
    return job, db.session.get(Project, job.project_id)


def _finish(job_id: int, **result) -> None:
    job = db.session.get(Job, job_id)
    job.result = {**job.result, **result}
    db.session.commit()


def run_import(job_id: int) -> None:
    job, project = _load(job_id)
    params = dict(job.params)
    if "key" not in params:  # queued by a release that kept uploads by path, before the upgrade
        raise ValueError("this import was queued before LeanLife was upgraded and its upload is not "
                         "in the artifact store; upload the file again")
    work = scratch_dir()
    try:
        path = work / params.get("filename", "upload")
        store().get_to_file(params["key"], path)
        result = import_file(project, path, params.get("format"), params.get("duplicates", "keep"),
                             params.get("options"), params.get("filename"), _reporter(job_id),
                             encoding=params.get("encoding"), job_id=job_id)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        store().delete(params["key"])
    _finish(job_id, **result.as_dict())


def run_export(job_id: int) -> None:
    job, project = _load(job_id)
    params = dict(job.params)
    report = _reporter(job_id)
    work = scratch_dir()
    file = f"export-{job_id}"
    try:
        export_file(work / file, project, params["format"], ExportFilters(**params.get("filters", {})),
                    params.get("options"), lambda fraction: report(fraction, "exporting"))
        store().put_file(export_key(file), work / file)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    _finish(job_id, file=file, format=params["format"])


def run_derive(job_id: int) -> None:
    job, project = _load(job_id)
    params = dict(job.params)
    if "task" not in params:  # queued by a release that made relation projects only
        raise ValueError("this job was queued before LeanLife was upgraded; start it again")
    task = current_app.extensions["leanlife"].tasks.get(params["task"])
    if task is None:  # its plugin went away between the request and the job
        raise ValueError(f"task {params['task']!r} is not installed")
    created = derived_project(project, task, params["name"], job.user_id,
                              ExportFilters(**params.get("filters", {})), _reporter(job_id))
    _finish(job_id, project_id=created.id)
