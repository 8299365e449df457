"""The live loop at scale, for real: a `leanlife serve` process and `leanlife worker`
processes on Redis, watched through a Socket.IO client. Includes the fault tests: a worker
killed mid-training, and Redis stopped and started again."""

from __future__ import annotations

import subprocess

import pytest

from tests import test_jobs_toy_models
from tests.test_jobs_support import redis_prefix  # noqa: F401  (a fixture used below)
from tests.test_jobs_support import (
    REDIS_URL,
    Api,
    Listener,
    Process,
    free_port,
    gold_label,
    process_env,
    start_server,
    start_worker,
    wait_until,
)

# Kept short so that a killed worker's job is noticed within seconds.
HEARTBEAT = {"job_heartbeat_seconds": 1, "job_heartbeat_timeout": 2}


@pytest.fixture
def app(make_app):
    return make_app(extra_plugins=[test_jobs_toy_models])


@pytest.fixture
def stack(app, database_url, tmp_path, redis_prefix):
    """Start a server and workers on one database and Redis; everything stops afterwards."""
    started: list[Process] = []

    def start(redis_url: str = REDIS_URL, workers: int = 1):
        env = process_env(tmp_path, {"database_url": database_url, "data_dir": tmp_path / "data",
                                     "secret_key": "test-secret", "redis_url": redis_url,
                                     "redis_prefix": redis_prefix, **HEARTBEAT})
        server, url = start_server(env, tmp_path)
        started.append(server)
        for _ in range(workers):
            started.append(start_worker(env, tmp_path))
        return url, env

    yield start, started
    for process in reversed(started):
        process.kill()  # test processes keep nothing in memory that the database lacks


def sa_project(api: Api, documents: int, policy: dict, config: dict | None = None,
               strategy: str | None = None) -> dict:
    """An SA project on the toy classifier. The fault tests rank at random: modAL's imports
    (scikit-learn, pandas, torch) cost each fresh worker seconds that those tests don't need."""
    project = api.post("/api/v1/projects", json={"name": "reviews", "task": "sa"}).json()
    for name, kind in test_jobs_toy_models.SENTIMENT_LABELS:
        assert api.post(f"/api/v1/projects/{project['id']}/labels", json={"name": name, "kind": kind}).ok
    assert api.patch(f"/api/v1/projects/{project['id']}/settings", json={
        "model": "toy.bow.v1", "retrain_policy": policy, "model_config": config or {},
        "query_strategy": strategy, "recommenders": ["toy.bow.v1"]}).ok  # the toy's jobs alone
    texts = test_jobs_toy_models.POSITIVE + test_jobs_toy_models.NEGATIVE
    r = api.post(f"/api/v1/projects/{project['id']}/documents", json={"documents": [
        {"text": f"{texts[i % len(texts)]} {i}"} for i in range(documents)]})
    assert r.status_code == 201, r.text
    project["documents"] = [(d["id"], d["text"]) for d in r.json()["items"]]
    return project


def annotate(api: Api, project: dict, index: int) -> None:
    document_id, text = project["documents"][index]
    r = api.post(f"/api/v1/projects/{project['id']}/documents/{document_id}/annotations",
                 json={"label": gold_label(text)})
    assert r.status_code == 201, r.text


def job_state(api: Api, project: dict, job_id: int) -> dict:
    return api.get(f"/api/v1/projects/{project['id']}/jobs/{job_id}").json()


def test_annotating_fires_the_policy_and_pushes_training_recommendations_and_queue(stack, make_caller):
    owner, outsider = make_caller("owner"), make_caller("outsider")
    url, _ = stack[0](workers=1)
    api = Api(url, owner.token)
    project = sa_project(api, 60, {"mode": "every_n", "n": 4}, {"epochs": 3, "seconds_per_epoch": 0.2})
    other = sa_project(Api(url, outsider.token), 5, {"mode": "every_n", "n": 1})
    listener, snoop = Listener(url, owner.token), Listener(url, outsider.token)
    try:
        assert listener.join(project["id"]) == {"ok": True}
        assert snoop.join(project["id"])["ok"] is False, "outsiders may not join a project's room"
        assert snoop.join(other["id"]) == {"ok": True}
        for index in (0, 8, 1, 9):  # two positive and two negative reviews
            annotate(api, project, index)
        finished = listener.wait_for("job", lambda d: d["state"] == "finished")
        states = [d["state"] for d in listener.named("job")]
        assert states[0] == "queued" and "running" in states
        assert any(d["result"].get("details", {}).get("epoch") for d in listener.named("job")), \
            "training progress (epochs) is pushed"
        version_id = finished["result"]["model_version_id"]
        model = listener.wait_for("model")
        assert model["version"]["id"] == version_id and model["version"]["is_active"]
        pushed = {d["document_id"]: d for e in listener.named("recommendations") for d in e["documents"]}
        assert len(pushed) == 56 and all(e["model_version_id"] == version_id
                                         for e in listener.named("recommendations"))
        correct = sum(d["annotations"][0]["label"] == gold_label(text)
                      for document_id, text in project["documents"] if (d := pushed.get(document_id)))
        assert correct >= 40, f"{correct}/56 recommendations right"
        queue = listener.wait_for("queue", lambda d: d["project_id"] == project["id"])["documents"]
        scores = [item["score"] for item in queue]
        assert len(queue) == 20 and scores == sorted(scores, reverse=True), "the queue is re-ranked"
        top = api.get(f"/api/v1/projects/{project['id']}/queue/next").json()
        assert top["id"] == queue[0]["document_id"]
        assert not [e for e in snoop.events if e[1].get("project_id") == project["id"]], \
            "nobody receives another project's events"
    finally:
        listener.close()
        snoop.close()


