"""Where jobs run: thread pools in the web process (embedded), or RQ workers via Redis; one
pool or queue per lane (:mod:`leanlife_server.jobs.lanes`)."""

from __future__ import annotations

import logging
import queue
import threading
from datetime import datetime, timedelta, timezone
from typing import Protocol, Sequence

from flask import Flask

from leanlife_server.db.models import Job, utcnow
from leanlife_server.jobs.child import ChildJobs, can_run_in_child
from leanlife_server.jobs.execution import TURN_POLL_SECONDS, execute
from leanlife_server.jobs.lanes import LANES, MODEL, checked_lanes, queue_name
from leanlife_server.jobs.states import TrainingUnavailable, fail_interrupted_jobs

log = logging.getLogger(__name__)

WORKER_ENTRY = "leanlife_server.jobs.worker.run"
# Training can take hours on big data; RQ's 180 s default would kill it.
JOB_TIMEOUT_SECONDS = 24 * 3600
# A job row is committed just before its RQ entry is written (within the Redis client's
# socket timeouts); a queued job older than this that Redis lacks was lost, not in flight.
ENQUEUE_GRACE_SECONDS = 30
# In-process threads of each lane: a lane's jobs run at most this many at a time.
THREADS_PER_LANE = 2
# How soon a job whose start the database refused (its disk full, say) is tried again.
START_RETRY_SECONDS = 2.0


class DaemonThreadPool:
    """A fixed number of daemon threads taking calls from a queue. Unlike a
    ``ThreadPoolExecutor``, whose threads Python joins at exit, these never hold up a stopping
    process: jobs still running are failed by ``InProcessRunner.stop`` instead."""

    def __init__(self, threads: int, name: str):
        self.calls: queue.SimpleQueue = queue.SimpleQueue()
        for number in range(threads):
            threading.Thread(target=self._serve, name=f"{name}_{number}", daemon=True).start()

    def submit(self, function, *args) -> None:
        self.calls.put((function, args))

    def _serve(self) -> None:
        while True:
            function, args = self.calls.get()
            try:
                function(*args)
            except Exception:  # one job's crash must not shrink the pool
                log.exception("a job thread's call failed")


class Runner(Protocol):
    def submit(self, job_id: int, target: str, lane: str) -> None: ...

    def unavailable_reason(self, lane: str = MODEL) -> str | None:
        """Why jobs of ``lane`` would not run now (queue down, no worker listening), or None."""
        ...

    def live_workers(self) -> dict[str, int]:
        """The number of live workers listening to each queue (empty: jobs run in-process)."""
        ...

    def lost(self, jobs: Sequence[Job]) -> list[Job]:
        """Those of these queued jobs that will never run: the queue no longer holds them."""
        ...


class InProcessRunner:
    """Runs jobs inside the web process (the embedded default), on one thread pool per lane,
    so that big exports fill only their own lane."""

    def __init__(self, app: Flask, threads_per_lane: int = THREADS_PER_LANE):
        self.app = app
        self.pools = {lane: DaemonThreadPool(threads_per_lane, f"leanlife-job-{lane}") for lane in LANES}
        self.unfinished: set[int] = set()  # submitted here and not yet ended
        self.lock = threading.Lock()
        self.children = ChildJobs(app)
        self.child_lanes = child_lanes(app)

    def submit(self, job_id: int, target: str, lane: str) -> None:
        with self.lock:
            self.unfinished.add(job_id)
        self.pools[lane].submit(self._run, job_id, target, lane)

    def stop(self) -> list[int]:
        """The process is exiting and the job threads die with it: fail the jobs it had not
        finished (they are not requeued), saying so; returns their ids."""
        self.children.stop()  # so that none of them publishes after its job is failed
        with self.lock:
            job_ids = sorted(self.unfinished)
        if job_ids:
            with self.app.app_context():
                fail_interrupted_jobs(job_ids, "the server stopped")
        return job_ids

    def unavailable_reason(self, lane: str = MODEL) -> str | None:
        return None  # this process runs the jobs itself

    def live_workers(self) -> dict[str, int]:
        return {}

    def lost(self, jobs: Sequence[Job]) -> list[Job]:
        # The pool loses jobs only with its process; `leanlife serve` fails those at start.
        return []

    def _run(self, job_id: int, target: str, lane: str) -> None:
        started, delay = True, TURN_POLL_SECONDS  # unless execute says the job must wait for its turn
        try:
            if lane in self.child_lanes:
                started = self.children.run(job_id, target)
            else:
                with self.app.app_context():
                    started = execute(job_id, target, wait=False)
        except Exception:
            # Not even the job's state could be written: the row still says queued, and
            # nothing else in this process would run it. Try again; execute runs only a
            # queued job, so one that did start is not run twice.
            log.exception("job %s: could not run it; trying again in %s s", job_id, START_RETRY_SECONDS)
            started, delay = False, START_RETRY_SECONDS
        finally:
            if started:
                with self.lock:
                    self.unfinished.discard(job_id)
        if not started:
            # Another job of its project and kind runs (or the start failed): give the lane's
            # thread to other projects' jobs meanwhile rather than sleep on it; try again soon.
            retry = threading.Timer(delay, self._resubmit, (job_id, target, lane))
            retry.daemon = True
            retry.start()

    def _resubmit(self, job_id: int, target: str, lane: str) -> None:
        self.submit(job_id, target, lane)


