"""Redis outages, for real: a private redis-server that the tests kill and start again (empty,
as a Redis without persistence comes back), a `leanlife serve` process and `leanlife worker`
processes. A queued job that Redis lost must not block training for good, and a worker must
outlive the outage."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest

from leanlife_server.db import db
from leanlife_server.db.models import Job
from leanlife_server.jobs import LOST_ERROR
from tests import test_jobs_toy_models
from tests.test_jobs_redis import annotate, job_state, sa_project
from tests.test_jobs_support import (Api, Process, free_port, process_env, start_server, start_worker,
                                     wait_until)

HEARTBEAT = {"job_heartbeat_seconds": 1, "job_heartbeat_timeout": 5}


class Redis:
    """A private redis-server on a free port, without persistence: each start is empty."""

    def __init__(self, tmp_path: Path):
        self.port, self.tmp_path, self.process = free_port(), tmp_path, None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = Process(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                                "--save", "", "--appendonly", "no"], {"PATH": "/usr/bin:/bin"},
                               self.tmp_path / f"redis-{self.port}.log")
        wait_until(lambda: subprocess.run(["redis-cli", "-p", str(self.port), "ping"], capture_output=True,
                                          text=True).stdout.strip() == "PONG", what="redis-server")

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process = None

    def restart(self) -> None:
        """Kill and start again, empty. Down for 2.5 s: Redis tells its uptime in whole
        seconds, so only a job older than its start by 2 s is known to be lost at once (a
        younger one after ENQUEUE_GRACE_SECONDS)."""
        self.kill()
        time.sleep(2.5)
        self.start()


@pytest.fixture
def app(make_app):
    return make_app(extra_plugins=[test_jobs_toy_models])


@pytest.fixture
def outage(app, database_url, tmp_path):
    """A private Redis (started), and the environment for servers and workers on it."""
    redis = Redis(tmp_path)
    redis.start()
    env = process_env(tmp_path, {"database_url": database_url, "data_dir": tmp_path / "data",
                                 "secret_key": "test-secret", "redis_url": redis.url, **HEARTBEAT})
    processes: list[Process] = []
    yield redis, env, processes
    for process in reversed(processes):
        process.kill()
    redis.kill()


def stored_job(app, job_id: int) -> Job:
    """The job row as stored, read without the API (whose reads also fail lost jobs)."""
    with app.app_context():
        return db.session.get(Job, job_id)


def test_a_queued_job_lost_with_redis_no_longer_blocks_training(outage, make_caller, tmp_path):
    redis, env, processes = outage
    server, url = start_server(env, tmp_path)
    processes.append(server)
    api = Api(url, make_caller("owner").token)
    project = sa_project(api, 20, {"mode": "manual"}, strategy="random")
    for index in (0, 8, 1, 9):
        annotate(api, project, index)
    lost = api.post(f"/api/v1/projects/{project['id']}/model/train")
    assert lost.status_code == 202 and lost.json()["state"] == "queued"  # no worker runs yet
    redis.restart()  # back, empty: the queued job is gone from it
    again = api.post(f"/api/v1/projects/{project['id']}/model/train")
    assert again.status_code == 202, again.text
    failed = job_state(api, project, lost.json()["id"])
    assert (failed["state"], failed["error"]) == ("failed", LOST_ERROR)
    processes.append(start_worker(env, tmp_path))
    done = wait_until(lambda: (j := job_state(api, project, again.json()["id"]))["state"] == "finished" and j,
                      timeout=60, what="the new job to train")
    assert done["error"] is None and done["result"]["model_version_id"]


def test_a_starting_worker_fails_the_jobs_redis_lost_and_the_policy_fires_again(app, outage, make_caller,
                                                                                  tmp_path):
    redis, env, processes = outage
    server, url = start_server(env, tmp_path)
    processes.append(server)
    api = Api(url, make_caller("owner").token)
    project = sa_project(api, 20, {"mode": "every_n", "n": 2}, strategy="random")
    annotate(api, project, 0)
    annotate(api, project, 8)  # the policy queues a job; no worker runs yet
    (lost,) = api.get(f"/api/v1/projects/{project['id']}/model").json()["jobs"]
    assert lost["state"] == "queued"
    redis.restart()
    processes.append(start_worker(env, tmp_path))
    failed = wait_until(lambda: (j := stored_job(app, lost["id"])).state == "failed" and j,
                        what="the worker to fail the lost job")
    assert failed.error == LOST_ERROR and failed.started_at is None
    annotate(api, project, 1)  # a lost job consumed no annotations: the policy fires now
    status = wait_until(lambda: (s := api.get(f"/api/v1/projects/{project['id']}/model").json())
                        ["active_version"] and s, timeout=60, what="the policy to retrain")
    assert status["active_version"]["data_counts"]["labeled"] == 3


def test_a_worker_outlives_redis_going_down_mid_job_and_fails_the_jobs_it_lost(app, outage, make_caller,
                                                                               tmp_path):
    redis, env, processes = outage
    server, url = start_server(env, tmp_path)
    worker = start_worker(env, tmp_path)
    processes += [server, worker]
    api = Api(url, make_caller("owner").token)
    slow = sa_project(api, 20, {"mode": "manual"}, {"epochs": 16, "seconds_per_epoch": 0.25}, "random")
    other = sa_project(api, 20, {"mode": "manual"}, strategy="random")
    for project in (slow, other):
        for index in (0, 8, 1, 9):
            annotate(api, project, index)
    running = api.post(f"/api/v1/projects/{slow['id']}/model/train").json()
    wait_until(lambda: job_state(api, slow, running["id"])["progress"] > 0, what="training to start")
    waiting = api.post(f"/api/v1/projects/{other['id']}/model/train").json()  # behind it in the queue
    redis.kill()  # the worker's job goes on; the queue, and the job waiting in it, are lost
    finished = wait_until(lambda: (j := job_state(api, slow, running["id"]))["state"] == "finished" and j,
                          timeout=30, what="the running job to finish without Redis")
    assert finished["error"] is None
    redis.start()
    failed = wait_until(lambda: (j := stored_job(app, waiting["id"])).state == "failed" and j,
                        what="the worker to fail the job Redis lost")
    assert failed.error == LOST_ERROR
    assert worker.handle.poll() is None, f"the worker exited:\n{worker.output()}"
    retry = api.post(f"/api/v1/projects/{other['id']}/model/train")
    assert retry.status_code == 202, retry.text
    wait_until(lambda: job_state(api, other, retry.json()["id"])["state"] == "finished", timeout=60,
               what="the same worker to run the next job")
    assert worker.handle.poll() is None


def test_a_worker_stops_on_sigterm_while_redis_is_down(outage, tmp_path):
    redis, env, processes = outage
    worker = start_worker(env, tmp_path)
    processes.append(worker)
    wait_until(lambda: "Listening on" in worker.output(), what="the worker to listen")
    redis.kill()
    wait_until(lambda: "could not connect to Redis" in worker.output(), what="the worker to miss Redis")
    worker.handle.send_signal(signal.SIGTERM)
    try:
        worker.handle.wait(30)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the worker ignored SIGTERM while Redis was down:\n{worker.output()[-3000:]}")


def test_a_stop_ends_rqs_reconnect_loop_at_its_next_retry():
    # RQ's dequeue loop logs "could not connect", sleeps and retries for good; a stop signal's
    # StopRequested raised while that line is written is swallowed by logging. The worker's
    # log raises it again at the next retry once a stop was asked for.
    import logging
    import threading

    from rq.exceptions import StopRequested

    from leanlife_server.jobs.worker import _StopAwareLog

    stop = threading.Event()
    log = _StopAwareLog(logging.getLogger("test-worker"), stop)
    log.error("Worker %s: could not connect to Redis instance: %s", "w", "refused")  # no stop yet
    log.info("other lines pass through")
    stop.set()
    log.error("a job failed")  # other errors are logged as ever
    with pytest.raises(StopRequested):
        log.error("Worker %s: could not connect to Redis instance: %s", "w", "refused")
