"""Importing a file into a project: validate every record, then write them all in one
transaction, or nothing.

Two passes over the file: the first parses and validates everything (nothing is locked, so
the job's progress is visible and a bad record fails fast); the second writes in batches
inside one transaction. Memory holds one batch, the labels and the annotator names.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Mapping

import sqlalchemy as sa
from flask import current_app

from leanlife_server.db import db
from leanlife_server.db.models import Label, Membership, Project, User
from leanlife_server.formats.detect import detect_format, format_for
from leanlife_server.formats.sources import FileSource
from leanlife_server.formats.validate import RecordValidator
from leanlife_server.formats.writer import DUPLICATE_POLICIES, KEEP, BatchWriter, WriteCounts
from leanlife_server.plugin_api import (
    DocumentRecord,
    FormatContext,
    FormatError,
    load_object,
)

Progress = Callable[[float, str], None]  # (fraction done, phase: "validating" or "writing")
REPORT_EVERY = 1000
MAX_LISTED_NAMES = 20


@dataclass
class ImportResult:
    format: str
    documents: int = 0
    annotations: int = 0
    explanations: int = 0
    skipped_duplicates: int = 0
    labels_created: list[str] = field(default_factory=list)
    # Annotator names in the file that are not project members: stored as plain imports.
    unknown_annotators: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def no_progress(_fraction: float, _phase: str) -> None:
    pass


def _in_file(exc: FormatError, name: str) -> FormatError:
    return FormatError(exc.message, exc.location, exc.field, exc.file or name)


def _members(project_id: int) -> dict[str, int]:
    rows = db.session.execute(sa.select(User.username, User.id).join(
        Membership, Membership.user_id == User.id).where(Membership.project_id == project_id))
    return {r.username: r.id for r in rows}


def import_file(project: Project, path: Path, format_name: str | None = None,
                duplicates: str = KEEP, options: Mapping | None = None,
                filename: str | None = None, progress: Progress = no_progress,
                batch_size: int = 2000) -> ImportResult:
    """Import ``path`` (a file, or a folder for folder formats) into ``project``. Raises
    FormatError naming the file, the line or record and the field; then nothing is written."""
    plugins = current_app.extensions["leanlife"]
    definition = (format_for(plugins, format_name, project.task, "importer") if format_name
                  else detect_format(plugins, path, project.task, filename))
    context = FormatContext(project.task, plugins.tasks.get(project.task).label_kinds,
                            project.explanation_kind, dict(options or {}))
    encoding = context.options.get("encoding", "utf-8-sig")
    sources: list[FileSource] = []

    def records() -> Iterator[DocumentRecord]:
        sources.append(FileSource(path, context, filename, encoding))
        return load_object(definition.importer)(sources[-1])

    return import_records(project, records, filename or Path(path).name, duplicates, progress, batch_size, definition.name,
                          lambda: sources[-1].fraction_read() if sources else 0.0)


def import_records(project: Project, records: Callable[[], Iterator[DocumentRecord]], name: str,
                   duplicates: str = KEEP, progress: Progress = no_progress,
                   batch_size: int = 2000, format_name: str = "records",
                   fraction_read: Callable[[], float] | None = None) -> ImportResult:
    """Validate every record of ``records()``, then call it again and write them all in one
    transaction. ``name`` names the input in errors."""
    plugins = current_app.extensions["leanlife"]
    if duplicates not in DUPLICATE_POLICIES:
        raise FormatError(f"must be one of {list(DUPLICATE_POLICIES)}", field="duplicates")
    labels = dict(db.session.execute(sa.select(Label.name, Label.kind)
                                     .where(Label.project_id == project.id)).all())
    validator = RecordValidator(plugins.tasks.get(project.task), labels, project.explanation_kind,
                                project.multi_label,
                                current_app.config["LEANLIFE"].max_document_chars)
    members = _members(project.id)
    result = ImportResult(format_name)
    project_id = project.id
    db.session.commit()  # end the session's read transaction before the long write

    total, annotators = 0, set()
    try:
        for total, record in enumerate(records(), 1):
            validator.check(record)
            annotators.update(a.annotator for a in record.annotations if a.annotator)
            if total % REPORT_EVERY == 0:
                progress(0.5 * fraction_read() if fraction_read else 0.0, "validating")
        result.unknown_annotators = sorted(annotators - members.keys())[:MAX_LISTED_NAMES]
        result.labels_created = list(validator.new_labels)
        progress(0.5, "writing")
        with db.engine.begin() as conn:
            label_ids = _label_ids(conn, project_id, validator.new_labels)
            writer = BatchWriter(conn, project_id, label_ids, members, duplicates, batch_size)
            for done, record in enumerate(records(), 1):
                writer.add(record, validator.check(record))
                if done % REPORT_EVERY == 0:
                    progress(0.5 + 0.5 * done / max(total, 1), "writing")
            writer.close()
    except FormatError as exc:
        raise _in_file(exc, name) from None
    _count(result, writer.counts)
    progress(1.0, "done")
    return result


def _count(result: ImportResult, counts: WriteCounts) -> None:
    result.documents, result.annotations = counts.documents, counts.annotations
    result.explanations, result.skipped_duplicates = counts.explanations, counts.skipped_duplicates


def _label_ids(conn: sa.Connection, project_id: int, new_labels: Mapping[str, str]) -> dict[str, int]:
    table = Label.__table__
    if new_labels:
        conn.execute(table.insert(), [{"project_id": project_id, "name": name, "kind": kind,
                                       "color": "#888888"} for name, kind in new_labels.items()])
    return dict(conn.execute(sa.select(table.c.name, table.c.id)
                             .where(table.c.project_id == project_id)).all())
