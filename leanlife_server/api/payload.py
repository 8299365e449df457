"""Reading request bodies and query parameters with errors that name the field.

Every JSON body goes through ``json_body``, so every endpoint shares its rules: the body is
JSON (no NaN or Infinity) nested at most ``MAX_DEPTH`` levels, its text is valid Unicode (no
lone surrogates, which no database can store), its numbers fit 64 bits, and it holds only
the fields the endpoint accepts: a misspelt field is an error, never silently ignored.
What each endpoint accepts is declared once, with ``@operation`` (``shapes``), which the
OpenAPI document shows too.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from flask import current_app, request
from flask.json.provider import DefaultJSONProvider

from leanlife_server.api.shapes import Operation, printable, reject_unknown, view_operation
from leanlife_server.db.lookup import is_row_id, max_row_id
from leanlife_server.errors import ApiError, invalid

MAX_DEPTH = 32
INT_MIN, INT_MAX = -(2**63), 2**63 - 1
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
# Longer integer literals cannot fit 64 bits ("-9223372036854775808" has 20 characters);
# they are not converted at all (Python refuses beyond 4,300 digits) but reported by path.
_INT_LITERAL_MAX_CHARS = 20


class _TooLong:
    """Stands in for an integer literal too long to convert."""


def _parse_int(literal: str) -> int | _TooLong:
    return int(literal) if len(literal) <= _INT_LITERAL_MAX_CHARS else _TooLong()


def _reject_constant(name: str) -> None:
    raise ApiError(400, "malformed_json", f"the request body is not valid JSON: {name} is not a "
                                          f"JSON value", {"field": "body"})


def _too_deep() -> ApiError:
    return ApiError(400, "nesting_too_deep", f"the request body nests arrays and objects more "
                                             f"than {MAX_DEPTH} levels deep",
                    {"field": "body", "max_depth": MAX_DEPTH})


def _field_path(parts: tuple[str | int, ...]) -> str:
    """``("documents", 3, "text")`` -> ``documents[3].text``; the empty path is ``body``."""
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{printable(part)}" if out else printable(part))
    return out or "body"


def _check_text(text: str, parts: tuple[str | int, ...], what: str) -> None:
    match = _LONE_SURROGATE.search(text)
    if match:
        raise invalid(_field_path(parts), f"{what} holds a lone surrogate (U+{ord(match.group()):04X}) "
                                         f"at character {match.start()}; send valid Unicode text")


def _check_values(body: Any) -> None:
    """Walks the parsed body (without recursion, so no depth can overflow the stack)."""
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(body, ())]
    while stack:
        value, parts = stack.pop()
        if isinstance(value, (dict, list)):
            if len(parts) >= MAX_DEPTH:
                raise _too_deep()
            if isinstance(value, dict):
                for key, item in value.items():
                    _check_text(key, parts + (key,), "the field name")
                    stack.append((item, parts + (key,)))
            else:
                stack.extend((item, parts + (i,)) for i, item in enumerate(value))
        elif isinstance(value, str):
            _check_text(value, parts, "the text")
        elif isinstance(value, _TooLong) or (isinstance(value, int) and not INT_MIN <= value <= INT_MAX):
            raise invalid(_field_path(parts), "is out of range: integers must lie between -2^63 and 2^63-1")
        elif isinstance(value, float) and not math.isfinite(value):
            raise invalid(_field_path(parts), "is out of range for a floating-point number")


def parse_json(data: str | bytes) -> Any:
    """``data`` as JSON, checked against the rules above (ApiError naming the field if not)."""
    try:
        value = json.loads(data, parse_int=_parse_int, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise ApiError(400, "malformed_json", f"the request body is not valid JSON: {exc.msg} at line "
                                              f"{exc.lineno}, column {exc.colno}",
                       {"field": "body", "line": exc.lineno, "column": exc.colno}) from None
    except RecursionError:  # the parser recurses once per level
        raise _too_deep() from None
    except ValueError:  # bytes that are not UTF-8/16/32 text
        raise ApiError(400, "malformed_json", "the request body is not UTF-8 text",
                       {"field": "body"}) from None
    _check_values(value)
    return value


class StrictJSONProvider(DefaultJSONProvider):
    """Flask's JSON, reading by the same rules, so that code which reads a body with
    ``request.get_json`` (extensions too) meets no value ``json_body`` would refuse: those
    read as malformed JSON (``get_json(silent=True)`` gives None, else 400)."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        if kwargs:  # a caller with its own decoding hooks reads its own data, not a request
            return super().loads(s, **kwargs)
        try:
            return parse_json(s)
        except ApiError as exc:
            raise ValueError(exc.message) from None


def _declared() -> Operation:
    declared = view_operation(current_app.view_functions[request.endpoint])
    if declared is None:
        raise RuntimeError(f"{request.endpoint} reads a body but declares none with @operation")
    return declared


def json_body() -> dict[str, Any]:
    """The request's JSON object, checked against the rules above and then against the body
    the view declares with ``@operation`` (``leanlife_server.api.shapes``): unknown fields,
    types, limits; absent fields that have a default get it."""
    declared = _declared()
    if declared.body_optional and not request.content_length:
        return declared.body.read({})
    if not request.is_json:
        raise ApiError(415, "unsupported_media_type", "send a JSON body with Content-Type: application/json",
                       {"field": "body"})
    body = parse_json(request.get_data(cache=True))
    if not isinstance(body, dict):
        raise invalid("body", "must be a JSON object")
    return declared.body.read(body)


def form_fields() -> None:
    """The same rule for a multipart/form-data body: only the fields the view declares
    (``@operation(form=...)``, files too)."""
    reject_unknown({**request.form, **request.files}, _declared().form.fields)


def query_int(name: str, default: int, minimum: int = 0, maximum: int | None = None) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise invalid(name, f"query parameter must be an integer, got {raw!r}") from None
    if value < minimum or (maximum is not None and value > maximum):
        raise invalid(name, f"must be between {minimum} and {maximum}" if maximum is not None
                      else f"must be at least {minimum}")
    return value


def row_id(raw: str, name: str) -> int:
    """A row id given as text (a query parameter): a positive integer a database can bind."""
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if not is_row_id(value):
        raise invalid(name, f"must be an id between 1 and {max_row_id()}, got {raw[:40]!r}")
    return value
