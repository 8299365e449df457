"""Health, the installed plugins, and the OpenAPI document."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from leanlife_server import __version__
from leanlife_server.api.openapi import build_openapi
from leanlife_server.auth import require_user
from leanlife_server.db import db

bp = Blueprint("meta_api", __name__, url_prefix="/api/v1")


@bp.get("/health")
def health():
    """Liveness and database reachability."""
    db.session.execute(db.text("SELECT 1"))
    return jsonify({"status": "ok", "version": __version__})


@bp.get("/plugins")
def list_plugins():
    """Registered tasks, models, formats and query strategies."""
    require_user()
    plugins = current_app.extensions["leanlife"]
    tasks = [{"name": t.name, "title": t.title, "label_kinds": list(t.label_kinds),
              "explanation_kinds": list(t.explanation_kinds), "ui_component": t.ui_component}
             for t in plugins.tasks]
    return jsonify({"registrations": plugins.describe(), "tasks": tasks})


@bp.get("/openapi.json")
def openapi():
    """This document."""
    return jsonify(build_openapi(current_app))
