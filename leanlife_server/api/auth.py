"""Log in (cookie session), log out (here or everywhere), change the password, and bearer
tokens for programs."""

from __future__ import annotations

from flask import Blueprint, jsonify, session

from leanlife_server import auth, realtime, throttle
from leanlife_server.api import serialize
from leanlife_server.api.payload import json_body
from leanlife_server.api.serialize import TOKEN, USER
from leanlife_server.api.shapes import Body, Field, always, items_of, maybe_null, operation
from leanlife_server.db import db
from leanlife_server.db.models import ApiToken, User, utcnow
from leanlife_server.errors import ApiError, not_found

bp = Blueprint("auth_api", __name__, url_prefix="/api/v1/auth")


CREDENTIALS = {"username": Field(str, required=True), "password": Field(str, required=True)}
NEW_TOKEN = Body({**CREDENTIALS, "name": Field(str, default="", max_length=100,
                                               description="What the token is for.")})
LOGIN = Body(CREDENTIALS)
SESSION = Body({"user": always(USER), "csrf_token": maybe_null(str)})
PASSWORD_CHANGE = Body({"current_password": Field(str, required=True),
                        "new_password": Field(str, required=True)})


def _check_credentials() -> tuple[User, dict]:
    body = json_body()
    user = auth.find_user(body["username"])
    if not auth.verify_password(user, body["password"]):
        throttle.record_failure()
        raise ApiError(401, "invalid_credentials", "unknown username or wrong password")
    return user, body


@bp.post("/token")
@operation(NEW_TOKEN, answers={201: Body({"token": always(str), **TOKEN.fields})})
def create_token():
    """Exchange a username and password for a bearer token."""
    user, body = _check_credentials()
    row, plaintext = auth.issue_token(user, body["name"])
    db.session.commit()
    return jsonify({"token": plaintext, **serialize.token(row)}), 201


@bp.get("/tokens")
@operation(answers={200: items_of(TOKEN)})
def list_tokens():
    """The caller's tokens (never their secrets)."""
    user = auth.require_user()
    rows = db.session.scalars(db.select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id))
    return jsonify({"items": [serialize.token(r) for r in rows]})


@bp.delete("/tokens/<int:token_id>")
@operation(answers={204: None})
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
@operation(LOGIN, answers={200: SESSION})
def login():
    """Start a cookie session; the answer carries the CSRF token for later writes."""
    user, _ = _check_credentials()
    csrf = auth.login_session(user)
    db.session.commit()
    return jsonify({"user": serialize.user(user), "csrf_token": csrf})


@bp.post("/logout")
@operation(answers={204: None})
def logout():
    """End the cookie session, on the server too (a copy of the cookie stops working)."""
    user = auth.current_user() if auth.session_in_use() else None
    auth.end_session()
    db.session.commit()
    if user is not None:
        realtime.disconnect_user(user.id)  # sockets opened with it; the others reconnect
    return "", 204


@bp.post("/logout-everywhere")
@operation(answers={200: Body({"sessions_ended": always(int)})})
def logout_everywhere():
    """End every browser session of the caller, this one included; API tokens stay valid."""
    user = auth.require_user()
    ended = auth.end_all_sessions(user.id)
    auth.end_session()
    db.session.commit()
    realtime.disconnect_user(user.id)
    return jsonify({"sessions_ended": ended})


@bp.post("/password")
@operation(PASSWORD_CHANGE, answers={200: SESSION})
def change_password():
    """Change the caller's password (the current one is required). Every browser session of
    the caller ends; one that made this request continues under a new session id (and CSRF
    token, in the answer). API tokens stay valid: revoke them separately."""
    user = auth.require_user()
    body = json_body()
    current, new = body["current_password"], body["new_password"]
    if not auth.verify_password(user, current):
        throttle.record_failure()
        raise ApiError(403, "invalid_credentials", "current_password: wrong password",
                       {"field": "current_password"})
    in_browser = auth.session_in_use()
    auth.set_password(user, new)
    csrf = auth.login_session(user) if in_browser else None
    db.session.commit()
    realtime.disconnect_user(user.id)
    return jsonify({"user": serialize.user(user), "csrf_token": csrf})


@bp.get("/me")
@operation(answers={200: SESSION})
def me():
    """The calling user."""
    user = auth.require_user()
    return jsonify({"user": serialize.user(user), "csrf_token": session.get("csrf")})


CSRF_EXEMPT = {"auth_api.create_token", "auth_api.login"}
# The endpoints that check a password: their failures are throttled (leanlife_server.throttle).
PASSWORD_CHECKS = ("auth_api.create_token", "auth_api.login", "auth_api.change_password")
