"""The RQ side: ``leanlife worker`` runs jobs that web processes enqueued.

The worker is an RQ ``SimpleWorker``: jobs run in the worker process itself, so heavy
libraries (torch) and CUDA are initialised once per worker, not once per job, and killing
the worker kills its job (the heartbeat then marks the job failed).
"""

from __future__ import annotations

import importlib
import threading

from flask import Flask

from leanlife_server.jobs.runners import queue_name

_app: Flask | None = None


def _worker_app() -> Flask:
    """The app of ``leanlife worker``; a plain ``rq worker`` builds one from the environment."""
    global _app
    if _app is None:
        from leanlife_server.app import create_app
        from leanlife_server.realtime import use_redis_emitter

        _app = create_app()
        use_redis_emitter(_app)
    return _app


def run(job_id: int, target: str) -> None:
    """What RQ calls for every LeanLife job."""
    from leanlife_server.jobs import execute

    with _worker_app().app_context():
        execute(job_id, target)


def _preload_query_strategies(app: Flask) -> None:
    # Strategy modules can be slow to import (modAL pulls in scikit-learn, pandas and
    # torch): import them while the worker waits for its first job, not during it.
    for definition in app.extensions["leanlife"].query_strategies:
        importlib.import_module(definition.factory.partition(":")[0])


def work(app: Flask, burst: bool = False) -> None:
    """Serve jobs from ``LEANLIFE_REDIS_URL`` until stopped (or, with ``burst``, until empty)."""
    from redis import Redis
    from rq import Queue, SimpleWorker

    from leanlife_server.realtime import use_redis_emitter

    global _app
    settings = app.config["LEANLIFE"]
    if not settings.redis_url:
        raise RuntimeError("LEANLIFE_REDIS_URL is not set: a worker needs Redis "
                           "(without it, `leanlife serve` runs jobs in-process)")
    _app = app
    use_redis_emitter(app)
    threading.Thread(target=_preload_query_strategies, args=(app,), daemon=True,
                     name="leanlife-preload").start()
    connection = Redis.from_url(settings.redis_url)
    queue = Queue(queue_name(settings.redis_prefix), connection=connection)
    SimpleWorker([queue], connection=connection).work(burst=burst)
