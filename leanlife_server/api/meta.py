"""Health, the installed plugins, and the OpenAPI document."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from leanlife_server import __version__
from leanlife_server.api.openapi import build_openapi
from leanlife_server.api.shapes import Body, Either, Field, always, operation
from leanlife_server.auth import require_admin, require_user
from leanlife_server.db import db
from leanlife_server.health import details as health_details
from leanlife_server.web import task_view_urls

bp = Blueprint("meta_api", __name__, url_prefix="/api/v1")


TASK = Body({"name": always(str), "title": always(str), "label_kinds": always(list, items=Field(str)),
             "explanation_kinds": always(list, items=Field(str)), "ui_component": always(str),
             "view_url": Field(str, required=True, nullable=True)})
REGISTRATION = Body({"kind": always(str), "name": always(str), "plugin": always(str),
                     "version": Field(str, required=True, nullable=True), "description": always(str),
                     "tasks": Field(list, items=Field(str), description="models, formats and query "
                                                                         "strategies: the tasks they serve"),
                     "imports": Field(bool, description="formats: reads files into a project"),
                     "exports": Field(bool, description="formats: writes a project's annotations"),
                     "directories": Field(bool, description="formats: imports a folder, not one file")})
PLUGINS = Body({"registrations": always(list, items=Field(REGISTRATION)), "tasks": always(list, items=Field(TASK))})


HEALTH_DETAILS = Body({"status": always(str), "version": always(str), "database": always(str),
                       "redis": always(str), "storage": always(str),
                       "workers": always(dict, description="live workers per job queue")})
HEALTH = Either("database", HEALTH_DETAILS, Body({"status": always(str), "version": always(str)}),
                description="with ?details=1 (site admins): each dependency's state")


@bp.get("/health")
@operation(answers={200: HEALTH})
def health():
    """Liveness and database reachability; with ``details=1`` (site admins only: 401/403
    otherwise) the state of the database, Redis, the data dir and the live workers per queue."""
    if request.args.get("details") in ("1", "true"):
        require_admin()
        return jsonify({**health_details(), "version": __version__})
    db.session.execute(db.text("SELECT 1"))
    return jsonify({"status": "ok", "version": __version__})


@bp.get("/plugins")
@operation(answers={200: PLUGINS})
def list_plugins():
    """Registered tasks, models, formats and query strategies."""
    require_user()
    plugins = current_app.extensions["leanlife"]
    views = task_view_urls(plugins)
    tasks = [{"name": t.name, "title": t.title, "label_kinds": list(t.label_kinds),
              "explanation_kinds": list(t.explanation_kinds), "ui_component": t.ui_component,
              "view_url": views[t.name]}
             for t in plugins.tasks]
    return jsonify({"registrations": plugins.describe(), "tasks": tasks})


@bp.get("/openapi.json")
@operation(answers={200: Body({"openapi": always(str)}, open=True, description="OpenAPI 3.1")})
def openapi():
    """This document."""
    return jsonify(build_openapi(current_app))
