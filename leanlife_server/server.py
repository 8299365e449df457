"""The production server: gunicorn with threaded workers (WebSocket-capable for Socket.IO)."""

from __future__ import annotations

from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication


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


def run(app: Flask, host: str, port: int, workers: int = 1, threads: int = 32) -> None:
    LeanLifeServer(app, {
        "bind": f"{host}:{port}",
        "workers": workers,
        "worker_class": "gthread",
        "threads": threads,
        "accesslog": "-" if app.debug else None,
        "timeout": 120,
        "keepalive": 5,
    }).run()
