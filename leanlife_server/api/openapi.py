"""The OpenAPI document, built from the routes themselves so it cannot drift from them."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask

from leanlife_server import __version__

ERROR_SCHEMA = {
    "type": "object",
    "properties": {"error": {"type": "object", "properties": {
        "code": {"type": "string"}, "message": {"type": "string"}, "details": {"type": "object"}}}},
}
_CONVERTER = re.compile(r"<(?:(\w+):)?(\w+)>")
PUBLIC = {"meta_api.health", "meta_api.openapi", "auth_api.create_token", "auth_api.login",
          "auth_api.logout"}


def _operation(app: Flask, endpoint: str, method: str, params: list[tuple[str, str]]) -> dict[str, Any]:
    doc = (app.view_functions[endpoint].__doc__ or "").strip()
    op: dict[str, Any] = {
        "operationId": endpoint.replace("_api.", "."),
        "summary": doc.splitlines()[0] if doc else endpoint,
        "tags": [endpoint.split("_api.")[0]],
        "parameters": [{"name": name, "in": "path", "required": True,
                        "schema": {"type": "integer" if conv == "int" else "string"}}
                       for conv, name in params],
        "responses": {"default": {"description": "error",
                                  "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}},
    }
    op["responses"]["2XX"] = {"description": "success"}
    if method in ("post", "put", "patch"):
        op["requestBody"] = {"content": {"application/json": {"schema": {"type": "object"}}}}
    if endpoint not in PUBLIC:
        op["security"] = [{"bearer": []}, {"cookie": []}]
    return op


def build_openapi(app: Flask) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if not rule.rule.startswith("/api/v1"):
            continue
        params = _CONVERTER.findall(rule.rule)
        path = _CONVERTER.sub(r"{\2}", rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            paths.setdefault(path, {})[method.lower()] = _operation(app, rule.endpoint, method.lower(), params)
    return {
        "openapi": "3.1.0",
        "info": {"title": "LeanLife API", "version": __version__},
        "paths": paths,
        "components": {
            "schemas": {"Error": ERROR_SCHEMA},
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "cookie": {"type": "apiKey", "in": "cookie", "name": "session"},
            },
        },
    }
