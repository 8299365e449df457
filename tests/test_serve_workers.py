"""``leanlife serve --workers 4`` under load: a real gunicorn server (its master migrates and
creates the first admin before forking) on the test database, and many concurrent clients
logging in, reading and writing. No request may end in a 5xx answer or a dropped connection.
With Redis, Socket.IO clients on any worker must also hear of annotations saved by any other."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from tests.conftest import PASSWORD
from tests.test_jobs_support import redis_prefix  # noqa: F401  (a fixture used below)
from tests.test_jobs_support import (
    REDIS_URL,
    Listener,
    Process,
    free_port,
    leanlife_command,
    process_env,
    wait_until,
)

WORKERS = 4
THREADS_PER_WORKER = 8
USERS = 6
CLIENTS = 24
DOCUMENTS_PER_CLIENT = 4
WATCHED_CLIENTS = 2
TIMEOUT = 60


class Recorder:
    """Every answer's status, and every request that got no answer at all."""

    def __init__(self):
        self.lock = threading.Lock()
        self.statuses: Counter[int] = Counter()
        self.failures: list[str] = []

    def call(self, session: requests.Session, method: str, url: str, expect: int, **kwargs):
        try:
            response = session.request(method, url, timeout=TIMEOUT, **kwargs)
        except requests.RequestException as exc:
            with self.lock:
                self.failures.append(f"{method} {url}: no answer ({exc})")
            return None
        with self.lock:
            self.statuses[response.status_code] += 1
            if response.status_code != expect:
                self.failures.append(f"{method} {url}: {response.status_code} {response.text[:300]}")
        return response if response.status_code == expect else None


def start_server(env: dict[str, str], tmp_path: Path, recorder: Recorder) -> tuple[Process, str]:
    port = free_port()
    server = Process(leanlife_command("serve", "--port", str(port), "--workers", str(WORKERS),
                                      "--threads", str(THREADS_PER_WORKER)),
                     env, tmp_path / f"serve-{port}.log")
    url = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        if server.handle.poll() is not None:
            raise AssertionError(f"leanlife serve exited:\n{server.output()}")
        try:
            response = requests.get(f"{url}/api/v1/health", timeout=2)
        except requests.ConnectionError:
            return False
        if response.status_code >= 500:
            recorder.failures.append(f"GET /api/v1/health: {response.status_code} {response.text[:300]}")
        return True

    wait_until(answers, 60, "leanlife serve to answer")
    # Gunicorn forks its workers one after another; wait for all of them.
    wait_until(lambda: server.output().count("Booting worker") >= WORKERS, 60, f"{WORKERS} workers")
    return server, url


def client_session() -> requests.Session:
    """A client that opens a connection per request. Reusing one races gunicorn closing it
    after its keep-alive timeout (the request is then reset unanswered, which browsers retry);
    that is HTTP's, not the workers', and would make this test flaky on a loaded machine."""
    session = requests.Session()
    session.headers["Connection"] = "close"
    return session


def one_client(url: str, username: str, index: int, recorder: Recorder, watched: bool) -> None:
    """Log in twice (token and cookie session), create a project with labels and documents,
    annotate every document, and read everything back. When ``watched``, a Socket.IO client
    per document must hear of its annotation, whichever worker saved it."""
    api = client_session()
    credentials = {"username": username, "password": PASSWORD}
    token = recorder.call(api, "POST", f"{url}/api/v1/auth/token", 201,
                          json={**credentials, "name": f"client {index}"})
    browser = client_session()
    login = recorder.call(browser, "POST", f"{url}/api/v1/auth/login", 200, json=credentials)
    if login is not None:
        recorder.call(browser, "GET", f"{url}/api/v1/auth/me", 200)
        recorder.call(browser, "GET", f"{url}/api/v1/projects", 200)
    if token is None:
        return
    api.headers["Authorization"] = f"Bearer {token.json()['token']}"
    project = recorder.call(api, "POST", f"{url}/api/v1/projects", 201,
                            json={"name": f"load {index}", "task": "sa", "explanation_kind": "none"})
    if project is None:
        return
    base = f"{url}/api/v1/projects/{project.json()['id']}"
    for label in ("pos", "neg"):
        recorder.call(api, "POST", f"{base}/labels", 201, json={"name": label, "kind": "document"})
    documents = []
    for n in range(DOCUMENTS_PER_CLIENT):
        document = recorder.call(api, "POST", f"{base}/documents", 201,
                                 json={"text": f"review {n} from client {index}"})
        if document is not None:
            documents.append(document.json()["id"])
    listeners = [watch(url, api, project.json()["id"], d) for d in documents] if watched else []
    for document_id in documents:
        recorder.call(api, "POST", f"{base}/documents/{document_id}/annotations", 201,
                      json={"label": "pos" if document_id % 2 else "neg"})
        recorder.call(api, "GET", f"{base}/documents/{document_id}", 200)
        recorder.call(api, "GET", f"{base}/documents/{document_id}/annotations", 200)
    recorder.call(api, "GET", f"{base}/documents", 200)
    recorder.call(api, "GET", base, 200)
    recorder.call(browser, "GET", f"{base}/labels", 200)
    try:
        for listener, document_id in zip(listeners, documents):
            listener.wait_for("document_changed", lambda e: e["document_id"] == document_id)
    finally:
        for listener in listeners:
            listener.close()


def watch(url: str, api: requests.Session, project_id: int, document_id: int) -> Listener:
    """A Socket.IO client (on whichever worker it lands) viewing one document."""
    listener = Listener(url, api.headers["Authorization"].split()[1])
    answer = listener.client.call("view", {"project_id": project_id, "document_id": document_id},
                                  timeout=10)
    assert answer == {"ok": True}, answer
    return listener


@pytest.mark.parametrize("with_redis", [False, True], ids=["embedded", "redis"])
def test_serve_with_workers_answers_concurrent_clients_without_server_errors(
        make_caller, database_url, tmp_path, redis_prefix, with_redis):
    users = [f"user{i}" for i in range(USERS)]
    for username in users:  # also empties the test database first (the app fixture)
        make_caller(username)
    settings = {"database_url": database_url, "data_dir": tmp_path / "data", "secret_key": "test-secret"}
    if with_redis:  # Socket.IO goes through Redis, so every worker reaches every client
        settings.update(redis_url=REDIS_URL, redis_prefix=redis_prefix)
    recorder = Recorder()
    server, url = start_server(process_env(tmp_path, settings), tmp_path, recorder)
    try:
        with ThreadPoolExecutor(CLIENTS) as pool:
            for result in [pool.submit(one_client, url, users[i % USERS], i, recorder,
                                       with_redis and i < WATCHED_CLIENTS)
                           for i in range(CLIENTS)]:
                result.result()
        alive = server.handle.poll() is None
    finally:
        server.kill()
    log = server.output()
    assert alive, f"leanlife serve died under load:\n{log[-5000:]}"
    assert not recorder.failures, (f"{len(recorder.failures)} failed requests of "
                                   f"{sum(recorder.statuses.values())} ({dict(recorder.statuses)}), "
                                   f"first: {recorder.failures[:3]}\nserver log tail:\n{log[-3000:]}")
    expected = CLIENTS * (10 + 4 * DOCUMENTS_PER_CLIENT)  # the calls one_client makes
    assert sum(recorder.statuses.values()) == expected
    assert log.count("Booting worker") == WORKERS, f"a worker died and was replaced:\n{log[-5000:]}"
    assert "Traceback" not in log, log[-5000:]
    warned = f"warning: {WORKERS} workers without LEANLIFE_REDIS_URL" in log
    assert warned != with_redis
