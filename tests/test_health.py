"""Honest health: ``GET /api/v1/health?details=1`` checks each dependency for real, and the
model status says when no worker would take a training job. Real Redis, real `leanlife worker`."""

from __future__ import annotations

import pytest

from tests import test_jobs_toy_models
from tests.test_jobs_support import redis_prefix  # noqa: F401  (a fixture used below)
from tests.test_jobs_support import (
    REDIS_URL,
    process_env,
    sentiment_project,
    start_worker,
    wait_until,
)

LANE_QUEUES = ("small", "model", "imports", "exports")


@pytest.fixture
def redis_app(make_app, redis_prefix):
    return make_app({"redis_url": REDIS_URL, "redis_prefix": redis_prefix},
                    extra_plugins=[test_jobs_toy_models])


@pytest.fixture
def app(redis_app):  # make_caller's app
    return redis_app


def test_without_redis_training_is_available_and_details_say_redis_is_not_configured(make_app, make_caller):
    app = make_app(extra_plugins=[test_jobs_toy_models])
    client = app.test_client()
    with app.app_context():
        from leanlife_server.auth import create_user, issue_token
        from leanlife_server.db import db

        _, token = issue_token(create_user("root", "a-long-password-1", is_admin=True), "tests")
        db.session.commit()
    headers = {"Authorization": f"Bearer {token}"}
    details = client.get("/api/v1/health?details=1", headers=headers).get_json()
    assert details["redis"] == "not configured" and details["workers"] == {}
    assert details["status"] == "ok" and details["database"] == "ok" and details["storage"] == "ok"
    project = client.post("/api/v1/projects", json={"name": "p", "task": "sa"}, headers=headers).get_json()
    status = client.get(f"/api/v1/projects/{project['id']}/model", headers=headers).get_json()
    assert status["training_available"] is True and status["training_unavailable_reason"] is None


def test_details_are_for_admins_only(make_caller):
    assert make_caller(None).get("/api/v1/health?details=1").status_code == 401
    assert make_caller("bob").get("/api/v1/health?details=1").status_code == 403
    plain = make_caller(None).get("/api/v1/health").get_json()
    assert set(plain) == {"status", "version"}


def test_no_worker_means_no_training_and_a_started_worker_is_seen(make_caller, redis_prefix, database_url,
                                                                   tmp_path):
    admin, owner = make_caller("root", admin=True), make_caller("owner")
    details = admin.get("/api/v1/health?details=1").get_json()
    queues = {f"{redis_prefix}-jobs-{lane}" for lane in LANE_QUEUES}
    assert details["redis"] == "ok" and details["database"] == "ok" and details["storage"] == "ok"
    assert details["workers"] == {name: 0 for name in queues}

    project = sentiment_project(owner, documents=12)
    assert owner.post(f"/api/v1/projects/{project['id']}/model/train").status_code == 202
    status = owner.get(f"/api/v1/projects/{project['id']}/model").get_json()
    assert status["training_available"] is False
    assert "no worker is running" in status["training_unavailable_reason"]
    [queued] = status["jobs"]
    assert queued["state"] == "queued" and "no worker is running" in queued["note"]

    env = process_env(tmp_path, {"database_url": database_url, "data_dir": tmp_path / "data",
                                 "secret_key": "test-secret", "redis_url": REDIS_URL,
                                 "redis_prefix": redis_prefix})
    worker = start_worker(env, tmp_path)
    try:
        wait_until(lambda: owner.get(f"/api/v1/projects/{project['id']}/model").get_json()
                   ["training_available"], 60, "the worker to be seen")
        details = admin.get("/api/v1/health?details=1").get_json()
        assert details["workers"] == {name: 1 for name in queues}
        # The worker takes the waiting job (it fails: nothing is labeled; what matters is it ran).
        wait_until(lambda: owner.get(f"/api/v1/projects/{project['id']}/jobs/{queued['id']}").get_json()
                   ["state"] in ("finished", "failed"), 60, "the worker to take the queued job")
    finally:
        worker.kill()
