"""Background job functions (``function(job_id)``, run by :mod:`leanlife_server.jobs`).

A job's ``params`` say what to do; its ``result`` gets the counts (import), the file
(export) or the new project (derive). Files live under ``<data_dir>/transfers``.
"""

from __future__ import annotations

from pathlib import Path

from flask import current_app

from leanlife_server.db import db
from leanlife_server.db.models import Job, Project
from leanlife_server.formats.derive import relation_project_from_ner
from leanlife_server.formats.exporter import export_file
from leanlife_server.formats.importer import import_file
from leanlife_server.formats.reader import ExportFilters
from leanlife_server.jobs import set_progress

IMPORT, EXPORT, DERIVE = "import", "export", "derive_relations"


def transfer_dir() -> Path:
    path = current_app.config["LEANLIFE"].data_dir / "transfers"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _reporter(job_id: int):
    """Progress into the job row. SQLite allows one writer at a time, so while the import's
    write transaction is open the row is left alone (it would wait for that transaction)."""
    sqlite = db.engine.dialect.name == "sqlite"

    def report(fraction: float, phase: str = "exporting") -> None:
        if not (sqlite and phase == "writing"):
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
    path = Path(params["path"])
    try:
        result = import_file(project, path, params.get("format"), params.get("duplicates", "keep"),
                             params.get("options"), params.get("filename"), _reporter(job_id))
    finally:
        path.unlink(missing_ok=True)
    _finish(job_id, **result.as_dict())


def run_export(job_id: int) -> None:
    job, project = _load(job_id)
    params = dict(job.params)
    path = transfer_dir() / f"export-{job_id}"
    report = _reporter(job_id)
    export_file(path, project, params["format"], ExportFilters(**params.get("filters", {})),
                params.get("options"), lambda fraction: report(fraction, "exporting"))
    _finish(job_id, file=path.name, format=params["format"])


def run_derive(job_id: int) -> None:
    job, project = _load(job_id)
    params = dict(job.params)
    created = relation_project_from_ner(project, params["name"], job.user_id,
                                        ExportFilters(**params.get("filters", {})), _reporter(job_id))
    _finish(job_id, project_id=created.id)
