"""Nobody's jobs starve everyone else's: per-user and per-project limits on queued and
running jobs (429 with Retry-After), and lanes, so that small imports and exports and the
live loop's training never wait behind big exports or imports, in-process and on Redis.

Big jobs are held deterministically by a test-only format (``held``) whose exporter and
importer wait for a gate this test opens, so "a small job finished while every big one was
still running" is a fact checked, not a race won."""

from __future__ import annotations

import io
import json
import sys
import threading
from typing import Iterable, Iterator

import pluggy
import pytest
from rq.job import Job as RQJob

from leanlife_server.db import db
from leanlife_server.db.models import Job, utcnow
from leanlife_server.plugin_api import DocumentRecord, FormatContext, FormatDefinition, ImportSource
from tests import test_jobs_toy_models
from tests.conftest import create_project
from tests.test_jobs_support import redis_prefix  # noqa: F401  (a fixture used below)
from tests.test_jobs_support import (
    REDIS_URL,
    Api,
    Process,
    gold_label,
    leanlife_command,
    process_env,
    sentiment_project,
    start_server,
    start_worker,
    wait_until,
)

hookimpl = pluggy.HookimplMarker("leanlife")
# Sizes the lanes tell apart (test settings): a project of more than 5 documents exports in
# the "exports" lane, a file of more than 200 bytes imports in the "imports" lane.
SIZES = {"small_export_documents": 5, "small_import_bytes": 200}
GATE = threading.Event()  # set: held exports and imports may go on
HELD = threading.Semaphore(0)  # released once by each held job as it starts waiting
ENDED = ("finished", "failed")
HOLD_AT_MOST = 300  # seconds: a held job gives up then, so a failing test cannot hang


def held_export(records: Iterable[DocumentRecord], context: FormatContext) -> Iterator[str]:
    HELD.release()
    GATE.wait(HOLD_AT_MOST)
    for record in records:
        yield json.dumps({"text": record.text}) + "\n"


def held_import(source: ImportSource) -> Iterator[DocumentRecord]:
    HELD.release()
    GATE.wait(HOLD_AT_MOST)
    for number, line in source.lines():
        if line.strip():
            yield DocumentRecord(line, location=f"line {number}")


@hookimpl
def leanlife_formats() -> list[FormatDefinition]:
    here = __name__
    return [FormatDefinition("held", ("ner", "sa", "re"), f"{here}:held_import", f"{here}:held_export",
                             ("held",), "a format whose jobs wait for the test's gate")]


@pytest.fixture
def gate():
    """A closed gate; opened at the end whatever happens, so no job thread is left waiting."""
    GATE.clear()
    while HELD.acquire(blocking=False):
        pass
    yield GATE
    GATE.set()


def wait_held(count: int) -> None:
    """Block until ``count`` more held jobs are running (waiting at the gate)."""
    for _ in range(count):
        assert HELD.acquire(timeout=30), "a held job did not start"


def job(caller, project_id: int, job_id: int) -> dict:
    return caller.get(f"/api/v1/projects/{project_id}/jobs/{job_id}").get_json()


def finished(caller, project_id: int, job_id: int, timeout: float = 60) -> dict:
    """The job once it ended; it must have finished, not failed."""
    ended = wait_until(lambda: (j := job(caller, project_id, job_id))["state"] in ENDED and j,
                       timeout, f"job {job_id} to end")
    assert ended["state"] == "finished", ended
    return ended


def upload(caller, project_id: int, name: str, text: str, **form):
    return caller.post(f"/api/v1/projects/{project_id}/imports",
                       data={"file": (io.BytesIO(text.encode()), name), **form},
                       content_type="multipart/form-data")


def lines(count: int, word: str = "review") -> str:
    return "".join(f"{word} number {i}\n" for i in range(count))


def project_with_documents(owner, documents: int, task: str = "sa") -> dict:
    project = create_project(owner, task)
    r = owner.post(f"/api/v1/projects/{project['id']}/documents",
                   json={"documents": [{"text": f"document {i}"} for i in range(documents)]})
    assert r.status_code == 201, r.get_json()
    return project


def start_export(caller, project_id: int, format_name: str = "held"):
    return caller.post(f"/api/v1/projects/{project_id}/exports", json={"format": format_name})


def accepted(response) -> dict:
    assert response.status_code == 202, response.get_json()
    return response.get_json()


def states(caller, project_id: int, jobs: list[dict]) -> list[str]:
    return [job(caller, project_id, j["id"])["state"] for j in jobs]


@pytest.fixture
def app(make_app, request):
    """The app, with the test's settings (``parametrize("app", [settings], indirect=True)``)
    on top of ``SIZES``, the held format and the toy models."""
    return make_app({**SIZES, **getattr(request, "param", {})},
                    extra_plugins=[sys.modules[__name__], test_jobs_toy_models])


# In-process lanes ----------------------------------------------------------------------------

