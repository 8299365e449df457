"""A project's labels: name, kind (span, relation, document), colour and keyboard shortcut."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from leanlife_server.api import serialize
from leanlife_server.api.access import project_access
from leanlife_server.api.payload import json_body
from leanlife_server.api.serialize import LABEL
from leanlife_server.api.shapes import Body, Field, items_of, operation
from leanlife_server.db import db
from leanlife_server.db.conflicts import commit_unless_duplicate
from leanlife_server.db.lookup import get_in_project
from leanlife_server.db.models import Label, Project
from leanlife_server.errors import ApiError, conflict, invalid

bp = Blueprint("labels_api", __name__, url_prefix="/api/v1/projects/<int:project_id>/labels")



def _label_kinds() -> list[str]:
    """Every task's label kinds; which a project takes depends on its task (``_apply``)."""
    tasks = current_app.extensions["leanlife"].tasks
    return sorted({kind for task in tasks for kind in task.label_kinds})


LABEL_CHANGES = {
    "name": Field(str, pattern=r"\S", max_length=100, hint="must be 1 to 100 characters"),
    "kind": Field(str, choices=_label_kinds, description="One of the project's task's label kinds; "
                                                          "absent: its first."),
    "color": Field(str, pattern="^#[0-9a-fA-F]{6}$", hint="must look like #1f77b4"),
    "shortcut": Field(str, nullable=True, min_length=1, max_length=1, hint="must be a single key"),
}
NEW_LABEL = Body({**LABEL_CHANGES, "name": Field(str, required=True, pattern=r"\S", max_length=100,
                                                 hint="must be 1 to 100 characters")})


def _apply(label: Label, body: dict, project: Project) -> None:
    task = current_app.extensions["leanlife"].tasks.get(project.task)
    if "name" in body:
        label.name = body["name"].strip()
    if "kind" in body or label.kind is None:
        kind = body.get("kind", task.label_kinds[0])
        if kind not in task.label_kinds:
            raise invalid("kind", f"must be one of {list(task.label_kinds)}, got {kind!r}")
        label.kind = kind
    if "color" in body:
        label.color = body["color"]
    if "shortcut" in body:
        label.shortcut = body["shortcut"]
    # No autoflush: the changed label is written at commit, where a name a concurrent request
    # took meanwhile shows as a duplicate key that ``_commit`` answers like this check does.
    with db.session.no_autoflush:
        others = list(db.session.scalars(db.select(Label).where(Label.project_id == project.id,
                                                                Label.id != label.id)))
    for other in others:
        if other.name == label.name:
            raise _name_taken(label)
        if label.shortcut and other.shortcut == label.shortcut:
            raise ApiError(409, "conflict", f"shortcut {label.shortcut!r} is taken by "
                                            f"label {other.name!r}", {"field": "shortcut"})


def _name_taken(label: Label) -> ApiError:
    return conflict(f"label {label.name!r} exists", field="name")


def _commit(label: Label) -> None:
    """Commit; the check in ``_apply`` misses a label of the same name that a concurrent
    request saved meanwhile, which the unique (project, name) key then refuses."""
    if not commit_unless_duplicate():
        raise _name_taken(label)


@bp.get("")
@operation(answers={200: items_of(LABEL)})
def list_labels(project_id: int):
    """The project's labels."""
    project_access(project_id)
    rows = db.session.scalars(db.select(Label).where(Label.project_id == project_id).order_by(Label.id))
    return jsonify({"items": [serialize.label(r) for r in rows]})


@bp.post("")
@operation(NEW_LABEL, answers={201: LABEL})
def create_label(project_id: int):
    """Add a label (owners)."""
    project = project_access(project_id, owner=True).project
    label = Label(project_id=project_id, name=None, kind=None, color="#888888")
    _apply(label, json_body(), project)
    db.session.add(label)
    _commit(label)
    return jsonify(serialize.label(label)), 201


def _label(project_id: int, label_id: int) -> Label:
    return get_in_project(Label, label_id, project_id, "label")


@bp.patch("/<int:label_id>")
@operation(Body(LABEL_CHANGES), answers={200: LABEL})
def update_label(project_id: int, label_id: int):
    """Rename, recolour or re-key a label (owners)."""
    project = project_access(project_id, owner=True).project
    label = _label(project_id, label_id)
    _apply(label, json_body(), project)
    _commit(label)
    return jsonify(serialize.label(label))


@bp.delete("/<int:label_id>")
@operation(answers={204: None})
def delete_label(project_id: int, label_id: int):
    """Delete a label and the annotations that use it (owners)."""
    project_access(project_id, owner=True)
    db.session.delete(_label(project_id, label_id))
    db.session.commit()
    return "", 204
