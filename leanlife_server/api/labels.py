"""A project's labels: name, kind (span, relation, document), colour and keyboard shortcut."""

from __future__ import annotations

import re

from flask import Blueprint, current_app, jsonify

from leanlife_server.api import serialize
from leanlife_server.api.access import project_access
from leanlife_server.api.payload import field, json_body
from leanlife_server.db import db
from leanlife_server.db.lookup import get_in_project
from leanlife_server.db.models import Label, Project
from leanlife_server.errors import ApiError, invalid

bp = Blueprint("labels_api", __name__, url_prefix="/api/v1/projects/<int:project_id>/labels")

COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")


def _apply(label: Label, body: dict, project: Project) -> None:
    task = current_app.extensions["leanlife"].tasks.get(project.task)
    if "name" in body or label.name is None:
        name = field(body, "name", str).strip()
        if not name or len(name) > 100:
            raise invalid("name", "must be 1 to 100 characters")
        label.name = name
    if "kind" in body or label.kind is None:
        label.kind = field(body, "kind", str, task.label_kinds[0], choices=task.label_kinds)
    if "color" in body:
        color = field(body, "color", str)
        if not COLOR.match(color):
            raise invalid("color", f"must look like #1f77b4, got {color!r}")
        label.color = color
    if "shortcut" in body:
        shortcut = field(body, "shortcut", str, None)
        if shortcut is not None and len(shortcut) != 1:
            raise invalid("shortcut", "must be a single key")
        label.shortcut = shortcut
    for other in db.session.scalars(db.select(Label).where(Label.project_id == project.id,
                                                           Label.id != label.id)):
        if other.name == label.name:
            raise ApiError(409, "conflict", f"label {label.name!r} exists", {"field": "name"})
        if label.shortcut and other.shortcut == label.shortcut:
            raise ApiError(409, "conflict", f"shortcut {label.shortcut!r} is taken by "
                                            f"label {other.name!r}", {"field": "shortcut"})


@bp.get("")
def list_labels(project_id: int):
    """The project's labels."""
    project_access(project_id)
    rows = db.session.scalars(db.select(Label).where(Label.project_id == project_id).order_by(Label.id))
    return jsonify({"items": [serialize.label(r) for r in rows]})


@bp.post("")
def create_label(project_id: int):
    """Add a label (owners)."""
    project = project_access(project_id, owner=True).project
    label = Label(project_id=project_id, name=None, kind=None, color="#888888")
    _apply(label, json_body(), project)
    db.session.add(label)
    db.session.commit()
    return jsonify(serialize.label(label)), 201


def _label(project_id: int, label_id: int) -> Label:
    return get_in_project(Label, label_id, project_id, "label")


@bp.patch("/<int:label_id>")
def update_label(project_id: int, label_id: int):
    """Rename, recolour or re-key a label (owners)."""
    project = project_access(project_id, owner=True).project
    label = _label(project_id, label_id)
    _apply(label, json_body(), project)
    db.session.commit()
    return jsonify(serialize.label(label))


@bp.delete("/<int:label_id>")
def delete_label(project_id: int, label_id: int):
    """Delete a label and the annotations that use it (owners)."""
    project_access(project_id, owner=True)
    db.session.delete(_label(project_id, label_id))
    db.session.commit()
    return "", 204
