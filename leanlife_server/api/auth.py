"""Log in (cookie session), log out, and bearer tokens for programs."""

from __future__ import annotations

from flask import Blueprint, jsonify, session

from leanlife_server import auth, realtime
from leanlife_server.api import serialize
from leanlife_server.api.payload import field, json_body
from leanlife_server.db import db
from leanlife_server.db.models import ApiToken, User, utcnow
from leanlife_server.errors import ApiError, not_found

bp = Blueprint("auth_api", __name__, url_prefix="/api/v1/auth")


def _check_credentials() -> tuple[User, dict]:
    body = json_body()
    username = field(body, "username", str)
    password = field(body, "password", str)
    user = db.session.scalar(db.select(User).where(User.username == username))
    if user is None or not auth.verify_password(user, password):
        raise ApiError(401, "invalid_credentials", "unknown username or wrong password")
    return user, body


@bp.post("/token")
def create_token():
    """Exchange a username and password for a bearer token."""
    user, body = _check_credentials()
    row, plaintext = auth.issue_token(user, field(body, "name", str, ""))
    db.session.commit()
    return jsonify({"token": plaintext, **serialize.token(row)}), 201


@bp.get("/tokens")
def list_tokens():
    """The caller's tokens (never their secrets)."""
    user = auth.require_user()
    rows = db.session.scalars(db.select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id))
    return jsonify({"items": [serialize.token(r) for r in rows]})


@bp.delete("/tokens/<int:token_id>")
def revoke_token(token_id: int):
    """Revoke one of the caller's tokens."""
    user = auth.require_user()
    row = db.session.get(ApiToken, token_id)
    if row is None or row.user_id != user.id:
        raise not_found(f"token {token_id}")
    row.revoked_at = row.revoked_at or utcnow()
    db.session.commit()
    realtime.disconnect_user(user.id)  # sockets opened with it; the others reconnect
    return "", 204


@bp.post("/login")
def login():
    """Start a cookie session; the answer carries the CSRF token for later writes."""
    user, _ = _check_credentials()
    csrf = auth.login_session(user)
    return jsonify({"user": serialize.user(user), "csrf_token": csrf})


@bp.post("/logout")
def logout():
    """End the cookie session."""
    user_id = session.get("user_id")
    session.clear()
    if user_id is not None:
        realtime.disconnect_user(user_id)  # sockets opened with it; the others reconnect
    return "", 204


@bp.get("/me")
def me():
    """The calling user."""
    user = auth.require_user()
    return jsonify({"user": serialize.user(user), "csrf_token": session.get("csrf")})


CSRF_EXEMPT = {"auth_api.create_token", "auth_api.login"}
