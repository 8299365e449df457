"""The real ``leanlife`` command, run as a subprocess with its data dir in tmp_path."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path

import pytest
import requests

LEANLIFE = Path(sys.executable).with_name("leanlife")
SERVER_START_SECONDS = 60


def leanlife(*args: str, env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([str(LEANLIFE), *args], env=env, input=stdin, capture_output=True,
                          text=True, timeout=120)


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    """The caller's environment without LEANLIFE_* settings, and a fresh data dir."""
    clean = {key: value for key, value in os.environ.items() if not key.startswith("LEANLIFE_")}
    clean["LEANLIFE_DATA_DIR"] = str(tmp_path / "leanlife-data")
    return clean


def test_db_upgrade_creates_the_default_sqlite_database(env):
    result = leanlife("db", "upgrade", env=env)
    assert result.returncode == 0, result.stderr
    assert "database at revision head" in result.stdout
    database = Path(env["LEANLIFE_DATA_DIR"]) / "leanlife.sqlite3"
    with sqlite3.connect(database) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        revision = conn.execute("SELECT version_num FROM alembic_version").fetchall()
    assert {"users", "api_tokens", "projects", "documents", "annotations", "explanations"} <= tables
    assert len(revision) == 1
    # Upgrading an up-to-date database changes nothing.
    assert leanlife("db", "upgrade", env=env).returncode == 0
    with sqlite3.connect(database) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == revision


def test_createuser_then_log_in_through_the_api(make_app, database_url, env):
    app = make_app()  # empties the test database before the command writes to it
    env["LEANLIFE_DATABASE_URL"] = database_url
    result = leanlife("createuser", "alice", "--admin", env=env, stdin="a long password\n")
    assert result.returncode == 0, result.stderr
    assert "created admin 'alice'" in result.stdout

    client = app.test_client()
    r = client.post("/api/v1/auth/token", json={"username": "alice", "password": "a long password"})
    assert r.status_code == 201, r.get_json()
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {r.get_json()['token']}"})
    assert me.get_json()["user"] == {"id": me.get_json()["user"]["id"], "username": "alice", "is_admin": True}

    taken = leanlife("createuser", "alice", env=env, stdin="another password\n")
    assert taken.returncode == 1 and "username 'alice' is taken" in taken.stderr


def test_plugins_lists_each_registration_with_its_plugin_and_version(env):
    result = leanlife("plugins", env=env)
    assert result.returncode == 0, result.stderr
    rows = [line.split() for line in result.stdout.splitlines()]
    for task in ("ner", "re", "sa"):
        assert ["task", task, task, version("leanlife")] in rows, result.stdout

    env["LEANLIFE_PLUGINS"] = "sa,sentiment"
    unknown = leanlife("plugins", env=env)
    assert unknown.returncode == 1 and "LEANLIFE_PLUGINS names 'sentiment'" in unknown.stderr


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_starts_a_production_server(env):
    port = free_port()
    server = subprocess.Popen([str(LEANLIFE), "serve", "--port", str(port)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + SERVER_START_SECONDS
        response = None
        while time.monotonic() < deadline and server.poll() is None:
            try:
                response = requests.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=2)
                break
            except requests.ConnectionError:
                time.sleep(0.2)
        assert response is not None, f"no answer on port {port}; exit code {server.poll()}"
        assert response.status_code == 200 and response.json()["status"] == "ok"
        assert response.headers["Server"].startswith("gunicorn")
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)
    assert server.returncode == 0, output
    assert f"http://127.0.0.1:{port}" in output