def test_big_exports_hold_up_no_small_job_no_import_and_no_training(gate, make_caller):
    hog, other = make_caller("hog"), make_caller("other")
    # Four big projects (jobs of one project and kind would run one after the other anyway).
    bigs = [project_with_documents(hog, 10) for _ in range(4)]
    exports = [accepted(start_export(hog, big["id"])) for big in bigs]
    wait_held(2)  # the exports lane's threads are both taken; two more exports wait behind them

    mine, few = sentiment_project(other, documents=12), project_with_documents(other, 3)
    small_import = accepted(upload(other, mine["id"], "few.txt", "one line\n", format="text"))
    big_import = accepted(upload(other, mine["id"], "many.txt", lines(40), format="text"))
    assert len(lines(40)) > SIZES["small_import_bytes"]
    small_export = accepted(start_export(other, few["id"], "jsonl"))
    for index in (0, 8, 1, 9):  # two positive and two negative reviews
        document_id = mine["documents"][index]
        text = other.get(f"/api/v1/projects/{mine['id']}/documents/{document_id}").get_json()["text"]
        assert other.post(f"/api/v1/projects/{mine['id']}/documents/{document_id}/annotations",
                          json={"label": gold_label(text)}).status_code == 201
    training = accepted(other.post(f"/api/v1/projects/{mine['id']}/model/train"))

    assert finished(other, mine["id"], small_import["id"])["result"]["documents"] == 1
    assert finished(other, mine["id"], big_import["id"])["result"]["documents"] == 40
    finished(other, few["id"], small_export["id"])
    assert finished(other, mine["id"], training["id"])["model_version_id"]
    held = [job(hog, big["id"], export["id"])["state"] for big, export in zip(bigs, exports)]
    assert sorted(held) == ["queued", "queued", "running", "running"], "the big exports were all still held"

    gate.set()
    for big, export in zip(bigs, exports):
        finished(hog, big["id"], export["id"])


def test_jobs_waiting_for_their_projects_turn_leave_the_lane_to_other_projects(gate, make_caller):
    busy, other = make_caller("busy"), make_caller("other")
    project = create_project(busy, "sa")
    held = accepted(upload(busy, project["id"], "held.held", lines(40), format="held"))
    wait_held(1)  # a big import of the project runs (imports lane)
    # Two small imports of the same project must wait for it: in the small lane, they must
    # not sit on its two threads meanwhile.
    waiting = [accepted(upload(busy, project["id"], f"w{i}.txt", "a line\n", format="text"))
               for i in range(2)]
    theirs = create_project(other, "sa")
    quick = accepted(upload(other, theirs["id"], "quick.txt", "quick line\n", format="text"))

    finished(other, theirs["id"], quick["id"])
    assert states(busy, project["id"], [held, *waiting]) == ["running", "queued", "queued"]
    gate.set()
    for j in (held, *waiting):
        finished(busy, project["id"], j["id"])


# Limits ---------------------------------------------------------------------------------------

LIMITS = {"max_jobs_per_user": 2, "max_jobs_per_project": 3}


def refused(response, setting: str) -> dict:
    assert response.status_code == 429, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == "too_many_jobs"
    assert setting in error["message"] and error["details"]["setting"] == setting
    assert int(response.headers["Retry-After"]) == error["details"]["retry_after"] > 0
    return error


@pytest.mark.parametrize("app", [LIMITS], indirect=True, ids=["limits"])
def test_a_user_and_a_project_are_refused_jobs_past_their_limits_until_one_finishes(gate, make_caller):
    owner, colleague, third = make_caller("owner"), make_caller("colleague"), make_caller("third")
    shared = project_with_documents(owner, 10)
    for name in ("colleague", "third"):
        assert owner.post(f"/api/v1/projects/{shared['id']}/members",
                          json={"username": name, "role": "annotator"}).status_code == 201
    first = [accepted(start_export(owner, shared["id"])) for _ in range(2)]

    error = refused(start_export(owner, shared["id"]), "LEANLIFE_MAX_JOBS_PER_USER")
    assert "you have 2 queued or running jobs" in error["message"] and error["details"]["limit"] == 2
    refused(upload(owner, shared["id"], "a.txt", "a line\n", format="text"), "LEANLIFE_MAX_JOBS_PER_USER")
    elsewhere = create_project(owner, "sa")
    refused(upload(owner, elsewhere["id"], "a.txt", "a line\n", format="text"), "LEANLIFE_MAX_JOBS_PER_USER")

    third_job = accepted(start_export(colleague, shared["id"]))
    error = refused(start_export(third, shared["id"]), "LEANLIFE_MAX_JOBS_PER_PROJECT")
    assert f"project {shared['id']} has 3 queued or running jobs" in error["message"]
    own = project_with_documents(third, 2)
    finished(third, own["id"], accepted(start_export(third, own["id"], "jsonl"))["id"])

    gate.set()
    for j in first:
        finished(owner, shared["id"], j["id"])
    finished(colleague, shared["id"], third_job["id"])
    finished(owner, shared["id"], accepted(start_export(owner, shared["id"], "jsonl"))["id"])


