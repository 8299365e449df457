"""A python-socketio client in a process of its own, for tests/test_reverse_proxy.py (no tests
here). It connects through the proxy with long-polling only (the transport that needs sticky
sessions), from a given loopback source address (the proxy's stickiness key), joins a project
and prints every event it receives as a JSON line until it is disconnected.

    python -m tests.proxy_socket_client URL TOKEN PROJECT_ID SOURCE_ADDRESS
"""

from __future__ import annotations

import json
import sys
from typing import Any

import requests
import socketio
from requests.adapters import HTTPAdapter


class FromAddress(HTTPAdapter):
    """Every connection opened from ``address`` (any 127.0.0.0/8 address is loopback)."""

    def __init__(self, address: str):
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, source_address=(self.address, 0), **kwargs)


def session_from(address: str) -> requests.Session:
    session = requests.Session()
    session.mount("http://", FromAddress(address))
    return session


def say(event: str, data: Any) -> None:
    print(json.dumps({"event": event, "data": data}), flush=True)


def main(url: str, token: str, project_id: int, source: str) -> None:
    client = socketio.Client(reconnection=False, http_session=session_from(source))
    client.on("*", say)
    client.on("disconnect", lambda *reason: say("disconnect", [str(r) for r in reason]))
    client.connect(url, auth={"token": token}, transports=["polling"], wait_timeout=10)
    say("joined", client.call("join", {"project_id": project_id}, timeout=10))
    client.wait()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4])
