"""The harness for the browser tests (no tests here): a real ``leanlife serve`` process on a
free port over the test database, headless Debian Chromium driven by Playwright, and a REST
client to set up data and to check what the UI stored.

Playwright never downloads a browser: it runs /usr/bin/chromium (``make install-test``
installs it).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests

from leanlife_server.auth import create_user, issue_token
from leanlife_server.db import db
from leanlife_server.web import DEFAULT_DIST
from tests.conftest import PASSWORD

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1366, "height": 768}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve(database_url: str, data_dir: Path) -> Iterator[str]:
    """``leanlife serve`` in a subprocess; yields its base URL once /health answers."""
    if not (DEFAULT_DIST / "index.html").is_file():
        pytest.fail(f"the UI is not built ({DEFAULT_DIST}); run: make install", pytrace=False)
    port = free_port()
    env = {**os.environ, "LEANLIFE_DATABASE_URL": database_url, "LEANLIFE_DATA_DIR": str(data_dir),
           "LEANLIFE_SECRET_KEY": "ui-test-secret"}
    env.pop("LEANLIFE_REDIS_URL", None)
    data_dir.mkdir(parents=True, exist_ok=True)
    log = open(data_dir / "server.log", "w+")
    process = subprocess.Popen([str(Path(sys.executable).parent / "leanlife"), "serve", "--port", str(port),
                                "--threads", "8"], env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(f"{url}/api/v1/health", timeout=1).ok:
                    break
            except requests.ConnectionError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                pytest.fail(f"leanlife serve did not start:\n{log.read()[-3000:]}", pytrace=False)
            time.sleep(0.1)
        yield url
    finally:
        process.send_signal(signal.SIGINT)  # quick shutdown; live sockets could hold it, so kill after 2 s
        try:
            process.wait(2)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


class Rest:
    """The REST API as one user, through a bearer token."""

    def __init__(self, url: str, token: str):
        self.url = url
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def __call__(self, method: str, path: str, json: Any = None, status: int | None = None) -> Any:
        response = self.session.request(method, f"{self.url}/api/v1{path}", json=json, timeout=10)
        ok = response.status_code == status if status else response.ok
        assert ok, f"{method} {path}: {response.status_code} {response.text}"
        return response.json() if response.content else None


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install -e '.[test]'")
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing; run: make install-test (apt-get install chromium)", pytrace=False)
    with sync_api.sync_playwright() as p:
        instance = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS)
        yield instance
        instance.close()


@pytest.fixture
def server(make_app, database_url, tmp_path):
    """A served, empty LeanLife with users admin (site admin), anna and bob; ``server.rest[name]``."""
    app = make_app()
    tokens = {}
    with app.app_context():
        for name in ("admin", "anna", "bob"):
            user = create_user(name, PASSWORD, is_admin=name == "admin")
            tokens[name] = issue_token(user, "ui tests")[1]
        db.session.commit()
    with serve(database_url, tmp_path / "served") as url:
        yield Server(url, {name: Rest(url, token) for name, token in tokens.items()})


class Server:
    def __init__(self, url: str, rest: dict[str, Rest]):
        self.url = url
        self.rest = rest

    def project(self, task: str, explanation_kind: str, labels: list[dict], documents: list[str],
                annotators: tuple[str, ...] = ("anna", "bob")) -> int:
        """A project owned by admin with labels, documents and annotators, made through the API."""
        admin = self.rest["admin"]
        project = admin("POST", "/projects", {"name": f"{task} project", "task": task,
                                              "explanation_kind": explanation_kind})
        for label in labels:
            admin("POST", f"/projects/{project['id']}/labels", label)
        admin("POST", f"/projects/{project['id']}/documents", {"documents": [{"text": t} for t in documents]})
        for name in annotators:
            admin("POST", f"/projects/{project['id']}/members", {"username": name, "role": "annotator"})
        return project["id"]


def login(browser, url: str, username: str):
    """A fresh browser context logged in as ``username`` through the login form."""
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.goto(url + "/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("[data-testid=whoami]")
    return page


def token(page, text: str, nth: int = 0):
    """The document token whose whole text is ``text``."""
    return page.locator("[data-testid=doctext] .tok").filter(has_text=re.compile(f"^{re.escape(text)}$")).nth(nth)
