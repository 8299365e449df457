"""`make serve` listens where HOST and PORT say (the install step is taken as done: -o install)."""

from __future__ import annotations

import requests

from tests.test_jobs_support import REPO, Process, free_port, process_env, wait_until


def test_make_serve_takes_host_and_port(tmp_path):
    port = free_port()
    env = process_env(tmp_path, {"database_url": f"sqlite:///{tmp_path / 'db.sqlite3'}",
                                 "data_dir": tmp_path / "data", "secret_key": "test-secret"})
    server = Process(["make", "-o", "install", "serve", f"PORT={port}", "HOST=127.0.0.2",
                      f"VENV={REPO / '.venv'}"], env, tmp_path / "make-serve.log")
    try:
        def up():
            assert server.handle.poll() is None, f"make serve exited:\n{server.output()}"
            try:
                return requests.get(f"http://127.0.0.2:{port}/api/v1/health", timeout=1).ok
            except requests.ConnectionError:
                return False

        wait_until(up, 60, f"make serve to answer on 127.0.0.2:{port}")
        try:
            requests.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=1)
            raise AssertionError("the server also listens on 127.0.0.1, not only on HOST")
        except requests.ConnectionError:
            pass
    finally:
        server.kill()
