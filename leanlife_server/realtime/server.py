"""The Socket.IO server: who may connect (session cookie or API token) and which rooms a
connection joins. Nobody joins the room of a project they are not a member of."""

from __future__ import annotations

from typing import Any

import socketio
from flask import Flask, g

from leanlife_server.auth import load_current_user
from leanlife_server.db import db
from leanlife_server.db.models import Membership, Project, User
from leanlife_server.errors import ApiError
from leanlife_server.realtime.rooms import channel, document_room, project_room, user_room


class ConnectedSockets:
    """The Socket.IO connections each user has open. With Redis, a set per user shared by
    every web process (a connection lives in one process, but a member may be removed
    through another); without, the user's room in this one process."""

    def __init__(self, sio: socketio.Server, redis_url: str, prefix: str):
        self.sio = sio
        self.prefix = prefix
        self.redis = None
        if redis_url:
            from redis import Redis

            self.redis = Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=5)

    def _key(self, user_id: int) -> str:
        return f"{self.prefix}:sockets:user:{user_id}"

    def added(self, user_id: int, sid: str) -> None:
        if self.redis is not None:
            self.redis.sadd(self._key(user_id), sid)

    def removed(self, user_id: int, sid: str) -> None:
        if self.redis is not None:
            self.redis.srem(self._key(user_id), sid)

    def of_user(self, user_id: int) -> list[str]:
        if self.redis is not None:
            return [sid.decode() for sid in self.redis.smembers(self._key(user_id))]
        return [sid for sid, _ in self.sio.manager.get_participants("/", user_room(user_id))]


class SocketServer:
    """Emitter for the web process: the Socket.IO server itself."""

    def __init__(self, sio: socketio.Server, sockets: ConnectedSockets):
        self.sio = sio
        self.sockets = sockets

    def emit(self, event: str, data: Any, room: str) -> None:
        self.sio.emit(event, data, to=room)

    def disconnect_user(self, user_id: int) -> None:
        """Close the user's connections in whichever process holds them (the Redis manager
        forwards a disconnect it cannot do itself)."""
        for sid in self.sockets.of_user(user_id):
            self.sio.disconnect(sid)


def _member(user, project_id: Any) -> bool:
    if isinstance(project_id, bool) or not isinstance(project_id, int):
        return False
    if db.session.get(Project, project_id) is None:
        return False
    return user.is_admin or db.session.scalar(db.select(Membership.id).where(
        Membership.project_id == project_id, Membership.user_id == user.id)) is not None


def build_server(app: Flask) -> SocketServer:
    settings = app.config["LEANLIFE"]
    manager = socketio.RedisManager(settings.redis_url, channel=channel(app)) if settings.redis_url else None
    # The default CORS policy admits same-origin browsers and programs (no Origin header).
    sio = socketio.Server(async_mode="threading", client_manager=manager)
    app.wsgi_app = socketio.WSGIApp(sio, app.wsgi_app)
    sockets = ConnectedSockets(sio, settings.redis_url, settings.redis_prefix)

    def authenticated_user(environ: dict, auth: Any):
        token = auth.get("token") if isinstance(auth, dict) else None
        if token:
            environ = {**environ, "HTTP_AUTHORIZATION": f"Bearer {token}"}
        with app.request_context(environ):
            try:
                load_current_user()
            except ApiError:
                return None
            return g.user

    @sio.on("connect")
    def connect(sid, environ, auth=None):
        user = authenticated_user(environ, auth)
        if user is None:
            raise socketio.exceptions.ConnectionRefusedError(
                "log in first, or connect with auth={'token': '<API token>'}")
        sio.save_session(sid, {"user_id": user.id, "document_room": None})
        sio.enter_room(sid, user_room(user.id))
        sockets.added(user.id, sid)

    @sio.on("disconnect")
    def disconnect(sid, *_reason):
        sockets.removed(sio.get_session(sid)["user_id"], sid)

    def member_of(sid, data: Any) -> int | None:
        project_id = data.get("project_id") if isinstance(data, dict) else None
        user_id = sio.get_session(sid)["user_id"]
        with app.app_context():
            user = db.session.get(User, user_id)
            allowed = user is not None and _member(user, project_id)
            db.session.remove()
        return project_id if allowed else None

    @sio.on("join")
    def join(sid, data):
        """``join {project_id}``: receive the project's events."""
        project_id = member_of(sid, data)
        if project_id is None:
            return {"ok": False, "error": "no such project, or you are not a member"}
        sio.enter_room(sid, project_room(project_id))
        return {"ok": True}

    @sio.on("leave")
    def leave(sid, data):
        """``leave {project_id}``: stop receiving the project's events."""
        if isinstance(data, dict) and isinstance(data.get("project_id"), int):
            sio.leave_room(sid, project_room(data["project_id"]))
        return {"ok": True}

    @sio.on("view")
    def view(sid, data):
        """``view {project_id, document_id}``: hear about others' changes to that document."""
        project_id = member_of(sid, data)
        document_id = data.get("document_id") if isinstance(data, dict) else None
        if project_id is None or not isinstance(document_id, int):
            return {"ok": False, "error": "no such project, or you are not a member"}
        with sio.session(sid) as session:
            if session["document_room"]:
                sio.leave_room(sid, session["document_room"])
            session["document_room"] = document_room(project_id, document_id)
            sio.enter_room(sid, session["document_room"])
        return {"ok": True}

    return SocketServer(sio, sockets)
