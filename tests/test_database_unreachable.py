"""A database that refuses the connection (more server threads than PostgreSQL's
max_connections, seen with `serve --workers 4 --threads 32` under 200 annotators) answers 503
with Retry-After, not a 500 traceback: nothing was done, and the same request works once a
connection is free. Real PostgreSQL: a role whose connection limit is taken by held
connections refuses the next one with "too many connections"."""

from __future__ import annotations

import os

import psycopg
import pytest
import sqlalchemy as sa

from leanlife_server.app import create_app
from leanlife_server.db import db
from leanlife_server.db.migrate import upgrade
from tests.conftest import DATABASES, POSTGRES_URL, _postgres_admin, _private_postgres_database

ROLE = f"leanlife_limited_{os.getpid()}"
HELD = 2  # the role's connection limit, all held by the test


def _grant(url: sa.engine.URL) -> None:
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            for what in ("TABLES", "SEQUENCES"):
                conn.execute(sa.text(f'GRANT ALL ON ALL {what} IN SCHEMA public TO "{ROLE}"'))
    finally:
        engine.dispose()


@pytest.mark.parametrize("database", [d for d in DATABASES if d == "postgres"])
def test_a_refused_connection_answers_503_and_the_next_request_works(database, tmp_path):
    url = _private_postgres_database("_limited")
    _postgres_admin(url, f'DROP ROLE IF EXISTS "{ROLE}"')
    _postgres_admin(url, f'CREATE ROLE "{ROLE}" LOGIN CONNECTION LIMIT {HELD}')
    app = None
    try:
        migrated = create_app({"database_url": url.render_as_string(hide_password=False),
                               "data_dir": tmp_path / "migrate"})
        upgrade(migrated)
        with migrated.app_context():
            db.engine.dispose()
        _grant(url)
        limited = url.set(username=ROLE, password=None)
        app = create_app({"database_url": limited.render_as_string(hide_password=False),
                          "data_dir": tmp_path / "data", "secret_key": "test-secret"})
        client = app.test_client()
        login = {"username": "nobody", "password": "not the password"}

        held = [psycopg.connect(host=url.host, port=url.port or 5432, dbname=url.database, user=ROLE)
                for _ in range(HELD)]
        refused = client.post("/api/v1/auth/token", json=login)
        for connection in held:
            connection.close()
        assert refused.status_code == 503, refused.get_json()
        assert refused.get_json()["error"]["code"] == "database_unavailable"
        assert refused.headers["Retry-After"] == "1"

        answered = client.post("/api/v1/auth/token", json=login)
        assert answered.status_code == 401, answered.get_json()  # the database answered: no such user
    finally:
        if app is not None:
            with app.app_context():
                db.engine.dispose()
        _postgres_admin(url, f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')
        _postgres_admin(url, f'DROP ROLE IF EXISTS "{ROLE}"')


@pytest.mark.parametrize("database", [d for d in DATABASES if d == "postgres"])
def test_serve_warns_when_its_threads_outnumber_the_connections(database, tmp_path, capsys):
    from leanlife_server.cli import _warn_if_connections_run_out

    url = sa.engine.make_url(POSTGRES_URL).set(database="postgres")
    app = create_app({"database_url": url.render_as_string(hide_password=False), "data_dir": tmp_path})
    try:
        _warn_if_connections_run_out(app, 1, 1)
        assert capsys.readouterr().err == ""
        _warn_if_connections_run_out(app, 1000, 32)
        warning = capsys.readouterr().err
        assert "32000 request threads" in warning and "max_connections" in warning
    finally:
        with app.app_context():
            db.engine.dispose()
