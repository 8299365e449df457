"""Socket.IO against a real `leanlife serve` (gunicorn, embedded: in-process jobs, no
Redis): who may connect, which rooms they hear, and the events of the embedded loop."""

from __future__ import annotations

import pytest
import requests
import socketio

from tests import test_jobs_toy_models
from tests.conftest import PASSWORD
from tests.test_jobs_redis import annotate, sa_project
from tests.test_jobs_support import Api, Listener, live_server  # noqa: F401  (fixture)


@pytest.fixture
def app(make_app):
    return make_app(extra_plugins=[test_jobs_toy_models])


def refused(url: str, **connect) -> bool:
    client = socketio.Client(reconnection=False)
    try:
        client.connect(url, transports=["websocket"], wait_timeout=10, **connect)
    except socketio.exceptions.ConnectionError:
        return True
    client.disconnect()
    return False


def test_connections_authenticate_and_hear_only_their_rooms(live_server, make_caller):
    owner, ann, bob = make_caller("owner"), make_caller("ann"), make_caller("bob")
    assert refused(live_server), "anonymous connections are refused"
    assert refused(live_server, auth={"token": "ll_not-a-token"})
    login = requests.Session()
    assert login.post(f"{live_server}/api/v1/auth/login", json={"username": "ann", "password": PASSWORD}).ok
    cookie = "; ".join(f"{k}={v}" for k, v in login.cookies.items())
    assert not refused(live_server, headers={"Cookie": cookie}), "a browser session cookie is enough"

    api = Api(live_server, owner.token)
    project = sa_project(api, 12, {"mode": "manual"}, strategy="random")
    for username in ("ann", "bob"):
        assert api.post(f"/api/v1/projects/{project['id']}/members",
                        json={"username": username, "role": "annotator"}).status_code == 201
    viewer, owner_listener = Listener(live_server, ann.token), Listener(live_server, owner.token)
    try:
        document_id = project["documents"][0][0]
        assert viewer.client.call("view", {"project_id": project["id"], "document_id": document_id}) == {"ok": True}
        assert viewer.join(project["id"]) == {"ok": True}
        assert owner_listener.join(project["id"]) == {"ok": True}
        annotate(Api(live_server, bob.token), project, 0)
        changed = viewer.wait_for("document_changed")
        assert (changed["document_id"], changed["user_id"], changed["action"]) == (document_id, bob.user_id, "saved")
        assert "annotation" not in changed, "annotators who may not see others' work get no content"

        for index in (8, 1, 9):
            annotate(api, project, index)
        assert api.post(f"/api/v1/projects/{project['id']}/model/train").status_code == 202
        finished = owner_listener.wait_for("job", lambda d: d["state"] == "finished")
        assert owner_listener.wait_for("model")["version"]["id"] == finished["model_version_id"]
        assert [d["state"] for d in owner_listener.named("job")][:2] == ["queued", "running"]
        queue = viewer.wait_for("queue")
        assert queue["project_id"] == project["id"] and len(queue["documents"]) == 8, \
            "each member gets their own queue: the eight unlabeled documents"
    finally:
        viewer.close()
        owner_listener.close()
