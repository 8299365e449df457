"""Versioned schema migrations (Alembic), run by ``leanlife db upgrade`` and at server start."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from flask import Flask

from leanlife_server.db import db

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(connection=None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def upgrade(app: Flask, revision: str = "head") -> None:
    with app.app_context(), db.engine.begin() as connection:
        command.upgrade(alembic_config(connection), revision)


def current_revision(app: Flask) -> str | None:
    from alembic.runtime.migration import MigrationContext
    with app.app_context(), db.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
