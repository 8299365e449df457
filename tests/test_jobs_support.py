"""Helpers for the live-loop tests: the toy-model plugin as an installed distribution,
subprocess servers and workers, a private Redis key prefix, and a Socket.IO listener.
(This module holds no tests; it sits among the test modules it serves.)"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
import requests
import socketio

from tests import test_jobs_toy_models

REPO = Path(__file__).resolve().parents[1]
REDIS_URL = os.environ.get("LEANLIFE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def wait_until(condition: Callable[[], Any], timeout: float = 20.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def toy_plugin_path(tmp_path: Path) -> Path:
    """A directory that, on sys.path, makes the toy models an installed ``leanlife`` plugin."""
    site = tmp_path / "site"
    info = site / "leanlife_toy_models-0.1.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: leanlife-toy-models\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[leanlife]\ntoy = {test_jobs_toy_models.__name__}\n")
    return site


def process_env(tmp_path: Path, settings: dict[str, Any]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEANLIFE_")}
    env["PYTHONPATH"] = os.pathsep.join([str(toy_plugin_path(tmp_path)), str(REPO)])
    env.update({f"LEANLIFE_{k.upper()}": str(v) for k, v in settings.items()})
    return env


def leanlife_command(*args: str) -> list[str]:
    return [sys.executable, "-c", "from leanlife_server.cli import main; main()", *args]


class Process:
    """A subprocess in its own session, stopped by its own process id."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path, cwd: Path = REPO):
        self.log = log
        self.handle = subprocess.Popen(args, env=env, cwd=cwd, stdout=log.open("wb"),
                                       stderr=subprocess.STDOUT, start_new_session=True)

    def kill(self) -> None:
        """SIGKILL the process group this process leads (a server's workers die with it)."""
        if self.handle.poll() is None:
            os.killpg(self.handle.pid, signal.SIGKILL)
        self.handle.wait(10)

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def start_server(env: dict[str, str], tmp_path: Path, workers: int = 1, cwd: Path = REPO) -> tuple[Process, str]:
    port = free_port()
    server = Process(leanlife_command("serve", "--port", str(port), "--threads", "16",
                                      "--workers", str(workers)), env, tmp_path / f"serve-{port}.log", cwd)
    url = f"http://127.0.0.1:{port}"

    def up():
        if server.handle.poll() is not None:
            raise AssertionError(f"leanlife serve exited:\n{server.output()}")
        try:
            return requests.get(f"{url}/api/v1/health", timeout=1).ok
        except (requests.ConnectionError, requests.Timeout):  # still booting, or a busy machine
            return False

    wait_until(up, 30, "leanlife serve to answer")
    # Gunicorn forks its workers one after another; wait for all of them.
    wait_until(lambda: server.output().count("Booting worker") >= workers, 60, f"{workers} workers")
    return server, url


def start_worker(env: dict[str, str], tmp_path: Path, cwd: Path = REPO) -> Process:
    return Process(leanlife_command("worker"), env, tmp_path / f"worker-{uuid.uuid4().hex[:6]}.log", cwd)


@pytest.fixture
def redis_prefix():
    """A key prefix no other test run uses; its keys are deleted afterwards."""
    import redis

    prefix = f"leanlife-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    yield prefix
    connection = redis.Redis.from_url(REDIS_URL)
    keys = list(connection.scan_iter(match=f"*{prefix}*"))
    if keys:
        connection.delete(*keys)


class Listener:
    """A real Socket.IO client that records every event it receives."""

    def __init__(self, url: str, token: str):
        self.events: list[tuple[str, Any]] = []
        self.lock = threading.Lock()
        self.client = socketio.Client(reconnection=False)
        self.client.on("*", self._record)
        self.client.connect(url, auth={"token": token}, transports=["websocket"], wait_timeout=10)

    def _record(self, event: str, data: Any) -> None:
        with self.lock:
            self.events.append((event, data))

    def join(self, project_id: int) -> dict:
        return self.client.call("join", {"project_id": project_id}, timeout=10)

    def named(self, event: str) -> list[Any]:
        with self.lock:
            return [data for name, data in self.events if name == event]

    def wait_for(self, event: str, predicate: Callable[[Any], bool] = lambda d: True,
                 timeout: float = 30.0) -> Any:
        return wait_until(lambda: next((d for d in self.named(event) if predicate(d)), None),
                          timeout, f"a {event!r} event")

    def close(self) -> None:
        self.client.disconnect()


class Api:
    """``requests`` against a running server as one user."""

    def __init__(self, url: str, token: str):
        self.url = url
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def __getattr__(self, method: str):
        def call(path: str, **kwargs):
            return self.session.request(method.upper(), self.url + path, timeout=30, **kwargs)
        return call


def sentiment_project(owner, documents: int = 40, policy: dict | None = None, config: dict | None = None) -> dict:
    """An SA project with the toy classifier and ``documents`` unlabeled reviews."""
    from tests.conftest import create_project

    project = create_project(owner, "sa", labels=test_jobs_toy_models.SENTIMENT_LABELS)
    r = owner.patch(f"/api/v1/projects/{project['id']}/settings", json={
        "model": "toy.bow.v1", "model_config": config or {}, "recommenders": ["toy.bow.v1"],
        "retrain_policy": policy or {"mode": "manual"}})  # the toy alone: its versions, its jobs
    assert r.status_code == 200, r.get_json()
    texts = test_jobs_toy_models.POSITIVE + test_jobs_toy_models.NEGATIVE
    r = owner.post(f"/api/v1/projects/{project['id']}/documents",
                   json={"documents": [{"text": f"{texts[i % len(texts)]} {i}"} for i in range(documents)]})
    assert r.status_code == 201, r.get_json()
    project["documents"] = [d["id"] for d in r.get_json()["items"]]
    return project


def gold_label(text: str) -> str:
    return "pos" if any(text.startswith(t) for t in test_jobs_toy_models.POSITIVE) else "neg"


@pytest.fixture
def live_server(app, database_url, tmp_path) -> Iterator[str]:
    """A real `leanlife serve` process on the test database; the URL. Uses the test module's
    ``app`` fixture, so its tables are emptied first."""
    env = process_env(tmp_path, {"database_url": database_url, "data_dir": tmp_path / "data",
                                 "secret_key": "test-secret"})
    process, url = start_server(env, tmp_path)
    yield url
    process.kill()


def train_and_collect_recommendations(url: str, api: Api, project_id: int) -> list[dict]:
    """Train the project's model now and return the documents of every `recommendations`
    event pushed to the project's room until the job ends (it must finish, not fail)."""
    listener = Listener(url, api.session.headers["Authorization"].split()[1])
    try:
        assert listener.join(project_id) == {"ok": True}
        started = api.post(f"/api/v1/projects/{project_id}/model/train")
        assert started.status_code == 202, started.text
        job_id = started.json()["id"]
        # Cheap recommenders' jobs (retrained on every save) may end meanwhile: wait for this one.
        finished = listener.wait_for("job", lambda d: d["id"] == job_id and d["state"] in ("finished", "failed"),
                                     timeout=240)
        assert finished["state"] == "finished", finished
        return [d for event in listener.named("recommendations") for d in event["documents"]]
    finally:
        listener.close()