def child_lanes(app: Flask) -> tuple[str, ...]:
    """The lanes whose in-process jobs run in a child process (``LEANLIFE_CHILD_PROCESS_LANES``);
    none when a child could not rebuild this app."""
    names = [name for name in app.config["LEANLIFE"].child_process_lanes.split(",") if name.strip()]
    if not names or not can_run_in_child(app):
        return ()
    return checked_lanes(names)


def redis_location(url: str) -> str:
    """The Redis URL without its credentials, for messages."""
    return url.rsplit("@", 1)[-1]


class RQRunner:
    """Enqueues jobs on the RQ queue of their lane, ``<LEANLIFE_REDIS_PREFIX>-jobs-<lane>``,
    for ``leanlife worker``."""

    def __init__(self, redis_url: str, prefix: str):
        from redis import Redis
        from rq import Queue

        self.url = redis_url
        self.prefix = prefix
        self.redis = Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=5)
        self.queues = {lane: Queue(queue_name(prefix, lane), connection=self.redis) for lane in LANES}

    def submit(self, job_id: int, target: str, lane: str) -> None:
        from redis.exceptions import RedisError

        try:
            self.queues[lane].enqueue(WORKER_ENTRY, job_id, target, job_id=self.rq_job_id(job_id),
                               job_timeout=JOB_TIMEOUT_SECONDS, result_ttl=3600, failure_ttl=86400)
        except RedisError as exc:
            raise TrainingUnavailable(f"the job queue is unavailable: Redis at {self._where()} "
                                      f"did not answer ({exc}); annotations are kept and training "
                                      f"starts on the next trigger once Redis is back") from exc

    def unavailable_reason(self, lane: str = MODEL) -> str | None:
        from redis.exceptions import RedisError

        try:
            listening = self._count_workers(self.queues[lane])
        except RedisError as exc:
            return f"the job queue is unavailable: Redis at {self._where()} did not answer ({exc})"
        if not listening:
            return (f"queued: no worker is running for the {lane} lane (queue "
                    f"{self.queues[lane].name} at {self._where()}); start `leanlife worker`")
        return None

    def live_workers(self) -> dict[str, int]:
        """Raises RedisError while Redis does not answer."""
        return {queue.name: self._count_workers(queue) for queue in self.queues.values()}

    @staticmethod
    def _count_workers(queue) -> int:
        # Worker.all reads RQ's worker registry and drops workers whose key expired (a
        # killed worker's, once its worker_ttl passed); Worker.count would still count them.
        from rq import Worker

        return len(Worker.all(queue=queue))

    def rq_job_id(self, job_id: int) -> str:
        return f"{self.prefix}-job-{job_id}"

    def lost(self, jobs: Sequence[Job]) -> list[Job]:
        """Queued jobs whose RQ entry is gone (Redis restarted without persistence, or was
        emptied) or ended without the job running. None while Redis does not answer."""
        from redis.exceptions import RedisError
        from rq.job import Job as RQJob
        from rq.job import JobStatus

        if not jobs:
            return []
        ended = (JobStatus.FINISHED, JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED)
        try:
            entries = RQJob.fetch_many([self.rq_job_id(job.id) for job in jobs], connection=self.redis)
        except RedisError as exc:
            log.info("cannot check queued jobs: Redis at %s did not answer (%s)", self._where(), exc)
            return []
        settled = max(self._started_at(), utcnow() - timedelta(seconds=ENQUEUE_GRACE_SECONDS))
        return [job for job, entry in zip(jobs, entries)
                if (entry is None or entry.get_status(refresh=False) in ended)
                and _as_utc(job.created_at) < settled]

    def _started_at(self) -> datetime:
        """When Redis last started, or up to 2 s earlier (INFO's uptime is the difference of
        two whole-second clocks): a job created before then is not in flight, whatever its
        age. The earliest time where INFO is not allowed."""
        from redis.exceptions import RedisError

        try:
            uptime = self.redis.info("server")["uptime_in_seconds"]
        except (RedisError, KeyError):
            return datetime.min.replace(tzinfo=timezone.utc)
        return utcnow() - timedelta(seconds=uptime + 1)

    def _where(self) -> str:
        return redis_location(self.url)


def _as_utc(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; LeanLife stores UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
