"""Removed members and ended credentials stop hearing a project (robustness issue, item 6).

Removal, token revocation and logout close the user's Socket.IO connections, in whichever
web process holds them; a client that reconnects gets back only what its credential and
memberships still allow."""

from __future__ import annotations

import pytest
import requests
import socketio

from tests import test_jobs_toy_models
from tests.conftest import PASSWORD
from tests.test_jobs_redis import sa_project, stack  # noqa: F401  (fixture)
from tests.test_jobs_support import (  # noqa: F401  (fixtures)
    Api,
    Listener,
    live_server,
    redis_prefix,
    start_server,
    wait_until,
)


@pytest.fixture
def app(make_app):
    return make_app(extra_plugins=[test_jobs_toy_models])


def project_with_member(url: str, owner, member_name: str) -> dict:
    api = Api(url, owner.token)
    project = sa_project(api, 4, {"mode": "manual"}, strategy="random")
    assert api.post(f"/api/v1/projects/{project['id']}/members",
                    json={"username": member_name, "role": "annotator"}).status_code == 201
    return project


def disconnected(listener: Listener) -> bool:
    wait_until(lambda: not listener.client.connected, 15, "the server to close the socket")
    return True


def test_a_removed_member_is_disconnected_and_cannot_rejoin(live_server, make_caller):
    owner, bob = make_caller("owner"), make_caller("bob")
    project = project_with_member(live_server, owner, "bob")
    listener = Listener(live_server, bob.token)
    assert listener.join(project["id"]) == {"ok": True}
    assert Api(live_server, owner.token).delete(
        f"/api/v1/projects/{project['id']}/members/{bob.user_id}").status_code == 204
    assert disconnected(listener)
    again = Listener(live_server, bob.token)  # the token is still good: reconnecting works
    try:
        assert again.join(project["id"])["ok"] is False
    finally:
        again.close()


def test_a_revoked_token_closes_its_sockets(live_server, make_caller):
    make_caller("carol")
    issued = requests.post(f"{live_server}/api/v1/auth/token",
                           json={"username": "carol", "password": PASSWORD, "name": "script"}).json()
    listener = Listener(live_server, issued["token"])
    assert Api(live_server, issued["token"]).delete(f"/api/v1/auth/tokens/{issued['id']}").status_code == 204
    assert disconnected(listener)
    with pytest.raises(socketio.exceptions.ConnectionError):
        Listener(live_server, issued["token"])


def test_logout_closes_the_sessions_sockets(live_server, make_caller):
    make_caller("dave")
    browser = requests.Session()
    login = browser.post(f"{live_server}/api/v1/auth/login", json={"username": "dave", "password": PASSWORD})
    assert login.ok
    client = socketio.Client(reconnection=False)
    client.connect(live_server, transports=["websocket"], wait_timeout=10,
                   headers={"Cookie": "; ".join(f"{k}={v}" for k, v in browser.cookies.items())})
    try:
        assert browser.post(f"{live_server}/api/v1/auth/logout",
                            headers={"X-CSRF-Token": login.json()["csrf_token"]}).status_code == 204
        wait_until(lambda: not client.connected, 15, "the server to close the socket")
    finally:
        client.disconnect()


def test_removal_through_another_web_process_reaches_the_socket(stack, make_caller, tmp_path):
    start, started = stack
    first, env = start(workers=0)
    second_process, second = start_server(env, tmp_path)
    started.append(second_process)
    owner, erin = make_caller("owner"), make_caller("erin")
    project = project_with_member(first, owner, "erin")
    listener = Listener(first, erin.token)
    assert listener.join(project["id"]) == {"ok": True}
    assert Api(second, owner.token).delete(
        f"/api/v1/projects/{project['id']}/members/{erin.user_id}").status_code == 204
    assert disconnected(listener)
