"""A relation extraction project made from an NER project: the same documents with their
entity spans (as imported entities), ready for relations between them."""

from __future__ import annotations

from dataclasses import replace
from typing import Callable, Iterator

from leanlife_server.db import db
from leanlife_server.db.models import OWNER, Membership, Project
from leanlife_server.formats.importer import import_records, no_progress
from leanlife_server.formats.reader import ExportFilters, project_records
from leanlife_server.plugin_api import EXPLANATION_NATURAL_LANGUAGE, SPAN, DocumentRecord


def _entities_only(records: Iterator[DocumentRecord]) -> Iterator[DocumentRecord]:
    """Spans without their trigger explanations (entities of a relation project carry none)."""
    for record in records:
        yield replace(record, annotations=tuple(
            replace(a, explanations=()) for a in record.annotations if a.kind == SPAN))


def relation_project_from_ner(source: Project, name: str, owner_id: int | None,
                              filters: ExportFilters = ExportFilters(),
                              progress: Callable[[float, str], None] | None = None) -> Project:
    """Create the relation project (owned by ``owner_id``) and copy documents and entities."""
    project = Project(name=name[:200], description=f"Relations on the entities of project {source.id}",
                      task="re", explanation_kind=EXPLANATION_NATURAL_LANGUAGE,
                      retrain_policy={"mode": "manual"}, model_config={})
    db.session.add(project)
    db.session.flush()
    if owner_id is not None:
        db.session.add(Membership(project_id=project.id, user_id=owner_id, role=OWNER, settings={}))
    db.session.commit()

    def records() -> Iterator[DocumentRecord]:
        return _entities_only(project_records(source.id, filters))

    import_records(project, records, f"project {source.id}", progress=progress or no_progress)
    return project
