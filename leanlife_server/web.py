"""The browser UI: the single-page app's index at ``/`` and its built assets.

The assets are built from ``web/`` at install time (``make install`` runs ``npm ci`` and
``npm run build``) into ``web/dist``; nothing is fetched from a CDN. A server started without
them still serves the API and answers ``/`` with a page that says how to build them.

Plugins ship browser code too (a task's annotation view): each plugin package's ``static/``
folder is served at ``/plugins/<plugin name>/static/<path>``.
"""

from __future__ import annotations

import inspect
import mimetypes
from html import escape
from pathlib import Path
from types import ModuleType
from typing import Any

from flask import Blueprint, Response, abort, current_app, request, send_from_directory

from leanlife_server.plugin_api import is_relative_static_path

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


# The tab's icon: a letter L on the UI's accent blue. Browsers ask for /favicon.ico whatever the
# page names, so the icon answers there (SVG, which every current browser shows).
FAVICON = ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">'
           '<rect width="32" height="32" rx="6" fill="#2f6fde"/>'
           '<path d="M10 7h4v14h9v4H10z" fill="#fff"/></svg>')


@bp.get("/favicon.ico")
def favicon():
    """The tab's icon (SVG), cached for a day."""
    response = Response(FAVICON, mimetype="image/svg+xml")
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response


@bp.get("/assets/<path:filename>")
def asset(filename: str):
    """Built scripts and styles; their names carry a content hash, so they cache for a year and
    a reload need not ask again (``immutable``)."""
    response = send_from_directory(dist_dir() / "assets", filename, max_age=ONE_YEAR)
    response.headers["Cache-Control"] = f"public, max-age={ONE_YEAR}, immutable"
    return response


# A module script must come with a JavaScript type, whatever the host's mimetypes table says.
STATIC_TYPES = {".js": "text/javascript", ".mjs": "text/javascript", ".css": "text/css",
                ".json": "application/json", ".map": "application/json", ".svg": "image/svg+xml"}
STATIC_FOLDER = "static"


def plugin_static_dir(plugin: Any) -> Path | None:
    """The ``static/`` folder of the package that holds ``plugin`` (a module, or an object whose
    class lives in one); None for a plugin that is not part of a package, since the folder
    next to a lone module could be anything (e.g. site-packages itself)."""
    module = plugin if isinstance(plugin, ModuleType) else inspect.getmodule(type(plugin))
    if module is None or not hasattr(module, "__path__") or not getattr(module, "__file__", None):
        return None
    return Path(module.__file__).resolve().parent / STATIC_FOLDER


def view_url(plugin_name: str, view: str, plugin: Any = None) -> str:
    """Where the browser loads a view module of a plugin from. With the file at hand, the URL
    carries its version (modification time and size), so the browser may cache it for good."""
    url = f"/plugins/{plugin_name}/{STATIC_FOLDER}/{view}"
    folder = plugin_static_dir(plugin) if plugin is not None else None
    try:
        stat = (folder / view).stat() if folder is not None else None
    except OSError:  # not built: the browser's import fails and says so
        stat = None
    return f"{url}?v={stat.st_mtime_ns:x}-{stat.st_size:x}" if stat else url


def task_view_urls(plugins: Any) -> dict[str, str | None]:
    """Each task's view URL (``plugins``: the loaded Plugins). A task that ships no view uses
    the view of the first task with its ``ui_component`` that does (a keyphrase task that says
    "ner" is annotated like NER); None when there is none (the browser shows a read-only view)."""
    tasks = plugins.tasks
    own = {t.name: view_url(tasks.owners[t.name], t.view, plugins.manager.get_plugin(tasks.owners[t.name]))
           for t in tasks if t.view is not None}
    by_component: dict[str, str] = {}
    for task in tasks:
        if task.name in own:
            by_component.setdefault(task.ui_component, own[task.name])
    return {t.name: own.get(t.name) or by_component.get(t.ui_component) for t in tasks}


@bp.get(f"/plugins/<plugin_name>/{STATIC_FOLDER}/<path:filename>")
def plugin_static(plugin_name: str, filename: str):
    """A file of a loaded plugin's ``static/`` folder. Unknown plugins, plugins without the
    folder and paths that leave it (``..``) are 404. Plugin files keep their names across
    versions: the browser revalidates each time (a 304 when unchanged), unless the URL names
    the version (``?v=``, as view_url writes it), which may be cached for good."""
    plugin = current_app.extensions["leanlife"].manager.get_plugin(plugin_name)
    folder = plugin_static_dir(plugin) if plugin is not None else None
    if folder is None or not folder.is_dir() or not is_relative_static_path(filename):
        abort(404)
    suffix = Path(filename).suffix.lower()
    mimetype = STATIC_TYPES.get(suffix) or mimetypes.guess_type(filename)[0] or "application/octet-stream"
    response = send_from_directory(folder, filename, mimetype=mimetype, max_age=0)
    response.headers["Cache-Control"] = (f"public, max-age={ONE_YEAR}, immutable" if request.args.get("v")
                                         else "no-cache")
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
