"""Concurrent saves queue at most one waiting cheap retraining job per project (a real
`leanlife serve` process on Redis with no worker, so queued jobs stay queued). Before the
fix each save checked for a waiting job outside any lock: a burst of saves queued one each,
and once the worker fell behind they filled the project's job limit
(LEANLIFE_MAX_JOBS_PER_PROJECT), so the owner's "train now" answered 429 (bench/faults.py,
redis-outage scenario)."""

from __future__ import annotations

import threading

import pytest
import requests

from leanlife_server.db import db
from leanlife_server.db.models import Job
from leanlife_server.pipeline.retrain import CHEAP_KIND
from tests.test_jobs_support import redis_prefix  # noqa: F401  (a fixture used below)
from tests.test_jobs_support import REDIS_URL, Api, process_env, start_server

SAVERS = 16
# "Anna Smith", "Bob Jones", "met": three spans apart (one annotator's NER spans never overlap)
SPANS = ((0, 10), (15, 24), (11, 14))


@pytest.fixture
def server_on_redis(app, database_url, tmp_path, redis_prefix):
    env = process_env(tmp_path, {"database_url": database_url, "data_dir": tmp_path / "data",
                                 "secret_key": "test-secret", "redis_url": REDIS_URL,
                                 "redis_prefix": redis_prefix})
    process, url = start_server(env, tmp_path)
    yield url
    process.kill()


def queued_cheap_jobs(app, project_id: int) -> int:
    with app.app_context():
        return db.session.scalar(db.select(db.func.count(Job.id)).where(
            Job.project_id == project_id, Job.kind == CHEAP_KIND, Job.state == "queued"))


def test_a_burst_of_saves_queues_one_cheap_job_and_training_stays_available(app, server_on_redis,
                                                                             make_caller):
    api = Api(server_on_redis, make_caller("owner").token)
    project = api.post("/api/v1/projects", json={"name": "news", "task": "ner"}).json()
    projects = f"/api/v1/projects/{project['id']}"
    assert api.post(f"{projects}/labels", json={"name": "PER"}).ok
    # By default the dictionary matcher (cheap: retrained on every save) serves first.
    assert api.patch(f"{projects}/settings", json={"model": "bilstm_crf.v1"}).ok
    documents = api.post(f"{projects}/documents", json={"documents": [
        {"text": f"Anna Smith met Bob Jones {i}"} for i in range(SAVERS)]}).json()["items"]
    for start, end in SPANS:  # one new annotation per document and round
        barrier = threading.Barrier(SAVERS)
        answers: list[requests.Response] = []

        def save(document_id: int) -> None:
            session = Api(server_on_redis, api.session.headers["Authorization"].split()[1])
            barrier.wait()
            answers.append(session.post(f"{projects}/documents/{document_id}/annotations",
                                        json={"label": "PER", "start": start, "end": end}))

        threads = [threading.Thread(target=save, args=(d["id"],)) for d in documents]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert [a.status_code for a in answers] == [201] * SAVERS, [a.text for a in answers][:2]
    # No worker runs: one waiting cheap job serves every save made while it waits.
    assert queued_cheap_jobs(app, project["id"]) == 1
    train = api.post(f"{projects}/model/train")  # the owner's own job still has room
    assert train.status_code == 202, train.text
