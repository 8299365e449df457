"""Where jobs run: a thread pool in the web process (embedded), or RQ workers via Redis."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from flask import Flask

log = logging.getLogger(__name__)

WORKER_ENTRY = "leanlife_server.jobs.worker.run"
# Training can take hours on big data; RQ's 180 s default would kill it.
JOB_TIMEOUT_SECONDS = 24 * 3600


class TrainingUnavailable(RuntimeError):
    """The job queue cannot take work now (Redis is unreachable)."""


class Runner(Protocol):
    def submit(self, job_id: int, target: str) -> None: ...

    def available(self) -> bool: ...


class InProcessRunner:
    """Runs jobs on a thread pool inside the web process (the embedded default)."""

    def __init__(self, app: Flask, workers: int = 2):
        self.app = app
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="leanlife-job")

    def submit(self, job_id: int, target: str) -> None:
        self.pool.submit(self._run, job_id, target)

    def available(self) -> bool:
        return True

    def _run(self, job_id: int, target: str) -> None:
        from leanlife_server.jobs import execute

        with self.app.app_context():
            execute(job_id, target)


def queue_name(prefix: str) -> str:
    return f"{prefix}-jobs"


class RQRunner:
    """Enqueues jobs on the RQ queue ``<LEANLIFE_REDIS_PREFIX>-jobs`` for ``leanlife worker``."""

    def __init__(self, redis_url: str, prefix: str):
        from redis import Redis
        from rq import Queue

        self.url = redis_url
        self.prefix = prefix
        self.redis = Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=5)
        self.queue = Queue(queue_name(prefix), connection=self.redis)

    def submit(self, job_id: int, target: str) -> None:
        from redis.exceptions import RedisError

        try:
            self.queue.enqueue(WORKER_ENTRY, job_id, target, job_id=f"{self.prefix}-job-{job_id}",
                               job_timeout=JOB_TIMEOUT_SECONDS, result_ttl=3600, failure_ttl=86400)
        except RedisError as exc:
            raise TrainingUnavailable(f"the job queue is unavailable: Redis at {self._where()} "
                                      f"did not answer ({exc}); annotations are kept and training "
                                      f"starts on the next trigger once Redis is back") from exc

    def available(self) -> bool:
        from redis.exceptions import RedisError

        try:
            return bool(self.redis.ping())
        except RedisError:
            return False

    def _where(self) -> str:
        return self.url.rsplit("@", 1)[-1]
