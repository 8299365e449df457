"""Embedded imports run in a child process of the web process (LEANLIFE_CHILD_PROCESS_LANES):
they finish or fail as in a thread, their events reach the web process's browsers, a killed
child or a stopping server fails the job and publishes nothing, and a child outlives no parent."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import pytest

from leanlife_server.jobs import RUNNER_KEY
from leanlife_server.jobs import child as child_module
from leanlife_server.jobs.child_main import CHILD_NICENESS
from leanlife_server.jobs.runners import child_lanes
from leanlife_server.realtime import EMITTER_KEY
from tests import test_jobs_toy_models
from tests.conftest import create_project
from tests.test_jobs_support import REPO, wait_until

ENDED = ("finished", "failed")


class RecordingEmitter:
    """Stands in for the web process's Socket.IO server: keeps what it was asked to send."""

    def __init__(self):
        self.events: list[tuple[str, dict, str]] = []

    def emit(self, event: str, data, room: str) -> None:
        self.events.append((event, data, room))


@pytest.fixture
def app(make_app):
    return make_app({"small_import_bytes": 0})  # every import goes to the imports lane


@pytest.fixture
def children(monkeypatch) -> list[subprocess.Popen]:
    """The child processes started, in order."""
    started: list[subprocess.Popen] = []
    popen = subprocess.Popen

    def spawn(*args, **kwargs):
        started.append(popen(*args, **kwargs))
        return started[-1]

    monkeypatch.setattr(child_module.subprocess, "Popen", spawn)
    return started


def upload(caller, project_id: int, name: str, text: str, **form) -> dict:
    response = caller.post(f"/api/v1/projects/{project_id}/imports",
                           data={"file": (io.BytesIO(text.encode()), name), **form},
                           content_type="multipart/form-data")
    assert response.status_code == 202, response.get_json()
    return response.get_json()


def ended(caller, project_id: int, job_id: int, timeout: float = 120) -> dict:
    def row():
        job = caller.get(f"/api/v1/projects/{project_id}/jobs/{job_id}").get_json()
        return job if job["state"] in ENDED else None

    return wait_until(row, timeout, f"job {job_id} to end")


def documents(caller, project_id: int) -> int:
    return caller.get(f"/api/v1/projects/{project_id}/documents?limit=1&count=true").get_json()["total"]


def test_an_import_runs_in_a_child_and_its_events_reach_the_server(app, make_caller, children):
    owner = make_caller("owner")
    project = create_project(owner, "sa")
    emitter = RecordingEmitter()
    app.extensions[EMITTER_KEY] = emitter

    job = upload(owner, project["id"], "reviews.txt", "".join(f"review {i}\n" for i in range(50)),
                 format="text")
    row = ended(owner, project["id"], job["id"])

    assert row["state"] == "finished" and row["result"]["documents"] == 50, row
    assert len(children) == 1 and children[0].pid != os.getpid()
    assert children[0].wait(10) == 0
    def states() -> list[str]:
        sent = [data["state"] for event, data, _ in emitter.events if event == "job" and data["id"] == job["id"]]
        return [state for i, state in enumerate(sent) if i == 0 or state != sent[i - 1]]

    # "queued" is sent by the web process; "running" (with progress) and "finished" came
    # through the child's pipe, and the relay may be a moment behind the job's row.
    wait_until(lambda: states()[-1] == "finished", 10, "the finished event")
    assert states() == ["queued", "running", "finished"], states()
    assert documents(owner, project["id"]) == 50


def test_an_import_that_fails_in_a_child_says_where(app, make_caller, children):
    owner = make_caller("owner")
    project = create_project(owner, "sa")
    job = upload(owner, project["id"], "reviews.jsonl", '{"text": "fine"}\n{"text": \n', format="jsonl")
    row = ended(owner, project["id"], job["id"])

    assert row["state"] == "failed" and "line 2" in row["error"], row
    assert len(children) == 1
    assert documents(owner, project["id"]) == 0


@pytest.mark.parametrize("how", ["child killed", "server stopped"])
def test_an_interrupted_child_fails_its_job_and_publishes_nothing(app, make_caller, children, how):
    owner = make_caller("owner")
    project = create_project(owner, "sa")
    # Big enough to be still running when it is interrupted (tens of seconds).
    job = upload(owner, project["id"], "many.txt", "".join(f"review number {i}\n" for i in range(400_000)),
                 format="text")
    wait_until(lambda: owner.get(f"/api/v1/projects/{project['id']}/jobs/{job['id']}")
               .get_json()["state"] == "running", 60, "the import to start")

    if how == "child killed":
        children[0].kill()
        expected = "ended with status -9"
    else:
        app.extensions[RUNNER_KEY].stop()
        expected = "the server stopped while it ran"
    row = ended(owner, project["id"], job["id"], timeout=30)

    assert row["state"] == "failed" and expected in row["error"], row
    assert children[0].wait(10) == -9
    assert documents(owner, project["id"]) == 0


def test_a_child_ends_when_its_parent_dies(tmp_path):
    # A parent that starts a watching child, prints its pid and dies (SIGKILL, as a killed server).
    # It dies at once, so the child may find it gone before it starts watching.
    script = (
        "import os, signal, subprocess, sys\n"
        "watch = 'import sys, time; from leanlife_server.jobs.child_main import end_with_parent; "
        "end_with_parent(int(sys.argv[1])); time.sleep(120)'\n"
        "child = subprocess.Popen([sys.executable, '-c', watch, str(os.getpid())], "
        "stdout=subprocess.DEVNULL)\n"
        "print(child.pid, flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    parent = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True,
                            timeout=60, env={**os.environ, "PYTHONPATH": str(REPO)})
    orphan = int(parent.stdout.split()[0])

    def gone() -> bool:
        try:
            os.kill(orphan, 0)
        except ProcessLookupError:
            return True
        # A zombie of a reaped-by-init child also counts as ended: read its state.
        with open(f"/proc/{orphan}/stat") as stat:
            return stat.read().split(") ")[1].startswith("Z")

    wait_until(gone, 10, "the child of a dead parent to end")


def test_apps_with_plugin_objects_or_bad_lanes_keep_jobs_in_threads(make_app):
    assert child_lanes(make_app()) == ("imports",)
    assert child_lanes(make_app({"child_process_lanes": ""})) == ()
    assert child_lanes(make_app(extra_plugins=[test_jobs_toy_models])) == ()
    with pytest.raises(ValueError, match="unknown job lane"):
        child_lanes(make_app({"child_process_lanes": "imports,nightly"}))


def test_a_child_yields_the_cpu_to_the_server():
    # What main() calls first: the child's niceness rises by CHILD_NICENESS (capped at 19).
    code = ("import os; from leanlife_server.jobs.child_main import lower_priority; "
            "before = os.nice(0); lower_priority(); print(before, os.nice(0))")
    before, after = map(int, subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                            check=True).stdout.split())
    assert after == min(19, before + CHILD_NICENESS)
