"""The RQ side: ``leanlife worker`` runs jobs that web processes enqueued.

The worker is an RQ ``SimpleWorker``: jobs run in the worker process itself, so heavy
libraries (torch) and CUDA are initialised once per worker, not once per job, and killing
the worker kills its job (the heartbeat then marks the job failed).

Redis may go away at any time: RQ's worker then quits (or retries forever while idle), so
``work`` starts a new one once Redis answers again, and a thread fails the queued jobs a
restarted Redis lost, which would otherwise block their project's training for good.
"""

from __future__ import annotations

import faulthandler
import importlib
import logging
import signal
import sys
import threading

from flask import Flask
from rq import SimpleWorker
from rq.exceptions import StopRequested

from leanlife_server.jobs.lanes import LANES, legacy_queue_name, queue_name
from leanlife_server.jobs.runners import redis_location

log = logging.getLogger(__name__)

_app: Flask | None = None
# Longest wait between two tries to reach a lost Redis (RQ's own backoff goes to 60 s).
RECONNECT_MAX_SECONDS = 10.0
# How long a stopping worker waits for RQ's listener thread (a daemon) to end.
UNSUBSCRIBE_WAIT_SECONDS = 1.0


def _worker_app() -> Flask:
    """The app of ``leanlife worker``; a plain ``rq worker`` builds one from the environment."""
    global _app
    if _app is None:
        from leanlife_server.app import create_app
        from leanlife_server.realtime import use_redis_emitter

        _app = create_app()
        use_redis_emitter(_app)
    return _app


# The LeanLife job this process runs now (RQ's SimpleWorker runs it in the main thread).
_running_job: int | None = None
# Set once ``preload`` is done (or was never started): a job waits for it rather than import
# the same modules from a second thread at the same time.
_preloaded = threading.Event()
_preloaded.set()
PRELOAD_WAIT_SECONDS = 600


def run(job_id: int, target: str) -> None:
    """What RQ calls for every LeanLife job."""
    global _running_job
    from leanlife_server.jobs import execute

    _preloaded.wait(PRELOAD_WAIT_SECONDS)
    with _worker_app().app_context():
        _running_job = job_id
        try:
            execute(job_id, target)
        finally:
            _running_job = None


def preload(app: Flask) -> list[str]:
    """Import the modules of every installed query strategy and model, and start CUDA where
    torch sees a GPU, while the worker waits for its first job: otherwise that job pays
    seconds of imports (torch, transformers, modAL's scikit-learn) and CUDA's start-up.
    Returns the modules imported; one that fails is logged and left for the job to report."""
    try:
        return _import_plugins(app)
    finally:
        _preloaded.set()


def _import_plugins(app: Flask) -> list[str]:
    plugins = app.extensions["leanlife"]
    modules = sorted({definition.factory.partition(":")[0]
                      for definition in [*plugins.query_strategies, *plugins.models]})
    loaded = []
    for module in modules:
        try:
            importlib.import_module(module)
            loaded.append(module)
        except Exception:  # noqa: BLE001 - a broken plugin must not stop the worker
            log.exception("preloading %s failed; the jobs that need it will say why", module)
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.init()
    return loaded


class _StopAwareLog:
    """RQ's logger, except that RQ's "could not connect to Redis" retry (its dequeue loop
    logs it, sleeps and tries again, for good) ends the loop once a stop was asked for. The
    signal handler's own ``StopRequested`` can be lost: raised while that very line is being
    written, the logging module swallows it as an error of its handler."""

    def __init__(self, log: logging.Logger, stop: threading.Event):
        self._log, self._stop = log, stop

    def __getattr__(self, name: str):
        return getattr(self._log, name)

    def error(self, message, *args, **kwargs) -> None:
        if self._stop.is_set() and "could not connect to Redis" in str(message):
            raise StopRequested()
        self._log.error(message, *args, **kwargs)