def test_a_worker_killed_mid_training_fails_its_job_and_the_next_trigger_retrains(stack, make_caller, tmp_path):
    owner = make_caller("owner")
    start, started = stack
    url, env = start(workers=1)
    worker = started[1]
    api = Api(url, owner.token)
    project = sa_project(api, 20, {"mode": "manual"}, strategy="random")
    for index in (0, 8, 1, 9):
        annotate(api, project, index)
    queued = api.post(f"/api/v1/projects/{project['id']}/model/train").json()
    first = wait_until(lambda: (j := job_state(api, project, queued["id"]))["state"] == "finished" and j,
                       what="version 1")
    api.patch(f"/api/v1/projects/{project['id']}/settings",
              json={"model_config": {"epochs": 40, "seconds_per_epoch": 0.25}})
    doomed = api.post(f"/api/v1/projects/{project['id']}/model/train").json()
    wait_until(lambda: job_state(api, project, doomed["id"])["progress"] > 0, what="training to progress")
    worker.kill()
    failed = wait_until(lambda: (j := job_state(api, project, doomed["id"]))["state"] == "failed" and j,
                        timeout=15, what="the killed job to fail")
    assert "heartbeat" in failed["error"]
    versions = api.get(f"/api/v1/projects/{project['id']}/model/versions").json()["items"]
    assert [(v["id"], v["is_active"]) for v in versions] == [(first["result"]["model_version_id"], True)]
    started.append(start_worker(env, tmp_path))
    api.patch(f"/api/v1/projects/{project['id']}/settings",
              json={"model_config": {}, "retrain_policy": {"mode": "every_n", "n": 1}})
    annotate(api, project, 2)
    status = wait_until(lambda: (s := api.get(f"/api/v1/projects/{project['id']}/model").json())
                        ["active_version"]["id"] != first["result"]["model_version_id"] and s,
                        what="the next trigger to retrain")
    assert status["active_version"]["data_counts"]["labeled"] == 5


def test_annotating_goes_on_while_redis_is_down_and_training_resumes(stack, make_caller, tmp_path):
    owner = make_caller("owner")
    port = free_port()

    def start_redis() -> Process:
        redis = Process(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                         "--appendonly", "no"], {"PATH": "/usr/bin:/bin"}, tmp_path / f"redis-{port}.log")
        wait_until(lambda: subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True,
                                          text=True).stdout.strip() == "PONG", what="redis-server")
        return redis

    redis = start_redis()
    start, started = stack
    url, _ = start(redis_url=f"redis://127.0.0.1:{port}/0", workers=1)
    api = Api(url, owner.token)
    project = sa_project(api, 20, {"mode": "every_n", "n": 3}, strategy="random")
    annotate(api, project, 0)
    redis.kill()
    for index in (8, 1, 9):
        annotate(api, project, index)  # saved although the policy cannot queue a job
    status = api.get(f"/api/v1/projects/{project['id']}/model").json()
    assert status["training_available"] is False and status["active_version"] is None
    refused = api.post(f"/api/v1/projects/{project['id']}/model/train")
    assert refused.status_code == 503 and refused.json()["error"]["code"] == "training_unavailable"
    redis = start_redis()
    try:
        annotate(api, project, 2)
        status = wait_until(lambda: (s := api.get(f"/api/v1/projects/{project['id']}/model").json())
                            ["active_version"] and s, timeout=30, what="training after Redis returned")
        assert status["training_available"] is True
        assert status["active_version"]["data_counts"]["labeled"] == 5, "no annotation was lost"
    finally:
        redis.kill()
