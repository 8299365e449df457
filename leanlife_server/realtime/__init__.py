"""Socket.IO push: rooms per project, per user and per viewed document, and one ``emit``
that works in a web process (its own Socket.IO server) and in a worker (through Redis).

With ``LEANLIFE_REDIS_URL`` every emit goes through the Redis channel
``<LEANLIFE_REDIS_PREFIX>-socketio``, so workers and any number of web processes reach every
connected browser. Events are documented in ``docs/api.md``; what the live loop pushes is
the built-in plugin :mod:`leanlife_server.realtime.push`.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from flask import Flask, current_app

from leanlife_server.realtime.rooms import channel, document_room, project_room, user_room

log = logging.getLogger(__name__)

EMITTER_KEY = "leanlife_emitter"


class Emitter(Protocol):
    def emit(self, event: str, data: Any, room: str) -> None: ...


class RedisEmitter:
    """Publishes to the Socket.IO Redis channel without serving clients (workers)."""

    def __init__(self, redis_url: str, channel_name: str):
        import socketio

        self.manager = socketio.RedisManager(redis_url, channel=channel_name, write_only=True)

    def emit(self, event: str, data: Any, room: str) -> None:
        self.manager.emit(event, data, namespace="/", room=room)


def use_redis_emitter(app: Flask) -> None:
    app.extensions[EMITTER_KEY] = RedisEmitter(app.config["LEANLIFE"].redis_url, channel(app))


def init_realtime(app: Flask) -> None:
    """Serve Socket.IO at ``/socket.io`` beside the Flask app."""
    from leanlife_server.realtime.server import build_server

    app.extensions[EMITTER_KEY] = build_server(app)


def emit(event: str, data: Any, room: str) -> None:
    """Send ``event`` to ``room``. A push that fails is logged, never raised: the database
    already holds the truth and clients re-read it on reconnect."""
    emitter = current_app.extensions.get(EMITTER_KEY)
    if emitter is None:
        return
    try:
        emitter.emit(event, data, room)
    except Exception as exc:  # Redis down: annotating and training go on without push
        log.warning("could not emit %s to %s: %s", event, room, exc)


def disconnect_user(user_id: int) -> None:
    """End every Socket.IO connection of a user, in every web process (after a removal from
    a project, a revoked token, a logout). Clients reconnect with whatever credential still
    holds, and rejoin only the projects they still belong to."""
    disconnect = getattr(current_app.extensions.get(EMITTER_KEY), "disconnect_user", None)
    if disconnect is None:
        return
    try:
        disconnect(user_id)
    except Exception as exc:  # Redis down: the rooms cannot be reached either
        log.warning("could not disconnect the sockets of user %s: %s", user_id, exc)
