"""Project members, their roles, and each member's own settings."""

from __future__ import annotations

from flask import Blueprint, jsonify

from leanlife_server import realtime
from leanlife_server.api import serialize
from leanlife_server.api.access import project_access
from leanlife_server.api.payload import json_body
from leanlife_server.api.serialize import MEMBER
from leanlife_server.api.shapes import Body, Field, always, items_of, operation
from leanlife_server.db import db
from leanlife_server.db.locks import lock_row
from leanlife_server.db.models import OWNER, ROLES, Membership, Project, User
from leanlife_server.errors import ApiError, invalid, not_found

bp = Blueprint("members_api", __name__, url_prefix="/api/v1/projects/<int:project_id>")

# Per-member preferences, with their type and default; a default of None is the project's
# column of the same name (``Project.min_recommendation_confidence``: the owner's default for
# members who have not chosen).
MEMBER_SETTINGS = {
    "show_recommendations": (bool, True),
    "min_recommendation_confidence": (float, None),
    "show_others_annotations": (bool, False),
}
MEMBER_SETTINGS_CHANGES = Body({name: Field(kind) for name, (kind, _) in MEMBER_SETTINGS.items()})
MEMBER_SETTINGS_SHAPE = Body({name: always(kind) for name, (kind, _) in MEMBER_SETTINGS.items()})
NEW_MEMBER = Body({"username": Field(str, required=True), "role": Field(str, required=True, choices=ROLES)})
ROLE_CHANGE = Body({"role": Field(str, required=True, choices=ROLES)})


def _membership(project_id: int, user_id: int) -> Membership:
    # populate_existing: the caller's own row may be loaded already, from before the lock.
    row = db.session.scalar(db.select(Membership).where(Membership.project_id == project_id,
                                                        Membership.user_id == user_id)
                            .execution_options(populate_existing=True))
    if row is None:
        raise not_found(f"member {user_id}")
    return row


def _owner_count(project_id: int) -> int:
    return len(db.session.scalars(db.select(Membership.id).where(
        Membership.project_id == project_id, Membership.role == OWNER)).all())


@bp.get("/members")
@operation(answers={200: items_of(MEMBER)})
def list_members(project_id: int):
    """The project's members and roles."""
    project_access(project_id)
    rows = db.session.scalars(db.select(Membership).where(Membership.project_id == project_id)
                              .order_by(Membership.id))
    return jsonify({"items": [serialize.member(r) for r in rows]})


@bp.post("/members")
@operation(NEW_MEMBER, answers={201: MEMBER})
def add_member(project_id: int):
    """Add a user by username with a role (owners)."""
    project_access(project_id, owner=True)
    body = json_body()
    username, role = body["username"], body["role"]
    user = db.session.scalar(db.select(User).where(User.username == username))
    if user is None:
        raise invalid("username", f"no user named {username!r}")
    exists = db.session.scalar(db.select(Membership.id).where(Membership.project_id == project_id,
                                                              Membership.user_id == user.id))
    if exists is not None:
        raise ApiError(409, "conflict", f"{username!r} is already a member", {"field": "username"})
    row = Membership(project_id=project_id, user_id=user.id, role=role, settings={})
    db.session.add(row)
    db.session.commit()
    return jsonify(serialize.member(row)), 201


def _keep_an_owner(row: Membership) -> None:
    if row.role == OWNER and _owner_count(row.project_id) == 1:
        raise ApiError(409, "conflict", "a project keeps at least one owner")


@bp.patch("/members/<int:user_id>")
@operation(ROLE_CHANGE, answers={200: MEMBER})
def update_member(project_id: int, user_id: int):
    """Change a member's role (owners)."""
    lock_row(Project, project_id)  # owners changing each other at once keep one owner
    project_access(project_id, owner=True)
    row = _membership(project_id, user_id)
    role = json_body()["role"]
    if role != OWNER:
        _keep_an_owner(row)
    row.role = role
    db.session.commit()
    return jsonify(serialize.member(row))


@bp.delete("/members/<int:user_id>")
@operation(answers={204: None})
def remove_member(project_id: int, user_id: int):
    """Remove a member (owners); their annotations stay."""
    lock_row(Project, project_id)  # owners changing each other at once keep one owner
    project_access(project_id, owner=True)
    row = _membership(project_id, user_id)
    _keep_an_owner(row)
    db.session.delete(row)
    db.session.commit()
    realtime.disconnect_user(user_id)  # its sockets sit in the project's rooms
    return "", 204


def _effective_settings(project: Project, row: Membership | None) -> dict:
    stored = row.settings if row is not None else {}
    defaults = {name: getattr(project, name) if default is None else default
                for name, (_, default) in MEMBER_SETTINGS.items()}
    return {name: stored.get(name, default) for name, default in defaults.items()}


@bp.get("/me/settings")
@operation(answers={200: MEMBER_SETTINGS_SHAPE})
def get_my_settings(project_id: int):
    """The caller's own settings in this project."""
    access = project_access(project_id)
    return jsonify(_effective_settings(access.project, access.membership))


@bp.patch("/me/settings")
@operation(MEMBER_SETTINGS_CHANGES, answers={200: MEMBER_SETTINGS_SHAPE})
def update_my_settings(project_id: int):
    """Change the caller's own settings in this project."""
    access = project_access(project_id)
    if access.membership is None:
        raise ApiError(403, "forbidden", "only members have settings in a project")
    settings = {**access.membership.settings, **json_body()}
    access.membership.settings = settings
    db.session.commit()
    return jsonify(_effective_settings(access.project, access.membership))
