"""The Flask application factory."""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from flask import Flask

from leanlife_server.api import register_api
from leanlife_server.api.auth import PASSWORD_CHECKS
from leanlife_server.api.payload import StrictJSONProvider
from leanlife_server.api.routing import refuse_unbindable_ids
from leanlife_server.config import load_settings
from leanlife_server.db import db, engine_options
from leanlife_server.errors import register_error_handlers
from leanlife_server.plugins import DEFAULT_PLUGINS, load_plugins
from leanlife_server.realtime import init_realtime
from leanlife_server.storage import STORE_KEY, open_store
from leanlife_server.throttle import init_throttle
from leanlife_server.web import bp as web_bp


def create_app(config: Mapping[str, Any] | None = None, extra_plugins: Iterable[Any] = ()) -> Flask:
    """Build an app. ``config`` overrides ``LEANLIFE_*`` settings (keys without the prefix,
    lower-case); ``extra_plugins`` are plugin objects registered after the entry points."""
    settings = load_settings(config)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    app = Flask(__name__)
    app.json = StrictJSONProvider(app)
    app.config.update(
        LEANLIFE=settings,
        SECRET_KEY=settings.secret_key,
        SQLALCHEMY_DATABASE_URI=settings.database_url,
        SQLALCHEMY_ENGINE_OPTIONS=engine_options(settings.database_url),
        MAX_CONTENT_LENGTH=settings.max_request_bytes,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        JSON_SORT_KEYS=False,
    )
    db.init_app(app)
    # A bad LEANLIFE_STORAGE_URL stops the start here; S3 is first reached on first use.
    app.extensions[STORE_KEY] = open_store(settings.storage_url, settings.data_dir,
                                           settings.s3_endpoint_url, settings.s3_region)
    extra_plugins = tuple(extra_plugins)
    app.extensions["leanlife"] = load_plugins(settings.plugin_names, extra_plugins, DEFAULT_PLUGINS,
                                              settings.blocked_plugin_names)
    # Plugin objects live in this process only: jobs then cannot run in a child process.
    app.extensions["leanlife_extra_plugins"] = extra_plugins
    register_error_handlers(app)
    refuse_unbindable_ids(app)
    register_api(app)
    init_throttle(app, PASSWORD_CHECKS)
    app.register_blueprint(web_bp)
    init_realtime(app)
    return app