@pytest.mark.parametrize("app", [LIMITS], indirect=True, ids=["limits"])
def test_jobs_of_dead_workers_and_ended_jobs_hold_no_place(app, make_caller):
    owner = make_caller("owner")
    project = project_with_documents(owner, 2)
    with app.app_context():
        stale = utcnow().replace(year=2000)
        db.session.add_all([Job(project_id=project["id"], kind="export", user_id=owner.user_id,
                                state=state, heartbeat_at=stale, params={}, result={})
                            for state in ("running", "running", "failed", "finished")])
        db.session.commit()
    for _ in range(2):
        finished(owner, project["id"], accepted(start_export(owner, project["id"], "jsonl"))["id"])


# Redis: `leanlife worker` serves every lane ----------------------------------------------------

@pytest.fixture
def redis_stack(app, database_url, tmp_path, redis_prefix):
    """A `leanlife serve` on Redis; the test starts its workers. Everything stops afterwards."""
    env = process_env(tmp_path, {"database_url": database_url, "data_dir": tmp_path / "data",
                                 "secret_key": "test-secret", "redis_url": REDIS_URL,
                                 "redis_prefix": redis_prefix, **SIZES})
    server, url = start_server(env, tmp_path)
    started = [server]
    yield url, env, started
    for process in reversed(started):
        process.kill()


def api_project(api: Api, documents: int) -> dict:
    project = api.post("/api/v1/projects", json={"name": "reviews", "task": "sa"}).json()
    for name, kind in test_jobs_toy_models.SENTIMENT_LABELS:
        assert api.post(f"/api/v1/projects/{project['id']}/labels", json={"name": name, "kind": kind}).ok
    if documents:
        texts = test_jobs_toy_models.POSITIVE + test_jobs_toy_models.NEGATIVE
        r = api.post(f"/api/v1/projects/{project['id']}/documents", json={"documents": [
            {"text": f"{texts[i % len(texts)]} {i}"} for i in range(documents)]})
        assert r.status_code == 201, r.text
        project["documents"] = [(d["id"], d["text"]) for d in r.json()["items"]]
    return project


def api_upload(api: Api, project_id: int, name: str, text: str) -> dict:
    r = api.post(f"/api/v1/projects/{project_id}/imports", files={"file": (name, text.encode())},
                 data={"format": "text"})
    assert r.status_code == 202, r.text
    return r.json()


def api_finished(api: Api, project_id: int, job_id: int, timeout: float = 120) -> dict:
    ended = wait_until(lambda: (j := api.get(f"/api/v1/projects/{project_id}/jobs/{job_id}").json())["state"]
                       in ENDED and j, timeout, f"job {job_id} to end")
    assert ended["state"] == "finished", ended
    return ended


def queue_of(redis_prefix: str, job_id: int) -> str:
    import redis

    return RQJob.fetch(f"{redis_prefix}-job-{job_id}", connection=redis.Redis.from_url(REDIS_URL)).origin


def test_a_worker_serves_every_lane(redis_stack, make_caller, tmp_path, redis_prefix):
    url, env, started = redis_stack
    started.append(start_worker(env, tmp_path))
    api = Api(url, make_caller("owner").token)
    big, small = api_project(api, 10), api_project(api, 0)
    assert api.patch(f"/api/v1/projects/{big['id']}/settings", json={"model": "toy.bow.v1"}).ok
    for document_id, text in big["documents"][:4]:
        assert api.post(f"/api/v1/projects/{big['id']}/documents/{document_id}/annotations",
                        json={"label": gold_label(text)}).status_code == 201
    jobs = {
        "small": (small, api_upload(api, small["id"], "few.txt", "one line\n")),
        "imports": (small, api_upload(api, small["id"], "many.txt", lines(40))),
        "exports": (big, api.post(f"/api/v1/projects/{big['id']}/exports", json={"format": "jsonl"}).json()),
        "model": (big, api.post(f"/api/v1/projects/{big['id']}/model/train").json()),
    }
    for lane, (project, queued) in jobs.items():
        assert queue_of(redis_prefix, queued["id"]) == f"{redis_prefix}-jobs-{lane}"
        api_finished(api, project["id"], queued["id"])


def test_a_worker_of_one_lane_serves_only_it(redis_stack, make_caller, tmp_path, redis_prefix):
    url, env, started = redis_stack
    started.append(Process(leanlife_command("worker", "--lane", "small"), env, tmp_path / "small-worker.log"))
    api = Api(url, make_caller("owner").token)
    big, small = api_project(api, 10), api_project(api, 0)
    export = api.post(f"/api/v1/projects/{big['id']}/exports", json={"format": "jsonl"}).json()
    for name in ("first.txt", "second.txt"):  # a worker of every lane takes the export in between
        api_finished(api, small["id"], api_upload(api, small["id"], name, "one line\n")["id"])
    assert api.get(f"/api/v1/projects/{big['id']}/jobs/{export['id']}").json()["state"] == "queued", \
        "no worker serves the exports lane yet"
    started.append(start_worker(env, tmp_path))
    api_finished(api, big["id"], export["id"])
