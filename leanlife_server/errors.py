"""API errors: ``{"error": {"code", "message", "details"}}`` with the right HTTP status."""

from __future__ import annotations

import errno
from typing import Any

from flask import Flask, jsonify, request
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from werkzeug.exceptions import HTTPException

from leanlife_server.db import db
from leanlife_server.db.conflicts import is_race
from leanlife_server.plugin_api import ValidationError

# Headers of werkzeug's own error answers that the JSON envelope replaces; the others (Allow
# on a 405, WWW-Authenticate, Retry-After) tell the client what to do next and are kept.
_BODY_HEADERS = {"content-type", "content-length"}


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, details: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}
        self.headers = headers or {}  # e.g. Retry-After on a 429


def not_found(what: str) -> ApiError:
    return ApiError(404, "not_found", f"{what} not found")


def invalid(field: str, message: str) -> ApiError:
    return ApiError(422, "validation_error", f"{field}: {message}", {"field": field})


def conflict(message: str, **details: Any) -> ApiError:
    return ApiError(409, "conflict", message, details)


def is_disk_full(exc: Exception) -> bool:
    """A write refused for want of space: SQLite's SQLITE_FULL, PostgreSQL's disk_full
    (SQLSTATE 53100), or a file write's ENOSPC or EDQUOT."""
    if isinstance(exc, OSError):
        return exc.errno in (errno.ENOSPC, errno.EDQUOT)
    orig = getattr(exc, "orig", None)
    return (getattr(orig, "sqlite_errorname", None) == "SQLITE_FULL"
            or getattr(orig, "sqlstate", None) == "53100")


# A refused or lost database connection. PostgreSQL's SQLSTATEs: too_many_connections,
# admin_shutdown, crash_shutdown, cannot_connect_now, and the connection_exception class; a
# refusal during the connection's start-up may carry none, so its message is read too.
_UNREACHABLE_STATES = {"53300", "57P01", "57P02", "57P03", "08000", "08001", "08003", "08004", "08006"}
_UNREACHABLE_MESSAGES = ("connection failed", "too many clients", "too many connections", "could not connect",
                         "server closed the connection", "connection refused")


def is_database_unreachable(exc: Exception) -> bool:
    """The database refused the connection or lost it (too many clients, restarting, gone):
    nothing was done, and the same request may work in a moment."""
    if not isinstance(exc, OperationalError):
        return False
    if exc.connection_invalidated or getattr(exc.orig, "sqlstate", None) in _UNREACHABLE_STATES:
        return True
    message = str(exc.orig if exc.orig is not None else exc).lower()
    return any(marker in message for marker in _UNREACHABLE_MESSAGES)


def error_response(status: int, code: str, message: str, details: dict[str, Any] | None = None):
    response = jsonify({"error": {"code": code, "message": message, "details": details or {}}})
    response.status_code = status
    return response


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        response = error_response(exc.status, exc.code, exc.message, exc.details)
        response.headers.update(exc.headers)
        return response

    @app.errorhandler(ValidationError)
    def _validation_error(exc: ValidationError):
        return error_response(422, "validation_error", str(exc), {"field": exc.field})

    @app.errorhandler(IntegrityError)
    def _integrity_error(exc: IntegrityError):
        # A uniqueness or reference check passed in this request, and a concurrent request
        # committed first: the database's constraint caught the race.
        db.session.rollback()
        if not is_race(exc):
            raise exc
        return error_response(409, "conflict", "another request changed the same data at the "
                                               "same time; reload and try again")

    @app.errorhandler(DataError)
    def _data_error(exc: DataError):
        # A value the database cannot store (a string past its column's length on PostgreSQL)
        # that no check caught: the request's fault, not the server's.
        db.session.rollback()
        reason = str(exc.orig).splitlines()[0] if exc.orig is not None else "invalid value"
        return error_response(422, "validation_error", f"a value does not fit the database: {reason}",
                              {"field": "body"})

    @app.errorhandler(OperationalError)
    @app.errorhandler(OSError)
    def _database_or_disk(exc: Exception):
        # The client can do nothing but wait: 503 or 507, not a bare 500.
        db.session.rollback()
        if is_database_unreachable(exc):
            # Most often more server threads than the database's max_connections (docs/admin.md).
            app.logger.warning("the database refused a connection: %s", str(exc.orig or exc).strip())
            response = error_response(503, "database_unavailable",
                                      "the database refused or dropped the connection (too busy or "
                                      "restarting); try again in a moment")
            response.headers["Retry-After"] = "1"
            return response
        if not is_disk_full(exc):
            raise exc
        # Nothing was saved.
        return error_response(507, "insufficient_storage", "the server's disk is full, so nothing was "
                                                           "saved; try again once space is freed")

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        if not request.path.startswith("/api/"):
            return exc
        code = (exc.name or "error").lower().replace(" ", "_")
        response = error_response(exc.code or 500, code, exc.description or exc.name)
        for name, value in exc.get_headers():
            if name.lower() not in _BODY_HEADERS:
                response.headers[name] = value
        return response
