"""A real ``leanlife serve`` keeps an idle keep-alive connection open longer than annotators
pause: a save sent on a connection idle for some seconds is answered, not reset (with
gunicorn's 5 s keep-alive, about 1 save in 5,500 of pausing annotators was reset)."""

from __future__ import annotations

import http.client
import json
import time
from urllib.parse import urlsplit

from leanlife_server.server import KEEPALIVE_SECONDS
from tests.conftest import add_document, create_project
from tests.test_jobs_support import process_env, start_server

PAUSE_SECONDS = 7  # longer than gunicorn's default keep-alive, which reset such saves


def test_a_save_after_a_pause_reuses_the_idle_connection(make_caller, database_url, tmp_path):
    assert KEEPALIVE_SECONDS > 60, "clients and proxies keep idle connections 60 s and more"
    owner = make_caller("owner")
    project = create_project(owner, "sa", labels=(("pos", "document"),))
    document = add_document(owner, project["id"], "a fine film")
    env = process_env(tmp_path, {"database_url": database_url, "data_dir": tmp_path / "data",
                                 "secret_key": "test-secret"})
    server, url = start_server(env, tmp_path)
    address = urlsplit(url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
    headers = {"Authorization": f"Bearer {owner.token}", "Content-Type": "application/json"}
    try:
        connection.request("GET", f"/api/v1/projects/{project['id']}/documents/{document['id']}",
                           headers=headers)
        first = connection.getresponse()
        first.read()
        assert first.status == 200
        socket_before = connection.sock
        time.sleep(PAUSE_SECONDS)
        connection.request("POST", f"/api/v1/projects/{project['id']}/documents/{document['id']}"
                           "/annotations", body=json.dumps({"label": "pos"}), headers=headers)
        answer = connection.getresponse()  # raises RemoteDisconnected if the server closed it
        body = answer.read()
        assert answer.status == 201, body
        assert connection.sock is socket_before, "the client had to open a new connection"
    finally:
        connection.close()
        server.kill()
