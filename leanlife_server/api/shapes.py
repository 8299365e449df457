"""One declaration per JSON shape, read two ways: a request body is checked against it
(``Body.read``) and the OpenAPI document shows it as JSON Schema (``json_schema``), so what
the server accepts and what it documents cannot drift apart. Response shapes use the same
classes (``leanlife_server.api.serialize``), there only for the document.

A ``Body`` is closed (``additionalProperties: false``): a field it does not declare is a 422
naming the field. Limits that depend on the configuration or the installed plugins (a task
name, the largest row id) are given as functions, resolved in the app context each time.

Only what JSON Schema can say is declared here; checks that need the database or the
project (does the model serve this task?) stay in the handlers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field as dataclass_field
from typing import Any, Callable, Collection, Mapping, Sequence, Union

from leanlife_server.db.lookup import max_row_id
from leanlife_server.errors import ApiError, invalid

MISSING: Any = object()


def printable(key: str) -> str:
    """A field name as messages show it (lone surrogates escaped)."""
    return key.encode("utf-8", "backslashreplace").decode("utf-8")


def reject_unknown(body: Mapping[str, Any], known: Collection[str], where: str = "") -> None:
    """422 naming every field of ``body`` not in ``known``; ``where`` prefixes the names
    (``retrain_policy.``, ``documents[3].``)."""
    unknown = sorted(set(body) - set(known))
    if unknown:
        names = [where + printable(name) for name in unknown]
        accepted = ", ".join(sorted(known)) or "no fields"
        raise ApiError(422, "validation_error",
                       f"unknown field{'s' if len(names) > 1 else ''} {', '.join(names)}; "
                       f"accepted here: {accepted}",
                       {"field": names[0], "unknown": names, "accepted": sorted(known)})


_TYPE_NAMES = {str: "string", int: "integer", float: "number", bool: "boolean", list: "array",
               dict: "object"}
_PYTHON_NAMES = {str: "str", int: "int", float: "int or float", bool: "bool", list: "list",
                 dict: "dict"}


def _resolve(value: Any) -> Any:
    return value() if callable(value) else value


def _is_kind(value: Any, kind: type) -> bool:
    if isinstance(value, bool):
        return kind is bool
    if kind is float:  # any JSON number
        return isinstance(value, (int, float))
    return isinstance(value, kind)


@dataclass(frozen=True)
class Field:
    """A value: ``kind`` is str, int, float (any number), bool, list, dict (an object of any
    fields) or a ``Body``/``Either`` (an object of declared fields). ``default`` applies when
    the field is absent or null; ``hint`` replaces the generated message when a limit
    (range, length, pattern) fails. ``pattern`` is searched, as JSON Schema does."""

    kind: Any
    required: bool = False
    default: Any = MISSING
    nullable: bool = False
    choices: Any = None
    minimum: Any = None
    maximum: Any = None
    min_length: Any = None
    max_length: Any = None
    pattern: str | None = None
    items: Field | None = None
    hint: str | None = None
    description: str = ""
    media: str | None = None  # a multipart file part: its JSON Schema is a binary string

    def read(self, value: Any, path: str) -> Any:
        if isinstance(self.kind, (Body, Either)):
            return self.kind.read(value, path + ".")
        if not _is_kind(value, self.kind):
            raise invalid(path, f"must be {_PYTHON_NAMES[self.kind]}, got {type(value).__name__}")
        choices = _resolve(self.choices)
        if choices is not None and value not in list(choices):
            raise invalid(path, f"must be one of {list(choices)}, got {value!r}")
        self._check_limits(value, path)
        if self.items is not None:
            value = [self.items.read(item, f"{path}[{i}]") for i, item in enumerate(value)]
        return value

    def _check_limits(self, value: Any, path: str) -> None:
        low, high = _resolve(self.minimum), _resolve(self.maximum)
        if (low is not None and value < low) or (high is not None and value > high):
            raise invalid(path, self.hint or (f"must be between {low} and {high}, got {value}"
                                              if low is not None and high is not None else
                                              f"must be at least {low}" if low is not None
                                              else f"must be at most {high}"))
        shortest, longest = _resolve(self.min_length), _resolve(self.max_length)
        unit = "items" if isinstance(value, list) else "characters"
        if shortest is not None and len(value) < shortest:
            raise invalid(path, self.hint or ("must not be empty" if shortest == 1 else
                                              f"must hold at least {shortest} {unit}"))
        if longest is not None and len(value) > longest:
            raise invalid(path, self.hint or f"holds {len(value)} {unit}; the limit is {longest}")
        if self.pattern is not None and not re.search(_python_pattern(self.pattern), value):
            raise invalid(path, self.hint or f"must match {self.pattern!r}")

    def json_schema(self) -> dict[str, Any]:
        if isinstance(self.kind, (Body, Either)):
            schema = self.kind.json_schema()
        elif self.media is not None:
            schema = {"type": "string", "contentMediaType": self.media}
        else:
            schema = {"type": _TYPE_NAMES[self.kind]}
        for key, value in (("enum", self.choices), ("minimum", self.minimum), ("maximum", self.maximum),
                           ("minLength" if self.kind is str else "minItems", self.min_length),
                           ("maxLength" if self.kind is str else "maxItems", self.max_length)):
            value = _resolve(value)
            if value is not None:
                schema[key] = list(value) if key == "enum" else value
        if self.pattern is not None:
            schema["pattern"] = self.pattern
        if self.items is not None:
            schema["items"] = self.items.json_schema()
        if self.nullable or self.default is not MISSING:
            schema = _or_null(schema)
        if self.default is not MISSING:
            schema["default"] = self.default
        description = " ".join(part for part in (self.description, self.hint) if part)
        if description:
            schema["description"] = description
        return schema


def _python_pattern(pattern: str) -> str:
    """JSON Schema's (ECMA 262) ``$`` ends the text; Python's also matches before a final
    newline, so a trailing ``$`` is read as ``\\Z``."""
    return pattern[:-1] + r"\Z" if pattern.endswith("$") and not pattern.endswith(r"\$") else pattern


def _or_null(schema: dict[str, Any]) -> dict[str, Any]:
    if "type" in schema and "enum" not in schema:
        return {**schema, "type": [schema["type"], "null"]}
    return {"anyOf": [schema, {"type": "null"}]}


def row_id(**options: Any) -> Field:
    """A row id: an integer the database's id columns can hold."""
    return Field(int, minimum=1, maximum=max_row_id, **options)


