"""Who is calling: passwords, bearer tokens, cookie sessions with CSRF protection."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Optional

from flask import g, request, session
from werkzeug.security import check_password_hash, generate_password_hash

from leanlife_server.db import db
from leanlife_server.db.models import ApiToken, User
from leanlife_server.errors import ApiError

CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
TOKEN_PREFIX = "ll_"


def hash_password(password: str) -> str:
    # scrypt: werkzeug's current memory-hard default.
    return generate_password_hash(password, method="scrypt")


def verify_password(user: User, password: str) -> bool:
    return check_password_hash(user.password_hash, password)


def create_user(username: str, password: str, is_admin: bool = False) -> User:
    if not username or len(username) > 150:
        raise ApiError(422, "validation_error", "username: must be 1 to 150 characters",
                       {"field": "username"})
    if len(password) < 8:
        raise ApiError(422, "validation_error", "password: must be at least 8 characters",
                       {"field": "password"})
    if db.session.scalar(db.select(User.id).where(User.username == username)) is not None:
        raise ApiError(409, "conflict", f"username {username!r} is taken", {"field": "username"})
    user = User(username=username, password_hash=hash_password(password), is_admin=is_admin)
    db.session.add(user)
    db.session.flush()
    return user


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(user: User, name: str = "") -> tuple[ApiToken, str]:
    """A new token; the plaintext is returned once and never stored."""
    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, name=name[:100], token_hash=_digest(plaintext))
    db.session.add(row)
    db.session.flush()
    return row, plaintext


def _user_from_bearer(header: str) -> User:
    token = header[len("Bearer "):].strip()
    # One query for token and user: this runs on every API request.
    row = db.session.execute(db.select(ApiToken.revoked_at, User).join(User, User.id == ApiToken.user_id)
                             .where(ApiToken.token_hash == _digest(token))).first()
    if row is None or row.revoked_at is not None:
        raise ApiError(401, "invalid_token", "the bearer token is unknown or revoked")
    return row.User


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def login_session(user: User) -> str:
    session.clear()
    session["user_id"] = user.id
    return csrf_token()


def load_current_user() -> None:
    """Runs before every API request: sets ``g.user`` (or None) and enforces CSRF on cookies."""
    g.user = None
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        g.user = _user_from_bearer(header)
        return
    user_id = session.get("user_id")
    if user_id is None:
        return
    g.user = db.session.get(User, user_id)
    if g.user is not None and request.method not in SAFE_METHODS:
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