class LeanLifeWorker(SimpleWorker):
    """RQ's ``SimpleWorker`` that shares its stop signal with ``work``, to tell a stop from a
    lost Redis."""

    max_connection_wait_time = RECONNECT_MAX_SECONDS

    def __init__(self, *args, stop: threading.Event, **kwargs):
        super().__init__(*args, **kwargs)
        self.stop = stop
        self.log = _StopAwareLog(self.log, stop)

    def request_stop(self, signum, frame) -> None:
        """Stop now, not after the current job (RQ's warm shutdown would wait for hours of
        training): the job is interrupted and recorded failed, not requeued."""
        from leanlife_server.jobs import RUNNING, JobInterrupted, stopped_error

        self.stop.set()
        super().request_stop(signum, frame)
        if _running_job is not None:  # this handler runs in the job's thread: end it there
            raise JobInterrupted(stopped_error("the worker stopped", RUNNING))

    def dequeue_job_and_maintain_ttl(self, timeout, max_idle_time=None):
        if self.stop.is_set():  # the signal came before RQ listened for it
            raise StopRequested()
        return super().dequeue_job_and_maintain_ttl(timeout, max_idle_time)

    def unsubscribe(self) -> None:
        """RQ's unsubscribe, without its unbounded wait: RQ's listener thread may have read
        the unsubscribe reply before its stop flag was set, and then sleeps up to 60 s waiting
        for a subscription that never comes (redis-py), holding a stopping worker that long."""
        if not self.pubsub_thread:
            return
        log.info("unsubscribing from channel %s", self.pubsub_channel_name)
        self.pubsub_thread.stop(timeout=0)  # the flag first: the reply then ends its loop
        self.pubsub.unsubscribe()
        self.pubsub_thread.join(timeout=UNSUBSCRIBE_WAIT_SECONDS)
        if not self.pubsub_thread.is_alive():  # a daemon thread still reading closes it itself
            self.pubsub.close()

    def teardown(self) -> None:
        try:
            super().teardown()
        except Exception:  # Redis is down: RQ did not unsubscribe, and its listener would
            if self.pubsub_thread is not None:  # retry (every 2 s) for good
                self.pubsub_thread.stop(timeout=0)
            raise


def _fail_lost_jobs_forever(app: Flask, stop: threading.Event) -> None:
    """Now and every ``LEANLIFE_JOB_HEARTBEAT_SECONDS``: fail the queued jobs that Redis lost
    (it restarted without its data while they waited), so that their projects can train again."""
    from leanlife_server.jobs import fail_lost_jobs

    interval = app.config["LEANLIFE"].job_heartbeat_seconds
    while True:
        with app.app_context():
            try:
                fail_lost_jobs()
            except Exception:  # the database may be down too: try again next round
                log.exception("could not check the queued jobs against Redis")
        if stop.wait(interval):
            return


def _wait_for_redis(connection, where: str, stop: threading.Event) -> bool:
    """Block until Redis answers (True) or a stop signal comes (False)."""
    from redis.exceptions import RedisError

    delay = 1.0
    while not stop.is_set():
        try:
            connection.ping()
            return True
        except RedisError as exc:
            log.warning("Redis at %s does not answer (%s); trying again in %.0f s", where, exc, delay)
        stop.wait(delay)
        delay = min(delay * 2, RECONNECT_MAX_SECONDS)
    return False


def _stop_on_signals(stop: threading.Event) -> None:
    # RQ installs its own handlers while its worker runs; these serve in between.
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda *_: stop.set())


def worker_queue_names(prefix: str, lanes: tuple[str, ...] = LANES) -> list[str]:
    """The RQ queues a worker of these lanes empties, first to last: each lane's queue, and,
    with every lane, the queue of releases before lanes."""
    names = [queue_name(prefix, lane) for lane in lanes]
    return names + [legacy_queue_name(prefix)] if set(lanes) == set(LANES) else names


def work(app: Flask, burst: bool = False, lanes: tuple[str, ...] = LANES) -> None:
    """Serve jobs of ``lanes`` (all by default, small ones first) from ``LEANLIFE_REDIS_URL``
    until stopped (or, with ``burst``, until empty), riding out Redis outages."""
    from redis import Redis
    from redis.exceptions import RedisError
    from rq import Queue

    from leanlife_server.realtime import use_redis_emitter

    global _app
    settings = app.config["LEANLIFE"]
    if not settings.redis_url:
        raise RuntimeError("LEANLIFE_REDIS_URL is not set: a worker needs Redis "
                           "(without it, `leanlife serve` runs jobs in-process)")
    _app = app
    use_redis_emitter(app)
    # `kill -USR1 PID` prints every thread's stack: how an admin sees where a worker hangs.
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    _preloaded.clear()
    threading.Thread(target=preload, args=(app,), daemon=True,
                     name="leanlife-preload").start()
    stop = threading.Event()
    threading.Thread(target=_fail_lost_jobs_forever, args=(app, stop), daemon=True,
                     name="leanlife-lost-jobs").start()
    where = redis_location(settings.redis_url)
    connection = Redis.from_url(settings.redis_url, socket_connect_timeout=5)
    queues = [Queue(name, connection=connection) for name in worker_queue_names(settings.redis_prefix, lanes)]
    log.info("serving the job queues %s at %s", ", ".join(q.name for q in queues), where)
    try:
        while True:
            _stop_on_signals(stop)
            if not _wait_for_redis(connection, where, stop):
                return
            worker = LeanLifeWorker(queues, connection=connection, stop=stop)
            try:
                worker.work(burst=burst)
            except RedisError as exc:  # from RQ's teardown, which talks to Redis too
                log.warning("the RQ worker stopped: Redis at %s: %s", where, exc)
            except StopRequested:  # a stop signal that came during that teardown
                pass
            if burst or stop.is_set():
                return
            log.warning("the RQ worker lost Redis at %s; starting a new one once it answers", where)
    finally:
        stop.set()