@dataclass(frozen=True)
class Body:
    """A JSON object with the declared ``fields``, in the order they are checked."""

    fields: Mapping[str, Field]
    description: str = ""
    open: bool = False  # True: fields besides the declared ones are allowed (responses only)

    def read(self, value: Any, where: str = "") -> dict[str, Any]:
        """``value`` checked: unknown fields first (422 naming them), then each field;
        absent fields with a default get it, null ones too."""
        if not isinstance(value, dict):
            raise invalid(where.rstrip(".") or "body", "must be an object")
        if not self.open:
            reject_unknown(value, self.fields, where)
        out = dict(value)
        for name, spec in self.fields.items():
            if name not in value or (value[name] is None and spec.default is not MISSING):
                if spec.default is not MISSING:
                    out[name] = spec.default
                elif spec.required:
                    raise invalid(where + name, "is required")
            elif value[name] is None and spec.nullable:
                out[name] = None
            else:
                out[name] = spec.read(value[name], where + name)
        return out

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {
            "type": "object",
            "properties": {name: spec.json_schema() for name, spec in self.fields.items()},
            "additionalProperties": self.open,
        }
        required = [name for name, spec in self.fields.items() if spec.required]
        if required:
            schema["required"] = required
        if self.description:
            schema["description"] = self.description
        return schema


@dataclass(frozen=True)
class Either:
    """One of two object shapes, told apart by whether ``key`` is present: ``{"texts":
    [...]}`` or ``{"text": ...}``. Neither takes the other's fields."""

    key: str
    present: Body
    absent: Body
    description: str = ""

    def read(self, value: Any, where: str = "") -> dict[str, Any]:
        chosen = self.present if isinstance(value, dict) and self.key in value else self.absent
        return chosen.read(value, where)

    def json_schema(self) -> dict[str, Any]:
        absent = self.absent.json_schema()
        # The shapes' own fields already keep them apart; this makes an empty object match
        # only the second one, as ``read`` does.
        absent["not"] = {"required": [self.key]}
        schema: dict[str, Any] = {"oneOf": [self.present.json_schema(), absent]}
        if self.description:
            schema["description"] = self.description
        return schema


Shape = Union[Body, Either]


def always(kind: Any, **options: Any) -> Field:
    return Field(kind, required=True, **options)


def maybe_null(kind: Any, **options: Any) -> Field:
    return Field(kind, required=True, nullable=True, **options)


def items_of(shape: Any, **more: Field) -> Body:
    """``{"items": [...]}``, the envelope of every list."""
    return Body({"items": always(list, items=Field(shape)), **more})


def page_of(shape: Any, **more: Field) -> Body:
    """A keyset page (``leanlife_server.api.pagination``)."""
    return items_of(shape, next_cursor=maybe_null(int), **more)


@dataclass(frozen=True)
class Answer:
    """A response that is not a JSON object described by a ``Body``: a file download."""

    media: str
    description: str = ""


@dataclass(frozen=True)
class Operation:
    """What one view accepts (``body``: JSON, or ``form``: multipart) and answers on success
    (status -> a shape, an ``Answer``, or None for no content)."""

    body: Shape | None = None
    form: Body | None = None
    body_optional: bool = False
    answers: Mapping[int, Any] = dataclass_field(default_factory=dict)


def operation(body: Shape | None = None, *, form: Body | None = None, body_optional: bool = False,
              answers: Mapping[int, Any] | None = None) -> Callable:
    """Declares a view's request and success answers; ``json_body()`` reads by ``body`` and
    the OpenAPI document shows both. The view itself is returned unchanged."""

    def attach(view: Callable) -> Callable:
        view.leanlife_operation = Operation(body, form, body_optional, dict(answers or {}))
        return view

    return attach


def view_operation(view: Callable) -> Operation | None:
    return getattr(view, "leanlife_operation", None)


def named_choices(registry_name: str) -> Callable[[], Sequence[str]]:
    """The names in one of the plugin registries (tasks, models, formats, query strategies)."""
    def names() -> Sequence[str]:
        from flask import current_app
        return list(getattr(current_app.extensions["leanlife"], registry_name).items)
    return names
