"""Shared fixtures. Every app-level test runs against SQLite and PostgreSQL.

PostgreSQL comes from LEANLIFE_TEST_POSTGRES_URL (default: the local server). Each test
session gets its own database, named after that URL's with the process id appended, created
at the start and dropped at the end, so parallel runs never meet. When it is unreachable the PostgreSQL half fails
loudly; ``LEANLIFE_TEST_DATABASES=sqlite`` opts out explicitly (never in CI).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa

from leanlife_server.app import create_app
from leanlife_server.auth import create_user, issue_token
from leanlife_server.db import db
from leanlife_server.db.migrate import upgrade
from leanlife_server.jobs import RUNNER_KEY

POSTGRES_URL = os.environ.get("LEANLIFE_TEST_POSTGRES_URL",
                              "postgresql+psycopg://postgres@127.0.0.1:5432/leanlife_test")
DATABASES = [d.strip() for d in os.environ.get("LEANLIFE_TEST_DATABASES", "sqlite,postgres").split(",")]
PASSWORD = "correct horse battery"


def _postgres_admin(url: sa.engine.URL, statement: str) -> None:
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(statement))
    except sa.exc.OperationalError as exc:
        pytest.fail(f"PostgreSQL at {url.render_as_string(hide_password=True)} is unreachable "
                    f"({exc.orig}); start it, point LEANLIFE_TEST_POSTGRES_URL at one, or run "
                    f"with LEANLIFE_TEST_DATABASES=sqlite", pytrace=False)
    finally:
        admin.dispose()


def _private_postgres_database(suffix: str = "") -> sa.engine.URL:
    url = sa.engine.make_url(POSTGRES_URL)
    url = url.set(database=f"{url.database}{suffix}_{os.getpid()}")
    _postgres_admin(url, f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')
    _postgres_admin(url, f'CREATE DATABASE "{url.database}"')
    return url


@pytest.fixture(params=DATABASES)
def empty_database(request, tmp_path) -> str:
    """A database with no tables yet, per backend and per test: for migration tests, which
    upgrade it to a revision, write old-shaped rows and upgrade the rest of the way."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'migrate.sqlite3'}"
    url = _private_postgres_database("_migrate")
    request.addfinalizer(lambda: _postgres_admin(url, f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
    return url.render_as_string(hide_password=False)


def app_with_one_old_sa_annotation(database_url: str, data_dir, revision: str):
    """An app on ``database_url`` migrated to ``revision``, holding one SA project with one
    document and one imported document label, written as rows of that revision: for the
    migration tests of later revisions' columns."""
    app = create_app({"database_url": database_url, "data_dir": data_dir})
    upgrade(app, revision)
    with app.app_context():
        for statement in (
                "INSERT INTO projects (id, name, description, task, explanation_kind, multi_label, "
                "annotators_see_others, model_config, retrain_policy, created_at) "
                "VALUES (1, 'old', '', 'sa', 'none', false, false, '{}', '{}', CURRENT_TIMESTAMP)",
                "INSERT INTO labels (id, project_id, name, kind, color) VALUES (1, 1, 'pos', 'document', '#888')",
                "INSERT INTO documents (id, project_id, text, meta, created_at, has_letters) "
                "VALUES (1, 1, 'text', '{}', CURRENT_TIMESTAMP, true)",
                "INSERT INTO annotations (id, project_id, document_id, label_id, kind, source, created_at, "
                "updated_at) VALUES (1, 1, 1, 1, 'document', 'import', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"):
            db.session.execute(db.text(statement))
        db.session.commit()
    return app


@pytest.fixture(scope="session", params=DATABASES)
def database_url(request, tmp_path_factory) -> str:
    """A migrated, empty database, once per backend per test session."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'test.sqlite3'}"
    elif request.param == "postgres":
        private = _private_postgres_database()
        request.addfinalizer(lambda: _postgres_admin(
            private, f'DROP DATABASE IF EXISTS "{private.database}" WITH (FORCE)'))
        url = private.render_as_string(hide_password=False)
    else:
        raise ValueError(f"LEANLIFE_TEST_DATABASES: unknown database {request.param!r}")
    migrated = create_app({"database_url": url, "data_dir": tmp_path_factory.mktemp("data")})
    upgrade(migrated)
    with migrated.app_context():
        db.engine.dispose()
    return url


def _truncate_all() -> None:
    tables = [t.name for t in reversed(db.metadata.sorted_tables)]
    if db.engine.dialect.name == "postgresql":
        db.session.execute(sa.text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    else:
        for name in tables:
            db.session.execute(sa.text(f"DELETE FROM {name}"))
    db.session.commit()


@pytest.fixture
def make_app(database_url, tmp_path):
    """Build an app on the test database with config overrides; tables start empty."""
    apps = []

    def build(config: dict[str, Any] | None = None, extra_plugins=()):
        app = create_app({"database_url": database_url, "data_dir": tmp_path / "data",
                          "secret_key": "test-secret", **(config or {})}, extra_plugins)
        app.testing = True
        apps.append(app)
        with app.app_context():
            _truncate_all()
        return app

    yield build
    for app in apps:
        _wait_for_background_jobs(app)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def _wait_for_background_jobs(app, timeout: float = 60.0) -> None:
    """Let the jobs a test's saves started in this process end (the dictionary matcher
    retrains after every save): one still running when the next test empties the tables
    holds locks that PostgreSQL's TRUNCATE deadlocks on."""
    runner = app.extensions.get(RUNNER_KEY)
    deadline = time.monotonic() + timeout
    while getattr(runner, "unfinished", None) and time.monotonic() < deadline:
        time.sleep(0.05)


@pytest.fixture
def app(make_app):
    return make_app()


@dataclass
class Caller:
    """A test client acting as one user through a bearer token (or anonymously)."""

    client: Any
    token: str | None = None
    user_id: int | None = None

    def _headers(self, headers: dict | None) -> dict:
        out = dict(headers or {})
        if self.token:
            out["Authorization"] = f"Bearer {self.token}"
        return out

    def request(self, method: str, path: str, json: Any = None, headers: dict | None = None, **kw):
        return self.client.open(path, method=method, json=json, headers=self._headers(headers), **kw)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, json=None, **kw):
        return self.request("POST", path, json=json, **kw)

    def put(self, path, json=None, **kw):
        return self.request("PUT", path, json=json, **kw)

    def patch(self, path, json=None, **kw):
        return self.request("PATCH", path, json=json, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)


