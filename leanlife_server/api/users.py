"""Site users: admins create and list them."""

from __future__ import annotations

from flask import Blueprint, jsonify

from leanlife_server import auth
from leanlife_server.api import serialize
from leanlife_server.api.payload import field, json_body
from leanlife_server.db import db
from leanlife_server.db.models import User

bp = Blueprint("users_api", __name__, url_prefix="/api/v1/users")


@bp.get("")
def list_users():
    """Every user (admins only)."""
    auth.require_admin()
    rows = db.session.scalars(db.select(User).order_by(User.id))
    return jsonify({"items": [serialize.user(r) for r in rows]})


@bp.post("")
def create_user():
    """Create a user (admins only)."""
    auth.require_admin()
    body = json_body()
    user = auth.create_user(field(body, "username", str), field(body, "password", str),
                            field(body, "is_admin", bool, False))
    db.session.commit()
    return jsonify(serialize.user(user)), 201
