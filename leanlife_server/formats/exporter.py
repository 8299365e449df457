"""Exporting a project: its records, streamed through a format's exporter into a file."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator, Mapping, TextIO

from flask import current_app

from leanlife_server.db.models import Project
from leanlife_server.formats.detect import format_for
from leanlife_server.formats.reader import ExportFilters, count_documents, project_records
from leanlife_server.plugin_api import DocumentRecord, FormatContext, FormatDefinition, load_object

REPORT_EVERY = 1000


def export_format(project: Project, name: str) -> FormatDefinition:
    return format_for(current_app.extensions["leanlife"], name, project.task, "exporter")


def export_chunks(project: Project, format_name: str, filters: ExportFilters = ExportFilters(),
                  options: Mapping | None = None,
                  progress: Callable[[float], None] | None = None) -> Iterator[str]:
    """The export as text chunks, read from the database a chunk of documents at a time."""
    plugins = current_app.extensions["leanlife"]
    definition = export_format(project, format_name)
    context = FormatContext(project.task, plugins.tasks.get(project.task).label_kinds,
                            project.explanation_kind, dict(options or {}))
    total = count_documents(project.id, filters) if progress else 0
    records = project_records(project.id, filters)
    if progress:
        records = _reporting(records, total, progress)
    return load_object(definition.exporter)(records, context)


def _reporting(records: Iterator[DocumentRecord], total: int,
               progress: Callable[[float], None]) -> Iterator[DocumentRecord]:
    done = 0
    for done, record in enumerate(records, 1):
        yield record
        if done % REPORT_EVERY == 0:
            progress(done / max(total, 1))
    progress(1.0)


def export_to(stream: TextIO, project: Project, format_name: str,
              filters: ExportFilters = ExportFilters(), options: Mapping | None = None,
              progress: Callable[[float], None] | None = None) -> None:
    for chunk in export_chunks(project, format_name, filters, options, progress):
        stream.write(chunk)


def export_file(path: Path, project: Project, format_name: str,
                filters: ExportFilters = ExportFilters(), options: Mapping | None = None,
                progress: Callable[[float], None] | None = None) -> None:
    """Write the export to ``path`` through a temporary file, so a reader never sees half."""
    partial = path.with_name(path.name + ".partial")
    try:
        with open(partial, "w", encoding="utf-8", newline="") as stream:
            export_to(stream, project, format_name, filters, options, progress)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(path)
