"""The OpenAPI document, built from the routes themselves so it cannot drift from them: each
view's ``@operation`` gives its request body and success answers (the same declarations
``json_body`` validates with), every error answer is the shared ``Error`` shape."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask

from leanlife_server import __version__
from leanlife_server.api.shapes import Answer, Body, Operation, always, view_operation

# leanlife_server.errors.error_response
ERROR = Body({"error": always(Body({"code": always(str), "message": always(str), "details": always(dict)}))})
_CONVERTER = re.compile(r"<(?:(\w+):)?(\w+)>")
PUBLIC = {"meta_api.health", "meta_api.openapi", "auth_api.create_token", "auth_api.login",
          "auth_api.logout"}
_JSON = "application/json"


def _answer(shape: Any) -> dict[str, Any]:
    if shape is None:
        return {"description": "no content"}
    if isinstance(shape, Answer):
        return {"description": shape.description or "a file",
                "content": {shape.media: {"schema": {"type": "string", "format": "binary"}}}}
    return {"description": "success", "content": {_JSON: {"schema": shape.json_schema()}}}


def _request_body(declared: Operation) -> dict[str, Any] | None:
    if declared.body is not None:
        return {"required": not declared.body_optional,
                "content": {_JSON: {"schema": declared.body.json_schema()}}}
    if declared.form is not None:
        schema = declared.form.json_schema()
        for name, spec in declared.form.fields.items():
            if spec.media is not None:  # how OpenAPI tools know a file part
                schema["properties"][name]["format"] = "binary"
        return {"required": True, "content": {"multipart/form-data": {"schema": schema}}}
    return None


def _operation(app: Flask, endpoint: str, params: list[tuple[str, str]]) -> dict[str, Any]:
    view = app.view_functions[endpoint]
    doc = (view.__doc__ or "").strip()
    declared = view_operation(view) or Operation()
    op: dict[str, Any] = {
        "operationId": endpoint.replace("_api.", "."),
        "summary": doc.splitlines()[0] if doc else endpoint,
        "tags": [endpoint.split("_api.")[0]],
        "parameters": [{"name": name, "in": "path", "required": True,
                        "schema": {"type": "integer"} if conv == "int" else {"type": "string"}}
                       for conv, name in params],
        "responses": {**{str(status): _answer(shape) for status, shape in declared.answers.items()},
                      "default": {"description": "an error",
                                  "content": {_JSON: {"schema": {"$ref": "#/components/schemas/Error"}}}}},
    }
    if "\n" in doc:
        op["description"] = doc
    body = _request_body(declared)
    if body is not None:
        op["requestBody"] = body
    if endpoint not in PUBLIC:
        op["security"] = [{"bearer": []}, {"cookie": []}]
    return op


def build_openapi(app: Flask) -> dict[str, Any]:
    """The document for ``app`` (call it in an app context: some limits come from the
    configuration, the database and the installed plugins)."""
    paths: dict[str, dict[str, Any]] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if not rule.rule.startswith("/api/v1"):
            continue
        params = _CONVERTER.findall(rule.rule)
        path = _CONVERTER.sub(r"{\2}", rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            paths.setdefault(path, {})[method.lower()] = _operation(app, rule.endpoint, params)
    return {
        "openapi": "3.1.0",
        "info": {"title": "LeanLife API", "version": __version__},
        "paths": paths,
        "components": {
            "schemas": {"Error": ERROR.json_schema()},
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "cookie": {"type": "apiKey", "in": "cookie", "name": "session"},
            },
        },
    }
