"""Site users: admins create and list them."""

from __future__ import annotations

from flask import Blueprint, jsonify

from leanlife_server import auth
from leanlife_server.api import serialize
from leanlife_server.api.payload import json_body
from leanlife_server.api.serialize import USER
from leanlife_server.api.shapes import Body, Field, items_of, operation
from leanlife_server.db import db
from leanlife_server.db.models import User

bp = Blueprint("users_api", __name__, url_prefix="/api/v1/users")


NEW_USER = Body({"username": Field(str, required=True), "password": Field(str, required=True),
                 "is_admin": Field(bool, default=False)})


@bp.get("")
@operation(answers={200: items_of(USER)})
def list_users():
    """Every user (admins only)."""
    auth.require_admin()
    rows = db.session.scalars(db.select(User).order_by(User.id))
    return jsonify({"items": [serialize.user(r) for r in rows]})


@bp.post("")
@operation(NEW_USER, answers={201: USER})
def create_user():
    """Create a user (admins only)."""
    auth.require_admin()
    body = json_body()
    user = auth.create_user(body["username"], body["password"], body["is_admin"])
    db.session.commit()
    return jsonify(serialize.user(user)), 201
