"""Helpers for the import/export tests: projects made directly in the database, and a
project's content in a form that compares across projects (no ids)."""

from __future__ import annotations

from leanlife_server.db import db
from leanlife_server.db.models import OWNER, Membership, Project
from leanlife_server.formats.reader import ExportFilters, project_records


def new_project(task: str, explanation_kind: str = "none", owner_id: int | None = None,
                multi_label: bool = False) -> Project:
    project = Project(name=f"{task} project", task=task, explanation_kind=explanation_kind,
                      multi_label=multi_label, retrain_policy={"mode": "manual"}, model_config={})
    db.session.add(project)
    db.session.flush()
    if owner_id is not None:
        db.session.add(Membership(project_id=project.id, user_id=owner_id, role=OWNER, settings={}))
    db.session.commit()
    return project


def content(project_id: int, filters: ExportFilters = ExportFilters(), meta: bool = False) -> list:
    """Documents with their annotations, in document order: text, (meta), and per annotation
    the label, offsets, the subject and object spans of relations, explanations, annotator
    and source."""
    out = []
    for record in project_records(project_id, filters):
        annotations = []
        for a in record.annotations:
            ends = [(record.annotations[i].start, record.annotations[i].end, record.annotations[i].label)
                    for i in (a.subject, a.object) if i is not None]
            annotations.append((a.label, a.start, a.end, tuple(ends),
                                tuple((e.kind, e.text, tuple((s.start, s.end) for s in e.spans))
                                      for e in a.explanations),
                                a.annotator, a.source))
        out.append((record.text, sorted(annotations, key=repr)) + ((dict(record.meta),) if meta else ()))
    return out
