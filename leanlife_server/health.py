"""What ``GET /api/v1/health?details=1`` reports: each dependency of the server checked for real
(the database answers, Redis answers, the artifact store takes a file, workers listen)."""

from __future__ import annotations

import logging
from typing import Any

from flask import current_app

from leanlife_server.db import db
from leanlife_server.storage import store

log = logging.getLogger(__name__)

OK, DOWN, NOT_CONFIGURED = "ok", "down", "not configured"


def database_state() -> str:
    try:
        db.session.execute(db.text("SELECT 1"))
        return OK
    except Exception as exc:  # any driver error means the same to an operator: it does not answer
        db.session.rollback()
        log.warning("health: the database did not answer: %s", exc)
        return DOWN


def storage_state() -> str:
    """``ok`` when a file can be written to and removed from the artifact store (models,
    results and transfers live there), else what failed."""
    found = store()
    try:
        found.check()
        return OK
    except Exception as exc:  # OSError or any S3 client error: the store takes no file
        log.warning("health: the artifact store %s takes no file: %s", found.describe(), exc)
        return f"not writable: {found.describe()}: {getattr(exc, 'strerror', None) or exc}"


def redis_and_workers() -> tuple[str, dict[str, int]]:
    """Redis's state and the live workers per job queue (none known while Redis is down;
    none without Redis, where the server runs jobs itself)."""
    from redis.exceptions import RedisError

    from leanlife_server.jobs import runner

    if not current_app.config["LEANLIFE"].redis_url:
        return NOT_CONFIGURED, {}
    try:
        return OK, runner().live_workers()
    except RedisError as exc:
        log.warning("health: Redis did not answer: %s", exc)
        return DOWN, {}


def details() -> dict[str, Any]:
    database, storage = database_state(), storage_state()
    redis, workers = redis_and_workers()
    healthy = database == OK and storage == OK and redis in (OK, NOT_CONFIGURED)
    return {"status": OK if healthy else "degraded", "database": database, "redis": redis,
            "storage": storage, "workers": workers}
