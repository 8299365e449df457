"""The browser UI: the single-page app's index at ``/`` and its built assets.

The assets are built from ``web/`` at install time (``make install`` runs ``npm ci`` and
``npm run build``) into ``web/dist``; nothing is fetched from a CDN. A server started without
them still serves the API and answers ``/`` with a page that says how to build them.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from flask import Blueprint, Response, current_app, send_from_directory

bp = Blueprint("web", __name__)

# The checkout's build output; the ``web_dist`` setting overrides it (create_app config).
DEFAULT_DIST = Path(__file__).resolve().parent.parent / "web" / "dist"
BUILD_COMMAND = "make install  (or: cd web && npm ci && npm run build)"
ONE_YEAR = 365 * 24 * 3600  # seconds


def dist_dir() -> Path:
    return Path(current_app.config["LEANLIFE"].extra.get("web_dist", DEFAULT_DIST))


def _not_built(dist: Path) -> Response:
    page = (f"<!doctype html><meta charset=utf-8><title>LeanLife: UI not built</title>"
            f"<h1>The LeanLife UI has not been built</h1>"
            f"<p>No <code>index.html</code> in <code>{escape(str(dist))}</code>. Build it with "
            f"<code>{escape(BUILD_COMMAND)}</code> and reload. The REST API under "
            f"<a href=/api/v1/openapi.json>/api/v1</a> works without it.</p>")
    return Response(page, status=503, mimetype="text/html")


@bp.get("/")
def index():
    """The single-page app; its routes live after the ``#``, so this is its only page."""
    dist = dist_dir()
    if not (dist / "index.html").is_file():
        return _not_built(dist)
    response = send_from_directory(dist, "index.html", max_age=0)
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/assets/<path:filename>")
def asset(filename: str):
    """Built scripts and styles; their names carry a content hash, so they cache for a year and
    a reload need not ask again (``immutable``)."""
    response = send_from_directory(dist_dir() / "assets", filename, max_age=ONE_YEAR)
    response.headers["Cache-Control"] = f"public, max-age={ONE_YEAR}, immutable"
    return response
