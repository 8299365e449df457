"""Projects and their settings (model, retraining policy, query strategy)."""

from __future__ import annotations

import re

from flask import Blueprint, current_app, jsonify

from leanlife_server import auth
from leanlife_server.api import serialize
from leanlife_server.api.access import project_access
from leanlife_server.api.pagination import paginate
from leanlife_server.api.payload import json_body
from leanlife_server.api.serialize import PROJECT, PROJECT_SETTINGS_SHAPE
from leanlife_server.api.shapes import Body, Field, named_choices, operation, page_of
from leanlife_server.db import db
from leanlife_server.db.models import OWNER, Membership, Project
from leanlife_server.errors import invalid
from leanlife_server.pipeline.model_store import prune_project
from leanlife_server.plugin_api import EXPLANATION_NONE

bp = Blueprint("projects_api", __name__, url_prefix="/api/v1/projects")

RETRAIN_MODES = ("every_n", "every_t", "manual")
# Large enough for any real schedule, small enough for date arithmetic (timedelta) to hold.
MAX_RETRAIN_N, MAX_RETRAIN_SECONDS = 10**9, 10 * 365 * 24 * 3600
DEFAULT_RETRAIN_POLICY = {"mode": "manual"}
DEVICE_PATTERN = re.compile(r"cpu|cuda|cuda:\d{1,3}")  # fullmatch; fits the 20-character column

# The UI keeps n and seconds when switching modes, so every mode accepts both fields; the
# one the mode uses is required (checked in ``_retrain_policy``).
RETRAIN_POLICY = Body({
    "mode": Field(str, required=True, choices=RETRAIN_MODES),
    "n": Field(int, minimum=1, maximum=MAX_RETRAIN_N, description="every_n: retrain after n new annotations."),
    "seconds": Field(int, minimum=1, maximum=MAX_RETRAIN_SECONDS,
                     description="every_t: retrain at most this often while annotations arrive."),
})
NOT_BLANK = r"\S"
PROJECT_CHANGES = {
    "name": Field(str, pattern=NOT_BLANK, hint="must not be empty",
                  description="At most 200 characters are kept."),
    "description": Field(str),
    "annotators_see_others": Field(bool),
}
NEW_PROJECT = Body({
    **PROJECT_CHANGES,
    "name": Field(str, required=True, pattern=NOT_BLANK, hint="must not be empty",
                  description="At most 200 characters are kept."),
    "description": Field(str, default=""),
    "annotators_see_others": Field(bool, default=False),
    "task": Field(str, required=True, choices=named_choices("tasks")),
    "explanation_kind": Field(str, default=EXPLANATION_NONE,
                              description="none, or one of the task's explanation kinds."),
    "multi_label": Field(bool, default=False),
    "model": Field(str, nullable=True, description="A model for the task; null for none; absent: "
                                                   "the one suggested for the task."),
    "retrain_policy": Field(RETRAIN_POLICY, description="Absent: manual."),
})
# Device names fit the 20-character column: cpu, cuda, cuda:N.
DEVICE = Field(str, nullable=True, pattern=f"^(?:{DEVICE_PATTERN.pattern})$",
               hint="must be 'cpu', 'cuda' or 'cuda:N'")
# More recommenders than this would each retrain on every save or trigger for little gain.
MAX_RECOMMENDERS = 8
# Far beyond any team's agreement study; keeps the queue's count per document small.
MAX_OVERLAP = 100
SETTINGS_CHANGES = Body({
    "model": Field(str, nullable=True, description="A model that serves the project's task."),
    "recommenders": Field(list, nullable=True, min_length=1, max_length=MAX_RECOMMENDERS, items=Field(str),
                          description="Models whose suggestions compete, each with its own versions; "
                                      "the best on held-out data serves, the first listed before any "
                                      "has held-out data. null: the task's cheap models, then model."),
    "model_config": Field(dict),
    "retrain_policy": Field(RETRAIN_POLICY),
    "query_strategy": Field(str, nullable=True, description="A query strategy for the task."),
    "confidence_threshold": Field(float, nullable=True, minimum=0.0, maximum=1.0,
                                  hint="must be between 0 and 1"),
    "device": DEVICE,
    "versions_kept": Field(int, minimum=0, maximum=10_000,
                           description="Versions kept of each learned model besides its active one; "
                                       "older ones are deleted (default 10)."),
    "overlap": Field(int, minimum=1, maximum=MAX_OVERLAP,
                     description="How many annotators each document (of the share below) goes to."),
    "overlap_share": Field(float, minimum=0.0, maximum=1.0, hint="must be between 0 and 1",
                           description="The share of the documents, chosen by a fixed hash of their "
                                       "id, that goes to overlap annotators; the others go to one."),
    "min_recommendation_confidence": Field(
        float, minimum=0.0, maximum=1.0, hint="must be between 0 and 1",
        description="Suggestions below this confidence are hidden from members who have not chosen "
                    "their own threshold (a new project starts with its task's suggestion)."),
})


def plugins():
    return current_app.extensions["leanlife"]


