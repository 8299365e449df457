"""A project made from another one: the source's documents with what the new project's task
keeps of their annotations (``TaskDefinition.derive_record``); a task says which task's
projects it is made from (``TaskDefinition.derived_from``)."""

from __future__ import annotations

from typing import Callable, Iterable, Iterator

from leanlife_server.db import db
from leanlife_server.db.models import OWNER, Membership, Project
from leanlife_server.formats.importer import import_records, no_progress
from leanlife_server.formats.reader import ExportFilters, project_records
from leanlife_server.plugin_api import EXPLANATION_NONE, DocumentRecord, TaskDefinition


def tasks_made_from(tasks: Iterable[TaskDefinition], source_task: str) -> list[TaskDefinition]:
    """The tasks whose projects can be made from a project of ``source_task``."""
    return [task for task in tasks if task.derived_from == source_task]


def _cut_down(task: TaskDefinition, records: Iterator[DocumentRecord]) -> Iterator[DocumentRecord]:
    if task.derive_record is None:
        return records
    return (task.derive_record(record) for record in records)


def derived_project(source: Project, task: TaskDefinition, name: str, owner_id: int | None,
                    filters: ExportFilters = ExportFilters(),
                    progress: Callable[[float, str], None] | None = None) -> Project:
    """Create a ``task`` project (owned by ``owner_id``) and copy the source's documents and
    annotations into it, as ``task`` cuts them down."""
    # The task's first explanation kind: the one its projects are made for.
    explanation_kind = task.explanation_kinds[0] if task.explanation_kinds else EXPLANATION_NONE
    project = Project(name=name[:200], description=f"{task.title} on project {source.id}",
                      task=task.name, explanation_kind=explanation_kind,
                      retrain_policy={"mode": "manual"}, model_config={})
    db.session.add(project)
    db.session.flush()
    if owner_id is not None:
        db.session.add(Membership(project_id=project.id, user_id=owner_id, role=OWNER, settings={}))
    db.session.commit()

    def records() -> Iterator[DocumentRecord]:
        return _cut_down(task, project_records(source.id, filters))

    import_records(project, records, f"project {source.id}", progress=progress or no_progress)
    return project
