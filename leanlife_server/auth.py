"""Who is calling: passwords, bearer tokens, cookie sessions with CSRF protection."""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from datetime import timedelta
from typing import Optional

from flask import current_app, g, request, session
from sqlalchemy import bindparam
from werkzeug.security import check_password_hash, generate_password_hash

from leanlife_server.credentials import (
    PASSWORD_MAX_LENGTH,
    check_new_password,
    clean_username,
    username_key,
)
from leanlife_server.db import db
from leanlife_server.db.models import ApiToken, User, UserSession, utcnow
from leanlife_server.errors import ApiError

CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
TOKEN_PREFIX = "ll_"


def hash_password(password: str) -> str:
    # scrypt: werkzeug's current memory-hard default.
    return generate_password_hash(password, method="scrypt")


@functools.cache
def _dummy_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))


def verify_password(user: Optional[User], password: str) -> bool:
    """Whether ``password`` is ``user``'s. An unknown user (None) or an over-long password costs
    one hash all the same, so the answer's timing tells no one which usernames exist."""
    if user is None or len(password) > PASSWORD_MAX_LENGTH:
        check_password_hash(_dummy_hash(), password[:PASSWORD_MAX_LENGTH])
        return False
    return check_password_hash(user.password_hash, password)


def find_user(username: str) -> Optional[User]:
    """The user whose name is ``username`` up to case and Unicode compatibility forms."""
    return db.session.scalar(db.select(User).where(User.username_key == username_key(username)))


def create_user(username: str, password: str, is_admin: bool = False) -> User:
    name = clean_username(username)
    check_new_password(password, name)
    if find_user(name) is not None:
        raise ApiError(409, "conflict", f"username {name!r} is taken", {"field": "username"})
    user = User(username=name, password_hash=hash_password(password), is_admin=is_admin)
    db.session.add(user)
    db.session.flush()
    return user


def set_password(user: User, password: str) -> None:
    """Replace the password and end every browser session of the user (tokens stay valid)."""
    check_new_password(password, user.username, field="new_password")
    user.password_hash = hash_password(password)
    end_all_sessions(user.id)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(user: User, name: str = "") -> tuple[ApiToken, str]:
    """A new token; the plaintext is returned once and never stored."""
    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, name=name[:100], token_hash=_digest(plaintext))
    db.session.add(row)
    db.session.flush()
    return row, plaintext


# One query for token and user, built once: this runs on every API request.
_BEARER_QUERY = (db.select(ApiToken.revoked_at, User).join(User, User.id == ApiToken.user_id)
                 .where(ApiToken.token_hash == bindparam("token_hash")))


def _user_from_bearer(header: str) -> User:
    token = header[len("Bearer "):].strip()
    row = db.session.execute(_BEARER_QUERY, {"token_hash": _digest(token)}).first()
    if row is None or row.revoked_at is not None:
        raise ApiError(401, "invalid_token", "the bearer token is unknown or revoked")
    return row.User


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def login_session(user: User) -> str:
    """Start a browser session for ``user`` (a fresh session id and CSRF token in the cookie);
    returns the CSRF token. The caller commits."""
    db.session.execute(db.delete(UserSession).where(UserSession.user_id == user.id,
                                                    UserSession.expires_at < utcnow()))
    session_id = secrets.token_urlsafe(32)
    days = current_app.config["LEANLIFE"].session_days
    db.session.add(UserSession(user_id=user.id, token_hash=_digest(session_id),
                               expires_at=utcnow() + timedelta(days=days)))
    session.clear()
    session["sid"] = session_id
    return csrf_token()


def end_session() -> None:
    """End this browser's session, on the server too: a copy of the cookie is then worthless.
    The caller commits."""
    session_id = session.pop("sid", None)
    session.clear()
    if session_id is not None:
        db.session.execute(db.delete(UserSession).where(UserSession.token_hash == _digest(session_id)))


def end_all_sessions(user_id: int) -> int:
    """End every browser session of a user; returns how many. The caller commits."""
    return db.session.execute(db.delete(UserSession).where(UserSession.user_id == user_id)).rowcount


def _user_from_session(session_id: str) -> Optional[User]:
    # One query for session and user, as for tokens: this runs on every browser request.
    return db.session.scalar(db.select(User).join(UserSession, UserSession.user_id == User.id)
                             .where(UserSession.token_hash == _digest(session_id),
                                    UserSession.expires_at > utcnow()))


def session_in_use() -> bool:
    """Whether this request's caller came with a live session cookie (not a bearer token)."""
    return g.get("via_session", False)


def load_current_user() -> None:
    """Runs before every API request: sets ``g.user`` (or None) and enforces CSRF on cookies."""
    g.user = None
    g.via_session = False
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        g.user = _user_from_bearer(header)
        return
    session_id = session.get("sid")
    if session_id is None:
        return
    g.user = _user_from_session(session_id)
    if g.user is None:
        session.clear()  # ended or expired: the browser may as well forget it
        return
    g.via_session = True
    if request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(sent, session.get("csrf", "")):
            raise ApiError(403, "csrf_failed", f"cookie-authenticated requests that change data "
                                               f"need the {CSRF_HEADER} header from /auth/login")


def current_user() -> Optional[User]:
    return g.get("user")


def require_user() -> User:
    user = current_user()
    if user is None:
        raise ApiError(401, "unauthenticated", "log in or send 'Authorization: Bearer <token>'")
    return user


def require_admin() -> User:
    user = require_user()
    if not user.is_admin:
        raise ApiError(403, "forbidden", "only site admins may do this")
    return user


FIRST_ADMIN = "admin"


def create_first_admin(data_dir) -> str | None:
    """On an empty database, create user ``admin`` with a random password, kept (mode 0600) in
    the data dir so a new install can log in at once. Returns the password, or None."""
    if db.session.scalar(db.select(User.id).limit(1)) is not None:
        return None
    password = secrets.token_urlsafe(12)
    create_user(FIRST_ADMIN, password, is_admin=True)
    db.session.commit()
    path = data_dir / "initial-admin-password"
    path.touch(mode=0o600)
    path.write_text(password + "\n")
    return password
