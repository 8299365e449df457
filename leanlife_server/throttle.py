"""Slowing password guessing: failed password checks are counted per account and per client
address (Flask-Limiter; in Redis when LEANLIFE_REDIS_URL is set, so every web process shares
the counts, else, or while Redis is down, in this process), and past either limit the endpoints that check passwords
answer 429 with Retry-After. Only failures count: people who log in often are never slowed."""

from __future__ import annotations

import hashlib
import math
import time
from typing import Iterable

from flask import Flask, Response, current_app, g, request
from flask_limiter import Limiter
from flask_limiter.errors import RateLimitExceeded
from flask_limiter.util import get_remote_address
from limits import parse_many

from leanlife_server.config import Settings
from leanlife_server.credentials import username_key
from leanlife_server.errors import error_response

EXTENSION_KEY = "leanlife_throttle"
ACCOUNT_SCOPE, ADDRESS_SCOPE = "login-account", "login-address"


def record_failure() -> None:
    """Count this request against its account's and address's limits (a wrong password)."""
    g.password_check_failed = True


def _failed(_response: Response) -> bool:
    return g.get("password_check_failed", False)


def _account_key() -> str:
    """The account a request tries: the caller (a password change) or the username in the
    body (login, token), folded as logins fold it. Hashed, so a huge name makes a short key."""
    user = g.get("user")
    if user is not None:
        name = user.username
    else:
        body = request.get_json(silent=True)
        name = body.get("username") if isinstance(body, dict) else None
        name = name if isinstance(name, str) else ""
    return hashlib.sha256(username_key(name).encode()).hexdigest()[:32]


def _validate(settings: Settings) -> None:
    for name in ("login_limit_per_account", "login_limit_per_address"):
        try:
            parse_many(getattr(settings, name))
        except ValueError as exc:
            raise ValueError(f"LEANLIFE_{name.upper()} is not a rate such as '10 per 15 minutes': "
                             f"{getattr(settings, name)!r}") from exc


def _too_many(exc: RateLimitExceeded) -> Response:
    limit = current_app.extensions[EXTENSION_KEY].current_limit
    retry_after = max(1, math.ceil(limit.reset_at - time.time())) if limit is not None else 60
    who = "this account" if exc.limit.scope == ACCOUNT_SCOPE else "this address"
    response = error_response(429, "too_many_attempts",
                              f"too many wrong passwords for {who} ({exc.limit.limit}); "
                              f"try again in {retry_after} s", {"retry_after": retry_after})
    response.headers["Retry-After"] = str(retry_after)
    return response


def init_throttle(app: Flask, endpoints: Iterable[str]) -> Limiter:
    """Limit the failed password checks of ``endpoints`` (already registered view functions)."""
    settings: Settings = app.config["LEANLIFE"]
    _validate(settings)
    # Redis down: count in this process's memory rather than refuse every login.
    limiter = Limiter(get_remote_address, storage_uri=settings.redis_url or "memory://",
                      key_prefix=f"{settings.redis_prefix}:throttle", strategy="moving-window",
                      in_memory_fallback_enabled=True)
    limiter.init_app(app)
    per_account = limiter.shared_limit(lambda: settings.login_limit_per_account, ACCOUNT_SCOPE,
                                       key_func=_account_key, deduct_when=_failed)
    per_address = limiter.shared_limit(lambda: settings.login_limit_per_address, ADDRESS_SCOPE,
                                       key_func=get_remote_address, deduct_when=_failed)
    for endpoint in endpoints:
        app.view_functions[endpoint] = per_address(per_account(app.view_functions[endpoint]))
    app.register_error_handler(RateLimitExceeded, _too_many)
    app.extensions[EXTENSION_KEY] = limiter
    return limiter
