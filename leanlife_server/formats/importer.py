"""Importing a file into a project: validate every record, then write them all, or nothing.

Two passes: the first reads, parses and validates every record (nothing is locked, so a bad
record fails fast), keeping the results in a temporary file (:mod:`.spool`); the second
writes them in batches, a short transaction each, the rows hidden until one last
transaction publishes them all (:mod:`leanlife_server.formats.staging`); if the import
fails, its rows are deleted. Memory holds one batch, the labels and the annotator names.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Mapping

import sqlalchemy as sa
from flask import current_app

from leanlife_server.db import db
from leanlife_server.db.models import Label, Membership, Project, User
from leanlife_server.formats.detect import detect_format, format_for
from leanlife_server.formats.encoding import text_encoding
from leanlife_server.formats.sources import FileSource
from leanlife_server.formats.spool import Spool
from leanlife_server.formats.staging import Staging, remove_abandoned_imports
from leanlife_server.formats.validate import RecordValidator
from leanlife_server.formats.writer import (
    DUPLICATE_POLICIES,
    KEEP,
    BatchWriter,
    Checked,
    WriteCounts,
    checked,
)
from leanlife_server.plugin_api import (
    DocumentRecord,
    FormatContext,
    FormatError,
    load_object,
)

log = logging.getLogger(__name__)
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
    # Annotations a record gave twice (same annotator, kind, label, offsets, entities): one kept.
    duplicate_annotations: int = 0
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
                batch_size: int = 2000, encoding: str | None = None,
                job_id: int | None = None) -> ImportResult:
    """Import ``path`` (a file, or a folder for folder formats) into ``project``, read as text
    in ``encoding`` (the ``encoding`` format option, else UTF-8 with an optional BOM), for
    the job ``job_id`` if any. Raises FormatError naming the file, the line or record and the
    field; then nothing is written."""
    options = dict(options or {})
    encoding = text_encoding(encoding or options.pop("encoding", None))
    plugins = current_app.extensions["leanlife"]
    definition = (format_for(plugins, format_name, project.task, "importer") if format_name
                  else detect_format(plugins, path, project.task, filename))
    context = FormatContext(project.task, plugins.tasks.get(project.task).label_kinds,
                            project.explanation_kind, options)
    sources: list[FileSource] = []

    def records() -> Iterator[DocumentRecord]:
        sources.append(FileSource(path, context, filename, encoding))
        return load_object(definition.importer)(sources[-1])

    return import_records(project, records, filename or Path(path).name, duplicates, progress,
                          batch_size, definition.name,
                          lambda: sources[-1].fraction_read() if sources else 0.0, job_id)


def import_records(project: Project, records: Callable[[], Iterator[DocumentRecord]], name: str,
                   duplicates: str = KEEP, progress: Progress = no_progress,
                   batch_size: int = 2000, format_name: str = "records",
                   fraction_read: Callable[[], float] | None = None,
                   job_id: int | None = None) -> ImportResult:
    """Validate every record of ``records()``, then write them all, ``batch_size`` documents
    per transaction, hidden until the last one. ``name`` names the input in errors."""
    plugins = current_app.extensions["leanlife"]
    if duplicates not in DUPLICATE_POLICIES:
        raise FormatError(f"must be one of {list(DUPLICATE_POLICIES)}", field="duplicates")
    labels = dict(db.session.execute(sa.select(Label.name, Label.kind)
                                     .where(Label.project_id == project.id)).all())
    settings = current_app.config["LEANLIFE"]
    validator = RecordValidator(plugins.tasks.get(project.task), labels, project.explanation_kind,
                                project.multi_label, settings.max_document_chars,
                                settings.max_spans_per_annotation,
                                settings.max_annotations_per_document)
    members = _members(project.id)
    result = ImportResult(format_name)
    project_id = project.id
    db.session.commit()  # end the session's read transaction before the long write
    remove_abandoned_imports(db.engine)

    total, annotators = 0, set()
    try:
        with Spool() as spool:
            for total, record in enumerate(records(), 1):
                spool.append(checked(record, validator.check(record)))
                annotators.update(a.annotator for a in record.annotations if a.annotator)
                if total % REPORT_EVERY == 0:
                    progress(0.5 * fraction_read() if fraction_read else 0.0, "validating")
            result.unknown_annotators = sorted(annotators - members.keys())[:MAX_LISTED_NAMES]
            result.labels_created = list(validator.new_labels)
            progress(0.5, "writing")
            counts = _write(Staging(db.engine, project_id, job_id), spool, validator.new_labels,
                            members, duplicates, batch_size, lambda done: progress(
                                0.5 + 0.5 * done / max(total, 1), "writing"))
    except FormatError as exc:
        raise _in_file(exc, name) from None
    _count(result, counts)
    progress(1.0, "done")
    return result


def _write(staging: Staging, records: Iterable[Checked],
           new_labels: Mapping[str, str], members: Mapping[str, int], duplicates: str,
           batch_size: int, written: Callable[[int], None]) -> WriteCounts:
    """The second pass: every validated record into ``staging``, then publish; on any failure
    (or an interrupt) its rows are deleted."""
    try:
        writer = BatchWriter(staging, staging.project_id, new_labels, members, duplicates, batch_size)
        try:
            for done, record in enumerate(records, 1):
                writer.add(record)
                if done % REPORT_EVERY == 0:
                    written(done)
            writer.flush()
        finally:
            writer.close()
        staging.publish()
    except BaseException:
        try:
            staging.discard()
        except Exception:  # the database is gone: the next import removes the rows
            log.exception("could not remove the rows of failed import %s", staging.id)
        raise
    return writer.counts


def _count(result: ImportResult, counts: WriteCounts) -> None:
    result.documents, result.annotations = counts.documents, counts.annotations
    result.explanations, result.skipped_duplicates = counts.explanations, counts.skipped_duplicates
    result.duplicate_annotations = counts.duplicate_annotations

