"""Projects and their settings (model, retraining policy, query strategy)."""

from __future__ import annotations

import re

from flask import Blueprint, current_app, jsonify

from leanlife_server import auth
from leanlife_server.api import serialize
from leanlife_server.api.access import project_access
from leanlife_server.api.pagination import paginate
from leanlife_server.api.payload import field, json_body
from leanlife_server.db import db
from leanlife_server.db.models import OWNER, Membership, Project
from leanlife_server.errors import invalid
from leanlife_server.plugin_api import EXPLANATION_NONE

bp = Blueprint("projects_api", __name__, url_prefix="/api/v1/projects")

RETRAIN_MODES = ("every_n", "every_t", "manual")
DEFAULT_RETRAIN_POLICY = {"mode": "manual"}
DEVICE_PATTERN = re.compile(r"^(cpu|cuda|cuda:\d+)$")


def plugins():
    return current_app.extensions["leanlife"]


@bp.get("")
def list_projects():
    """Projects the caller is a member of (admins: all), paginated."""
    user = auth.require_user()
    roles = dict(db.session.execute(
        db.select(Membership.project_id, Membership.role).where(Membership.user_id == user.id)).all())
    query = db.select(Project)
    if not user.is_admin:
        query = query.where(Project.id.in_(db.select(Membership.project_id)
                                           .where(Membership.user_id == user.id)))
    return jsonify(paginate(query, Project.id, lambda p: serialize.project(p, roles.get(p.id))))


@bp.post("")
def create_project():
    """Create a project; the caller becomes its owner. ``model`` (default: the one suggested
    for the task and explanation kind) and ``retrain_policy`` (default: manual) are optional."""
    user = auth.require_user()
    body = json_body()
    name = field(body, "name", str).strip()
    if not name:
        raise invalid("name", "must not be empty")
    task = plugins().tasks.get(field(body, "task", str, choices=plugins().tasks.items))
    explanation_kind = field(body, "explanation_kind", str, EXPLANATION_NONE,
                             choices=(EXPLANATION_NONE, *task.explanation_kinds))
    # A new project starts with the model its plugins suggest for its task and explanations,
    # so that "train now" (or a retraining policy given here) works at once.
    model = (_model_name(body, task.name) if "model" in body
             else plugins().suggested_model(task.name, explanation_kind))
    policy = (_retrain_policy(field(body, "retrain_policy", dict)) if "retrain_policy" in body
              else dict(DEFAULT_RETRAIN_POLICY))
    project = Project(name=name[:200], description=field(body, "description", str, ""),
                      task=task.name, explanation_kind=explanation_kind,
                      multi_label=field(body, "multi_label", bool, False),
                      annotators_see_others=field(body, "annotators_see_others", bool, False),
                      model=model, retrain_policy=policy, model_config={})
    db.session.add(project)
    db.session.flush()
    db.session.add(Membership(project_id=project.id, user_id=user.id, role=OWNER, settings={}))
    db.session.commit()
    return jsonify(serialize.project(project, OWNER)), 201


@bp.get("/<int:project_id>")
def get_project(project_id: int):
    """One project."""
    access = project_access(project_id)
    role = access.membership.role if access.membership else None
    return jsonify(serialize.project(access.project, role))


@bp.patch("/<int:project_id>")
def update_project(project_id: int):
    """Rename or describe a project, or let annotators see each other's work (owners)."""
    access = project_access(project_id, owner=True)
    body = json_body()
    project = access.project
    if "name" in body:
        name = field(body, "name", str).strip()
        if not name:
            raise invalid("name", "must not be empty")
        project.name = name[:200]
    if "description" in body:
        project.description = field(body, "description", str)
    if "annotators_see_others" in body:
        project.annotators_see_others = field(body, "annotators_see_others", bool)
    db.session.commit()
    return jsonify(serialize.project(project, access.membership.role if access.membership else None))


@bp.delete("/<int:project_id>")
def delete_project(project_id: int):
    """Delete a project and everything in it (owners)."""
    access = project_access(project_id, owner=True)
    db.session.delete(access.project)
    db.session.commit()
    return "", 204


@bp.get("/<int:project_id>/settings")
def get_settings(project_id: int):
    """Model, retraining policy, query strategy, confidence threshold, device."""
    return jsonify(serialize.project_settings(project_access(project_id).project))


def _model_name(body: dict, task: str) -> str | None:
    """``body["model"]``: a registered model that serves ``task``, or null for none."""
    name = field(body, "model", str, None)
    if name is not None:
        model = plugins().models.get(name)
        if model is None or task not in model.tasks:
            serving = [m.name for m in plugins().models if task in m.tasks]
            raise invalid("model", f"{name!r} is not a model for task {task!r} (available: {serving})")
    return name


def _retrain_policy(value: dict) -> dict:
    where = "retrain_policy."
    mode = field(value, "mode", str, choices=RETRAIN_MODES, where=where)
    policy: dict = {"mode": mode}
    if mode == "every_n":
        policy["n"] = field(value, "n", int, where=where)
        if policy["n"] < 1:
            raise invalid("retrain_policy.n", "must be at least 1")
    if mode == "every_t":
        policy["seconds"] = field(value, "seconds", int, where=where)
        if policy["seconds"] < 1:
            raise invalid("retrain_policy.seconds", "must be at least 1")
    return policy


@bp.patch("/<int:project_id>/settings")
def update_settings(project_id: int):
    """Change the project's learning settings (owners)."""
    project = project_access(project_id, owner=True).project
    body = json_body()
    if "model" in body:
        project.model = _model_name(body, project.task)
    if "model_config" in body:
        project.model_config = field(body, "model_config", dict)
    if "retrain_policy" in body:
        project.retrain_policy = _retrain_policy(field(body, "retrain_policy", dict))
    if "query_strategy" in body:
        name = field(body, "query_strategy", str, None)
        strategy = plugins().query_strategies.get(name) if name else None
        if name is not None and (strategy is None or project.task not in strategy.tasks):
            raise invalid("query_strategy", f"{name!r} is not a query strategy for task {project.task!r}")
        project.query_strategy = name
    if "confidence_threshold" in body:
        threshold = field(body, "confidence_threshold", (int, float), None)
        if threshold is not None and not 0.0 <= threshold <= 1.0:
            raise invalid("confidence_threshold", "must be between 0 and 1")
        project.confidence_threshold = threshold
    if "device" in body:
        device = field(body, "device", str, None)
        if device is not None and not DEVICE_PATTERN.match(device):
            raise invalid("device", "must be 'cpu', 'cuda' or 'cuda:N'")
        project.device = device
    db.session.commit()
    return jsonify(serialize.project_settings(project))
