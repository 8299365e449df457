"""Several web processes behind a reverse proxy: nginx (Debian's package, run by this test
with its own prefix on a free loopback port) runs deploy/nginx/leanlife.conf, the file
docs/deploy.md shows, in front of two `leanlife serve` processes sharing PostgreSQL and Redis,
with one `leanlife worker`. A real Chromium page on the annotation screen (WebSocket) and a
python-socketio client in another process (long-polling, which needs sticky sessions) are
connected to different web processes; both must receive the events of a training run that the
worker does. The proxy's access log says which process served what."""

from __future__ import annotations

import json
import os
import re
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests

from leanlife_server.auth import create_user, issue_token
from leanlife_server.db import db
from leanlife_server.web import DEFAULT_DIST
from tests.conftest import PASSWORD
from tests.nginx_site import NGINX, SITE, write_config
from tests.proxy_socket_client import session_from
from tests.test_jobs_support import redis_prefix  # noqa: F401 (a fixture used below)
from tests.test_jobs_support import (
    REDIS_URL,
    REPO,
    Process,
    free_port,
    process_env,
    start_server,
    start_worker,
    wait_until,
)
from tests.test_ui_harness import Rest, browser, login  # noqa: F401 (a fixture)
from tests.test_ui_push import LABELED, OPEN, ner_project

@dataclass
class Logged:
    remote: str
    status: int
    upstream: str
    request: str


class Nginx:
    def __init__(self, url: str, prefix: Path):
        self.url = url
        self.prefix = prefix

    def log(self) -> list[Logged]:
        lines = (self.prefix / "access.log").read_text().splitlines()
        return [Logged(remote, int(status), upstream, request)
                for remote, status, upstream, request in (line.split("|", 3) for line in lines)]

    def socket_upstream(self, source: str) -> str:
        """The web process the proxy sends Socket.IO requests from ``source`` to (a polling
        handshake, logged once answered)."""
        assert session_from(source).get(f"{self.url}/socket.io/?EIO=4&transport=polling", timeout=10).ok
        found = lambda: [e.upstream for e in self.log() if e.remote == source and "/socket.io/" in e.request]
        return wait_until(found, 5, f"the access log's line for {source}")[-1]


@contextmanager
def nginx(tmp_path: Path, backends: list[str]) -> Iterator[Nginx]:
    if not Path(NGINX).is_file():
        pytest.fail("nginx is missing; install Debian's package: apt-get install nginx (.ci/run does)",
                    pytrace=False)
    prefix = tmp_path / "nginx"
    port = free_port()
    process = Process(write_config(prefix, port, backends, access_log=True),
                      dict(os.environ), prefix / "stdout.log")
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        if process.handle.poll() is not None:
            error_log = prefix / "error.log"
            raise AssertionError(f"nginx exited:\n{process.output()}"
                                 f"{error_log.read_text() if error_log.exists() else ''}")
        try:
            return requests.get(f"{url}/api/v1/health", timeout=1).ok
        except (requests.ConnectionError, requests.Timeout):
            return False

    try:
        wait_until(up, 20, "nginx to answer")
        yield Nginx(url, prefix)
    finally:
        process.kill()


def other_source(proxy: Nginx, taken: str) -> tuple[str, str]:
    """A loopback address whose Socket.IO requests go to another web process than ``taken``,
    and that process."""
    for n in range(2, 40):
        source = f"127.0.0.{n}"
        upstream = proxy.socket_upstream(source)
        if upstream != taken:
            return source, upstream
    raise AssertionError("every client address went to one web process: is the upstream sticky by address?")


def socketio_event(payload: Any) -> tuple[str, Any] | None:
    """A Socket.IO event frame (``42["name",data]``) as (name, data); None for other frames."""
    if isinstance(payload, str) and payload.startswith("42["):
        name, *data = json.loads(payload[2:])
        return name, data[0] if data else None
    return None


def printed(client: Process) -> list[dict]:
    """The JSON objects the client printed; two may share a line (its event handlers run on
    separate threads, so one print can land before another's newline)."""
    decoder, found = json.JSONDecoder(), []
    for line in client.output().splitlines():
        at = 0
        while line.startswith("{", at):
            value, at = decoder.raw_decode(line, at)
            found.append(value)
    return found


