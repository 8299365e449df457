"""Reading JSON request bodies and query parameters with errors that name the field."""

from __future__ import annotations

import json
from typing import Any, Iterable, Mapping

from flask import request

from leanlife_server.errors import ApiError, invalid

_MISSING = object()


def json_body() -> dict[str, Any]:
    if not request.is_json:
        raise ApiError(415, "unsupported_media_type", "send a JSON body with Content-Type: application/json",
                       {"field": "body"})
    try:
        body = json.loads(request.get_data(cache=True))
    except json.JSONDecodeError as exc:
        raise ApiError(400, "malformed_json", f"the request body is not valid JSON: {exc.msg} at line "
                                              f"{exc.lineno}, column {exc.colno}",
                       {"field": "body", "line": exc.lineno, "column": exc.colno}) from None
    except ValueError:  # bytes that are not UTF-8/16/32 text
        raise ApiError(400, "malformed_json", "the request body is not UTF-8 text",
                       {"field": "body"}) from None
    if not isinstance(body, dict):
        raise invalid("body", "must be a JSON object")
    return body


def field(body: Mapping[str, Any], name: str, kind: type | tuple[type, ...], default: Any = _MISSING,
          choices: Iterable[Any] | None = None, where: str = "") -> Any:
    """``body[name]``, checked for type (bool is not an int) and, when given, membership in
    ``choices``. ``where`` prefixes the field name in errors (``retrain_policy.``)."""
    path = where + name
    if name not in body or body[name] is None and default is not _MISSING:
        if default is _MISSING:
            raise invalid(path, "is required")
        return default
    value = body[name]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if (isinstance(value, bool) and bool not in kinds) or not isinstance(value, kinds):
        names = " or ".join(k.__name__ for k in kinds)
        raise invalid(path, f"must be {names}, got {type(value).__name__}")
    if choices is not None:
        allowed = list(choices)
        if value not in allowed:
            raise invalid(path, f"must be one of {allowed}, got {value!r}")
    return value


def query_int(name: str, default: int, minimum: int = 0, maximum: int | None = None) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise invalid(name, f"query parameter must be an integer, got {raw!r}") from None
    if value < minimum or (maximum is not None and value > maximum):
        raise invalid(name, f"must be between {minimum} and {maximum}")
    return value
