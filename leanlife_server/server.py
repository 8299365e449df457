"""The production server: gunicorn with threaded workers (WebSocket-capable for Socket.IO).

The gunicorn master builds the app and does the start-up work (migrations, the first admin)
before it forks the workers, so anything it opened would be inherited by every worker: one
database socket used by four processes at once garbles the protocol ("server closed the
connection unexpectedly", "prepared statement ... does not exist"). So the master closes its
connections before forking, and each worker drops whatever per-process state it inherited
(the connection pool, the job runner's threads, Socket.IO's identity on Redis) and opens its
own on first use. Socket.IO's background tasks and its Redis connection start lazily, on a
worker's first connection, and redis-py's pools reopen themselves in a new process.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

from leanlife_server.db import db
from leanlife_server.jobs import RUNNER_KEY
from leanlife_server.jobs.runners import InProcessRunner
from leanlife_server.realtime import EMITTER_KEY


class LeanLifeServer(BaseApplication):
    def __init__(self, app: Flask, options: dict[str, Any]):
        self.application = app
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return self.application


def close_connections(app: Flask) -> None:
    """Close every database connection the app holds (the master, before forking)."""
    with app.app_context():
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()


def forget_inherited_connections(app: Flask) -> None:
    """Empty the pools a forked worker inherited without closing their sockets: they are
    the parent's, and closing them here would end its sessions."""
    with app.app_context():
        for engine in db.engines.values():
            engine.dispose(close=False)


def new_socketio_identity(app: Flask) -> None:
    """Socket.IO's Redis manager tags what it publishes with its ``host_id`` and ignores
    messages carrying its own, taking them for echoes. Forked workers would all inherit the
    master's, and drop each other's events: each worker needs one of its own."""
    manager = getattr(getattr(app.extensions.get(EMITTER_KEY), "sio", None), "manager", None)
    if hasattr(manager, "host_id"):
        manager.host_id = uuid.uuid4().hex


def start_worker(app: Flask) -> None:
    """Gunicorn's ``post_fork``: give this worker its own connections, job threads and
    Socket.IO identity."""
    forget_inherited_connections(app)
    # A thread pool's threads do not survive fork, and an RQ runner holds a Redis client:
    # the worker builds its own on its first job.
    app.extensions.pop(RUNNER_KEY, None)
    new_socketio_identity(app)


def stop_worker(app: Flask) -> None:
    """Gunicorn's ``worker_exit``: the in-process job threads die with this worker (they are
    daemon threads, so they do not hold up the exit); fail the jobs they had not finished."""
    runner = app.extensions.get(RUNNER_KEY)
    if isinstance(runner, InProcessRunner):
        runner.stop()


# Seconds a worker gets, after SIGTERM, to finish the requests it is serving before the
# master kills it: `serve` stops within about this long, not gunicorn's default 30 s.
GRACEFUL_TIMEOUT_SECONDS = 8
# Seconds an idle keep-alive connection stays open. A client that reuses a connection just as
# the server closes it gets a reset with nothing saved, so the server must outwait its
# clients' idle time: nginx's upstream keep-alive and browsers' pools (60 s and more), and
# annotators who pause between saves. 75 s is nginx's own client keep-alive.
KEEPALIVE_SECONDS = 75


def run(app: Flask, host: str, port: int, workers: int = 1, threads: int = 32) -> None:
    close_connections(app)
    LeanLifeServer(app, {
        "bind": f"{host}:{port}",
        "workers": workers,
        "worker_class": "gthread",
        "threads": threads,
        "accesslog": "-" if app.debug else None,
        "timeout": 120,
        "keepalive": KEEPALIVE_SECONDS,
        # Gunicorn's control socket sits at one path per OS user (~/.gunicorn/gunicorn.ctl),
        # so a second server on the machine would take over the first's; nothing here uses it.
        "control_socket_disable": True,
        "graceful_timeout": GRACEFUL_TIMEOUT_SECONDS,
        "post_fork": lambda _server, _worker: start_worker(app),
        "worker_exit": lambda _server, _worker: stop_worker(app),
    }).run()