@bp.get("")
@operation(answers={200: page_of(PROJECT)})
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
@operation(NEW_PROJECT, answers={201: PROJECT})
def create_project():
    """Create a project; the caller becomes its owner. ``model`` (default: the one suggested
    for the task and explanation kind) and ``retrain_policy`` (default: manual) are optional."""
    user = auth.require_user()
    body = json_body()
    task = plugins().tasks.get(body["task"])
    explanation_kind = body["explanation_kind"]
    if explanation_kind not in (EXPLANATION_NONE, *task.explanation_kinds):
        raise invalid("explanation_kind", f"must be one of {[EXPLANATION_NONE, *task.explanation_kinds]}, "
                                          f"got {explanation_kind!r}")
    # A new project starts with the model its plugins suggest for its task and explanations,
    # so that "train now" (or a retraining policy given here) works at once.
    model = (_model_name(body, task.name) if "model" in body
             else plugins().suggested_model(task.name, explanation_kind))
    policy = (_retrain_policy(body["retrain_policy"]) if "retrain_policy" in body
              else dict(DEFAULT_RETRAIN_POLICY))
    project = Project(name=body["name"].strip()[:200], description=body["description"],
                      task=task.name, explanation_kind=explanation_kind,
                      multi_label=body["multi_label"], annotators_see_others=body["annotators_see_others"],
                      model=model, retrain_policy=policy, model_config={},
                      min_recommendation_confidence=task.suggested_min_confidence)
    db.session.add(project)
    db.session.flush()
    db.session.add(Membership(project_id=project.id, user_id=user.id, role=OWNER, settings={}))
    db.session.commit()
    return jsonify(serialize.project(project, OWNER)), 201


@bp.get("/<int:project_id>")
@operation(answers={200: PROJECT})
def get_project(project_id: int):
    """One project."""
    access = project_access(project_id)
    role = access.membership.role if access.membership else None
    return jsonify(serialize.project(access.project, role))


@bp.patch("/<int:project_id>")
@operation(Body(PROJECT_CHANGES), answers={200: PROJECT})
def update_project(project_id: int):
    """Rename or describe a project, or let annotators see each other's work (owners)."""
    access = project_access(project_id, owner=True)
    body = json_body()
    project = access.project
    if "name" in body:
        project.name = body["name"].strip()[:200]
    if "description" in body:
        project.description = body["description"]
    if "annotators_see_others" in body:
        project.annotators_see_others = body["annotators_see_others"]
    db.session.commit()
    return jsonify(serialize.project(project, access.membership.role if access.membership else None))


@bp.delete("/<int:project_id>")
@operation(answers={204: None})
def delete_project(project_id: int):
    """Delete a project and everything in it (owners)."""
    access = project_access(project_id, owner=True)
    db.session.delete(access.project)
    db.session.commit()
    return "", 204


@bp.get("/<int:project_id>/settings")
@operation(answers={200: PROJECT_SETTINGS_SHAPE})
def get_settings(project_id: int):
    """Model, retraining policy, query strategy, confidence threshold, device."""
    return jsonify(serialize.project_settings(project_access(project_id).project))


def _model_name(body: dict, task: str, where: str = "model") -> str | None:
    """``body["model"]``: a registered model that serves ``task``, or null for none."""
    name = body["model"]
    if name is not None:
        model = plugins().models.get(name)
        if model is None or task not in model.tasks:
            serving = [m.name for m in plugins().models if task in m.tasks]
            raise invalid(where, f"{name!r} is not a model for task {task!r} (available: {serving})")
    return name


def _recommender_names(body: dict, task: str) -> list[str] | None:
    """``body["recommenders"]``: distinct models that serve ``task``, or null for the default."""
    names = body["recommenders"]
    if names is None:
        return None
    for i, name in enumerate(names):
        _model_name({"model": name}, task, f"recommenders[{i}]")
        if name in names[:i]:
            raise invalid(f"recommenders[{i}]", f"{name!r} is listed twice")
    return list(names)


def _retrain_policy(value: dict) -> dict:
    """A checked ``RETRAIN_POLICY``, keeping only the field its mode uses."""
    policy: dict = {"mode": value["mode"]}
    for key, used_by in (("n", "every_n"), ("seconds", "every_t")):
        if value["mode"] == used_by:
            if value.get(key) is None:
                raise invalid(f"retrain_policy.{key}", f"is required when mode is {used_by}")
            policy[key] = value[key]
    return policy


@bp.patch("/<int:project_id>/settings")
@operation(SETTINGS_CHANGES, answers={200: PROJECT_SETTINGS_SHAPE})
def update_settings(project_id: int):
    """Change the project's learning settings (owners)."""
    project = project_access(project_id, owner=True).project
    body = json_body()
    if "model" in body:
        project.model = _model_name(body, project.task)
    if "recommenders" in body:
        project.recommenders = _recommender_names(body, project.task)
    if "model_config" in body:
        project.model_config = body["model_config"]
    if "retrain_policy" in body:
        project.retrain_policy = _retrain_policy(body["retrain_policy"])
    if "query_strategy" in body:
        name = body["query_strategy"]
        strategy = plugins().query_strategies.get(name) if name else None
        if name is not None and (strategy is None or project.task not in strategy.tasks):
            raise invalid("query_strategy", f"{name!r} is not a query strategy for task {project.task!r}")
        project.query_strategy = name
    if "confidence_threshold" in body:
        project.confidence_threshold = body["confidence_threshold"]
    if "device" in body:
        project.device = body["device"]
    if "versions_kept" in body:
        project.versions_kept = body["versions_kept"]
    for name in ("overlap", "overlap_share", "min_recommendation_confidence"):
        if name in body:
            setattr(project, name, body[name])
    db.session.commit()
    if "versions_kept" in body:  # a lower number applies now, not at the next training
        prune_project(project)
    return jsonify(serialize.project_settings(project))