@pytest.fixture
def make_caller(app):
    """``make_caller("alice", admin=False)`` creates the user and returns a Caller with a token;
    ``make_caller(None)`` is anonymous."""

    def build(username: str | None, admin: bool = False) -> Caller:
        client = app.test_client()
        if username is None:
            return Caller(client)
        with app.app_context():
            user = create_user(username, PASSWORD, is_admin=admin)
            _, token = issue_token(user, "tests")
            db.session.commit()
            return Caller(client, token, user.id)

    return build


def create_project(owner: Caller, task: str = "ner", explanation_kind: str = "none",
                   labels: tuple[tuple[str, str], ...] = (), **extra) -> dict:
    """Create a project with ``labels`` as (name, kind) pairs; returns the project JSON."""
    response = owner.post("/api/v1/projects", json={"name": f"{task} project", "task": task,
                                                    "explanation_kind": explanation_kind, **extra})
    assert response.status_code == 201, response.get_json()
    project = response.get_json()
    for name, kind in labels:
        r = owner.post(f"/api/v1/projects/{project['id']}/labels", json={"name": name, "kind": kind})
        assert r.status_code == 201, r.get_json()
    return project


def add_document(owner: Caller, project_id: int, text: str) -> dict:
    response = owner.post(f"/api/v1/projects/{project_id}/documents", json={"text": text})
    assert response.status_code == 201, response.get_json()
    return response.get_json()
