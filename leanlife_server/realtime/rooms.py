"""Socket.IO room names (per project, per user, per viewed document) and the Redis channel
that carries emits between processes: what the emitters and the server both name."""

from __future__ import annotations

from flask import Flask


def project_room(project_id: int) -> str:
    return f"project:{project_id}"


def user_room(user_id: int) -> str:
    return f"user:{user_id}"


def document_room(project_id: int, document_id: int) -> str:
    return f"document:{project_id}:{document_id}"


def channel(app: Flask) -> str:
    return f"{app.config['LEANLIFE'].redis_prefix}-socketio"