def training_finished(event: dict | tuple) -> bool:
    name, data = (event["event"], event["data"]) if isinstance(event, dict) else event
    return name == "job" and data.get("kind") == "train" and data.get("state") == "finished"


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_browser_and_polling_client_on_two_web_processes_hear_the_worker(
        app, database_url, tmp_path, redis_prefix, browser):  # noqa: F811 (fixtures imported above)
    if not (DEFAULT_DIST / "index.html").is_file():
        pytest.fail(f"the UI is not built ({DEFAULT_DIST}); run: make install", pytrace=False)
    with app.app_context():
        tokens = {name: issue_token(create_user(name, PASSWORD, is_admin=name == "admin"),
                                    "proxy test")[1] for name in ("admin", "anna")}
        db.session.commit()
    # One database, one Redis and one secret key for every process, as docs/deploy.md says.
    env = process_env(tmp_path, {"database_url": database_url, "data_dir": tmp_path / "data",
                                 "secret_key": "proxy-test-secret", "redis_url": REDIS_URL,
                                 "redis_prefix": redis_prefix})
    started: list[Process] = []
    try:
        backends = []
        for _ in range(2):  # one after the other: the first one migrates the database
            server, url = start_server(env, tmp_path)
            started.append(server)
            backends.append(url.removeprefix("http://"))
        started.append(start_worker(env, tmp_path))
        with nginx(tmp_path, backends) as proxy:
            rest = {name: Rest(proxy.url, token) for name, token in tokens.items()}
            pid, ids = ner_project(rest["admin"])
            browser_backend = proxy.socket_upstream("127.0.0.1")  # Chromium connects from there
            source, client_backend = other_source(proxy, browser_backend)

            page = login(browser, proxy.url, "anna")
            frames: list[tuple[str, Any]] = []
            page.on("websocket", lambda ws: ws.on(
                "framereceived", lambda payload: frames.append((ws.url, payload))))
            page.goto(f"{proxy.url}/#/projects/{pid}/annotate/{ids[OPEN]}")
            page.locator("[data-testid=live]", has_text="live").wait_for(timeout=20_000)

            client = Process([sys.executable, "-m", "tests.proxy_socket_client", proxy.url,
                              tokens["anna"], str(pid), source], env, tmp_path / "socket-client.log")
            started.append(client)
            try:
                joined = wait_until(lambda: next((e for e in printed(client) if e["event"] == "joined"), None)
                                    or client.handle.poll() is not None, 20, "the Python client to join")
            except AssertionError as exc:
                raise AssertionError(f"{exc}; it printed:\n{client.output()}") from None
            assert joined is not True, f"the Python client stopped:\n{client.output()}"
            assert joined["data"] == {"ok": True}, joined

            # Anna's annotations, spread over both web processes, fire the retraining policy.
            for text, entities in LABELED:
                for word, label in entities:
                    start = text.index(word)
                    rest["anna"]("POST", f"/projects/{pid}/documents/{ids[text]}/annotations",
                                 {"label": label, "start": start, "end": start + len(word)})

            page.locator("[data-testid=training]", has_text="model v").wait_for(timeout=60_000)
            page.locator("[data-testid=recommendations] li").first.wait_for()

            def browser_heard() -> bool:
                page.wait_for_timeout(50)  # Playwright hands over the frames received meanwhile
                events = [socketio_event(p) for u, p in frames if "transport=websocket" in u]
                return any(e and training_finished(e) for e in events)

            wait_until(browser_heard, 30, "the browser to hear the training finish over a WebSocket")

            def heard() -> bool:
                assert client.handle.poll() is None, f"the Python client stopped:\n{client.output()}"
                return any(training_finished(e) for e in printed(client))

            wait_until(heard, 30, "the Python client to hear the training finish")
            page.context.close()  # nginx logs a WebSocket when it closes

            log = proxy.log()
            websockets = wait_until(lambda: [e for e in proxy.log() if e.remote == "127.0.0.1" and
                                             "transport=websocket" in e.request], 10, "the WebSocket's log line")
            assert {(e.status, e.upstream) for e in websockets} == {(101, browser_backend)}, websockets
            polls = [e for e in log if e.remote == source and "/socket.io/" in e.request]
            assert polls and {(e.status, e.upstream) for e in polls} == {(200, client_backend)}, polls
            served = {e.upstream for e in log if "/socket.io/" not in e.request}
            assert served == set(backends), f"the REST requests were spread over both processes: {served}"
    finally:
        for process in reversed(started):
            process.kill()


def test_the_deployment_guide_shows_the_tested_config():
    guide = (REPO / "docs" / "deploy.md").read_text()
    blocks = re.findall(r"^```nginx\n(.*?)^```", guide, re.DOTALL | re.MULTILINE)
    assert blocks == [SITE.read_text()], f"docs/deploy.md's nginx block differs from {SITE}: copy it over"
