"""Faults against real processes: is every acknowledged save in the database afterwards, and
does training come back? The robustness issue's red-team figures, rerun.

    python bench/faults.py [--database sqlite|postgres|both] [--scenarios LIST] [--scale FACTOR]

Scenarios (``--scenarios`` takes a comma-separated subset, in this order):

- ``server-kill``: 20 annotators save NER annotations with trigger explanations; the whole
  ``leanlife serve`` process group is killed (SIGKILL) and started again.
- ``worker-kill``: with Redis, a ``leanlife worker`` is killed (SIGKILL) while it trains
  ``triggerner.v1``; the job must end failed (heartbeat timeout) and the next one train.
- ``redis-outage``: a private ``redis-server`` holding a queued training job is killed and
  started again, empty, while annotators save; the lost job must end failed and training resume.
- ``disk-full``: the data dir (and the SQLite database) on a 20 MB tmpfs, filled with one big
  file while annotators save, then emptied. Needs root (``mount``); skipped, saying why, if
  the mount is refused.
- ``import``: ``--scale`` x 400,000 documents imported (a job in the server's process) while
  annotators save; then a second import is killed (SIGKILL of the server) mid-way: none of its
  documents may be visible after the restart.

Each save is one (document, annotator, span) used once, so a row can be traced back to the
request that wrote it. Afterwards the bench reads the database itself: "found" counts the
acknowledged (201) saves whose row, with its trigger span, is there; "extra" counts rows of
saves that got no 201 (no answer, or an error) but landed anyway, which is allowed. "jobs
stuck" counts jobs still queued or running once the scenario has recovered. The machine is
shared: the load average is printed with every row.
"""

from __future__ import annotations

import argparse
import errno
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import redis
import requests
import sqlalchemy as sa

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.api import (  # noqa: E402
    DEFAULT_CONLL,
    PASSWORD,
    BenchDocument,
    build_documents,
    free_port,
    leanlife_command,
    ok_json,
    postgres_database,
    session_for,
    set_up_project,
)
from bench.imports import generate  # noqa: E402

DEFAULT_POSTGRES = os.environ.get("LEANLIFE_BENCH_POSTGRES_URL",
                                  "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
SCENARIOS = ("server-kill", "worker-kill", "redis-outage", "disk-full", "import")
FULL_IMPORT = 400_000
# Short, so that a killed worker's job is noticed within seconds.
HEARTBEAT = {"LEANLIFE_JOB_HEARTBEAT_SECONDS": "1", "LEANLIFE_JOB_HEARTBEAT_TIMEOUT": "5"}
# Small and few epochs: the bench measures recovery, not the model.
QUICK_TRAINING = {"epochs": 1, "hidden": 50}
SLOW_TRAINING = {"epochs": 200, "hidden": 50}
ACTIVE_JOBS = ("queued", "running")


def wait_for(condition: Callable[[], object], timeout: float, what: str, poll: float = 0.2) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(poll)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")


class Service:
    """A process in its own session, so that SIGKILL reaches its whole group (a server's
    gunicorn workers die with their master) and nothing else."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path):
        self.log = log
        with open(log, "ab") as out:
            self.process = subprocess.Popen(args, env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
                                            start_new_session=True)

    def kill9(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(30)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.kill9()

    def output(self) -> str:
        return self.log.read_text(errors="replace")


class PrivateRedis:
    """A redis-server on a free port without persistence: each start is empty, as a Redis
    that lost its data comes back."""

    def __init__(self, directory: Path):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.directory = directory
        self.service: Service | None = None

    def start(self) -> None:
        self.service = Service(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                                "--save", "", "--appendonly", "no"], {"PATH": os.environ["PATH"]},
                               self.directory / "redis.log")
        client = redis.Redis.from_url(self.url)
        wait_for(lambda: _pings(client), 20, "redis-server to answer")

    def kill9(self) -> None:
        if self.service is not None:
            self.service.kill9()
            self.service = None


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False


class Stack:
    """One data dir and database; ``leanlife serve`` (always on one port, so that annotators'
    sessions reconnect to a restarted server) and ``leanlife worker`` processes on them."""

    def __init__(self, data_dir: Path, log_dir: Path, database_url: str, redis_url: str | None = None,
                 settings: dict[str, str] | None = None):
        self.data_dir, self.log_dir = data_dir, log_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}/api/v1"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("LEANLIFE_")}
        self.env.update({"LEANLIFE_DATA_DIR": str(data_dir), "LEANLIFE_DATABASE_URL": database_url,
                         "LEANLIFE_SECRET_KEY": "bench-faults", **HEARTBEAT, **(settings or {})})
        if redis_url:
            self.env["LEANLIFE_REDIS_URL"] = redis_url
        self.services: list[Service] = []
        self.engine = sa.create_engine(database_url, poolclass=sa.pool.NullPool)
        subprocess.run([leanlife_command(), "createuser", "admin", "--admin"], input=PASSWORD + "\n",
                       text=True, env=self.env, check=True, capture_output=True)

    def start_server(self) -> Service:
        server = Service([leanlife_command(), "serve", "--port", str(self.port), "--workers", "1",
                          "--threads", "32"], self.env, self.log_dir / "serve.log")
        self.services.append(server)

        def healthy() -> bool:
            if server.process.poll() is not None:
                raise RuntimeError(f"leanlife serve exited:\n{server.output()[-3000:]}")
            try:
                return requests.get(f"{self.base}/health", timeout=2).ok
            except requests.RequestException:
                return False

        wait_for(healthy, 120, "leanlife serve to answer")
        return server

    def start_worker(self) -> Service:
        worker = Service([leanlife_command(), "worker"], self.env,
                         self.log_dir / f"worker-{len(self.services)}.log")
        self.services.append(worker)
        wait_for(lambda: "Listening on" in worker.output(), 60, "leanlife worker to listen")
        return worker

    def stop(self) -> None:
        for service in reversed(self.services):
            service.stop()
        self.engine.dispose()

    def scalar(self, query: str, **params) -> int:
        with self.engine.connect() as conn:
            return conn.execute(sa.text(query), params).scalar_one()

    def job_states(self) -> str:
        with self.engine.connect() as conn:
            counts = conn.execute(sa.text("SELECT kind, state, count(*) FROM jobs GROUP BY kind, state")).all()
        return ", ".join(f"{kind} {state} {n}" for kind, state, n in counts)

    def stuck_jobs(self, admin: requests.Session, projects: str, timeout: float = 180) -> int:
        """Jobs still queued or running ``timeout`` s after the scenario's end: reading the
        project's model status fails those whose worker died or whose queue lost them."""
        def active() -> int:
            ok_json(admin.get(f"{projects}/model"))
            return self.scalar("SELECT count(*) FROM jobs WHERE state IN ('queued', 'running')")
        try:
            wait_for(lambda: active() == 0, timeout, "jobs to end", poll=1.0)
        except TimeoutError:
            pass
        return active()


@dataclass
class Attempt:
    username: str
    document_id: int
    start: int
    end: int
    phase: str
    status: int | None = None  # None: no answer (connection refused or reset, timeout)
    annotation_id: int | None = None
    latency_ms: float = 0.0
    error: str = ""

    @property
    def acknowledged(self) -> bool:
        return self.status == 201


class Savers:
    """Annotator threads, each saving (document, entity) pairs it has not saved before, with a
    trigger, until stopped. ``phase`` tags each attempt with the scenario's current step."""

    def __init__(self, projects: str, sessions: dict[str, requests.Session],
                 documents: list[BenchDocument], think_ms: float):
        self.projects, self.think_ms = projects, think_ms
        self.attempts: list[Attempt] = []
        self.lock = threading.Lock()
        self.phase = "before"
        self.stopped = threading.Event()
        pairs = [(d, e) for d in documents for e in d.entities]
        self.threads = [threading.Thread(target=self._save, args=(username, session, pairs, n), daemon=True)
                        for n, (username, session) in enumerate(sessions.items())]

    def __enter__(self) -> "Savers":
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stopped.set()
        for thread in self.threads:
            thread.join()

    def _save(self, username: str, session: requests.Session, pairs: list, seed: int) -> None:
        rng = random.Random(seed)
        order = rng.sample(pairs, len(pairs))
        for document, entity in order:
            if self.stopped.is_set():
                return
            if self.think_ms:
                self.stopped.wait(rng.expovariate(1000.0 / self.think_ms))
            attempt = Attempt(username, document.id, entity.start, entity.end, self.phase)
            body = {"label": entity.label, "start": entity.start, "end": entity.end,
                    "explanations": [{"kind": "trigger",
                                      "spans": [{"start": entity.trigger[0], "end": entity.trigger[1]}]}]}
            started = time.perf_counter()
            try:
                response = session.post(f"{self.projects}/documents/{document.id}/annotations", json=body,
                                        timeout=60)
                attempt.status = response.status_code
                if response.status_code == 201:
                    attempt.annotation_id = response.json()["id"]
                else:
                    attempt.error = response.text[:300]
            except requests.RequestException as exc:
                attempt.error = type(exc).__name__
            attempt.latency_ms = (time.perf_counter() - started) * 1000
            with self.lock:
                self.attempts.append(attempt)
            if attempt.status is None:
                self.stopped.wait(0.2)  # the server is down: try the next pair shortly

    def acknowledged_count(self) -> int:
        with self.lock:
            return sum(a.acknowledged for a in self.attempts)


@dataclass
class Row:
    scenario: str
    database: str
    attempted: int = 0
    acknowledged: int = 0
    found: int = 0
    extra: int = 0
    server_errors: int = 0
    no_answer: int = 0
    stuck: str = "-"
    training_again: str = "-"
    notes: list[str] = field(default_factory=list)
    load: str = ""

    @property
    def lost(self) -> int:
        return self.acknowledged - self.found


def account(stack: Stack, project_id: int, attempts: list[Attempt], row: Row) -> None:
    """Match the database's rows to the saves: acknowledged ones by id (with their trigger
    span), the others by (document, annotator, span)."""
    with stack.engine.connect() as conn:
        users = dict(conn.execute(sa.text("SELECT username, id FROM users")).all())
        stored = conn.execute(sa.text(
            "SELECT a.id, a.document_id, a.user_id, a.start, a.\"end\", count(t.id) FROM annotations a "
            "LEFT JOIN explanations e ON e.annotation_id = a.id "
            "LEFT JOIN trigger_spans t ON t.explanation_id = e.id "
            "WHERE a.project_id = :project AND a.import_id IS NULL GROUP BY a.id, a.document_id, a.user_id, a.start, a.\"end\""),
            {"project": project_id}).all()
    rows = {r[0]: (tuple(r[1:5]), r[5]) for r in stored}

    def key(a: Attempt) -> tuple:
        return (a.document_id, users[a.username], a.start, a.end)

    acknowledged = [a for a in attempts if a.acknowledged]
    acknowledged_ids = {a.annotation_id for a in acknowledged}
    unanswered_keys = {key(a) for a in attempts if not a.acknowledged}
    row.attempted += len(attempts)
    row.acknowledged += len(acknowledged)
    row.found += sum(1 for a in acknowledged if a.annotation_id in rows
                     and rows[a.annotation_id][0] == key(a) and rows[a.annotation_id][1] >= 1)
    others = [k for i, (k, _) in rows.items() if i not in acknowledged_ids]
    row.extra += sum(1 for k in others if k in unanswered_keys)
    phantoms = sum(1 for k in others if k not in unanswered_keys)
    if phantoms:
        row.notes.append(f"{phantoms} rows match no save")
    row.server_errors += sum(1 for a in attempts if a.status is not None and a.status >= 500)
    row.no_answer += sum(1 for a in attempts if a.status is None)
    if row.lost:
        row.notes.append(f"LOST: {row.lost} acknowledged saves not found")


def logged_errors(log: Path) -> str:
    """The exceptions a log names, most frequent first ('sqlite3.OperationalError: ... x12')."""
    found = Counter(line.strip()[:120] for line in log.read_text(errors="replace").splitlines()
                    if re.match(r"^[\w.]+(Error|Exception): ", line.strip()))
    return "; ".join(f"{line} x{n}" for line, n in found.most_common(3)) or "no exceptions"


def by_phase(attempts: list[Attempt]) -> str:
    """'phase: 201x12 500x3 none x4; ...' in the order the phases happened."""
    phases: dict[str, Counter] = {}
    for a in attempts:
        phases.setdefault(a.phase, Counter())[a.status or "no answer"] += 1
    return "; ".join(f"{phase}: " + " ".join(f"{status}x{n}" for status, n in sorted(
        counts.items(), key=lambda item: str(item[0]))) for phase, counts in phases.items())


def first_errors(attempts: list[Attempt]) -> str:
    seen: dict[object, str] = {}
    for a in attempts:
        if not a.acknowledged and a.status not in seen:
            seen[a.status] = a.error
    return "; ".join(f"{status or 'no answer'}: {error[:160]}" for status, error in seen.items())


# -- the scenarios ---------------------------------------------------------------------------


@dataclass
class Context:
    args: argparse.Namespace
    database: str
    documents: list[BenchDocument]
    work: Path  # logs and generated files; data dirs go under it
    database_url: str | None = None  # PostgreSQL's; SQLite's is a file in the data dir
    stack: "Stack | None" = None  # the scenario's, once made


def new_project(stack: Stack, context: Context, annotators: int) -> tuple[int, str, requests.Session,
                                                                           dict[str, requests.Session]]:
    project_id, sessions = set_up_project(stack.base, context.documents, annotators)
    projects = f"{stack.base}/projects/{project_id}"
    return (project_id, projects, session_for(stack.base, "admin"),
            {f"annotator{n}": s for n, s in enumerate(sessions)})


def sleep_while_saving(savers: Savers, seconds: float, phase: str) -> None:
    savers.phase = phase
    time.sleep(seconds)


def server_kill(context: Context, row: Row) -> None:
    stack = _stack(context)
    try:
        server = stack.start_server()
        project_id, projects, admin, sessions = new_project(stack, context, context.args.annotators)
        with Savers(projects, sessions, context.documents, context.args.think_ms) as savers:
            sleep_while_saving(savers, context.args.seconds, "before")
            server.kill9()
            savers.phase = "down"
            time.sleep(1.0)
            started = time.monotonic()
            stack.start_server()
            row.notes.append(f"server back in {time.monotonic() - started:.1f} s")
            sleep_while_saving(savers, context.args.seconds, "after")
        row.stuck = str(stack.stuck_jobs(admin, projects))
        account(stack, project_id, savers.attempts, row)
        row.notes.append(by_phase(savers.attempts))
    finally:
        stack.stop()


def train_and_wait(stack: Stack, admin: requests.Session, projects: str, timeout: float) -> dict:
    job = ok_json(admin.post(f"{projects}/model/train"))
    return wait_for(lambda: (j := ok_json(admin.get(f"{projects}/jobs/{job['id']}")))["state"]
                    not in ACTIVE_JOBS and j, timeout, f"training job {job['id']} to end", poll=0.5)


def training_project(admin: requests.Session, projects: str, documents: list[BenchDocument],
                     config: dict) -> list[Attempt]:
    """The owner labels ``documents`` (every entity, with its trigger) and picks triggerner.v1."""
    attempts = []
    for document in documents:
        for entity in document.entities:
            response = admin.post(f"{projects}/documents/{document.id}/annotations", json={
                "label": entity.label, "start": entity.start, "end": entity.end,
                "explanations": [{"kind": "trigger", "spans": [{"start": entity.trigger[0],
                                                                "end": entity.trigger[1]}]}]})
            attempts.append(Attempt("admin", document.id, entity.start, entity.end, "labels",
                                    response.status_code, response.json().get("id"), error=response.text[:300]))
    ok_json(admin.patch(f"{projects}/settings", json={"model": "triggerner.v1", "model_config": config,
                                                      "retrain_policy": {"mode": "manual"}}))
    return attempts


def worker_kill(context: Context, row: Row) -> None:
    redis_server = PrivateRedis(context.work)
    redis_server.start()
    stack = _stack(context, redis_server.url)
    try:
        stack.start_server()
        worker = stack.start_worker()
        project_id, projects, admin, _ = new_project(stack, context, 0)
        attempts = training_project(admin, projects, context.documents[:context.args.training_documents],
                                    SLOW_TRAINING)
        job = ok_json(admin.post(f"{projects}/model/train"))
        jobs = f"{projects}/jobs/{job['id']}"
        wait_for(lambda: ok_json(admin.get(jobs))["progress"] > 0, 300, "training to make progress", poll=0.3)
        worker.kill9()
        killed = time.monotonic()
        failed = wait_for(lambda: (j := ok_json(admin.get(jobs)))["state"] not in ACTIVE_JOBS and j, 120,
                          "the killed worker's job to end", poll=0.5)
        row.notes.append(f"killed job {failed['state']} after {time.monotonic() - killed:.1f} s "
                         f"({(failed['error'] or '')[:90]})")
        ok_json(admin.patch(f"{projects}/settings", json={"model_config": QUICK_TRAINING}))
        stack.start_worker()
        again = train_and_wait(stack, admin, projects, 600)
        row.training_again = "yes" if again["state"] == "finished" else f"no ({again['error']})"
        row.stuck = str(stack.stuck_jobs(admin, projects))
        account(stack, project_id, attempts, row)
    finally:
        stack.stop()
        redis_server.kill9()


def redis_outage(context: Context, row: Row) -> None:
    redis_server = PrivateRedis(context.work)
    redis_server.start()
    stack = _stack(context, redis_server.url)
    try:
        stack.start_server()
        project_id, projects, admin, sessions = new_project(stack, context, context.args.annotators)
        labeled = context.documents[:context.args.training_documents]
        attempts = training_project(admin, projects, labeled, QUICK_TRAINING)
        # The annotators save on the other documents: each (document, annotator, span) once.
        with Savers(projects, sessions, context.documents[len(labeled):], context.args.think_ms) as savers:
            sleep_while_saving(savers, context.args.seconds / 2, "before")
            queued = ok_json(admin.post(f"{projects}/model/train"))  # no worker yet: it waits in Redis
            redis_server.kill9()
            savers.phase = "Redis down"
            time.sleep(context.args.seconds / 2)
            during = admin.post(f"{projects}/model/train")
            code = during.json().get("error", {}).get("code") if not during.ok else "accepted"
            row.notes.append(f"train while Redis is down: {during.status_code} {code}")
            time.sleep(context.args.seconds / 2)
            redis_server.start()
            savers.phase = "after"
            stack.start_worker()
            lost = wait_for(lambda: (j := ok_json(admin.get(f"{projects}/jobs/{queued['id']}")))["state"]
                            not in ACTIVE_JOBS and j, 120, "the lost job to end", poll=0.5)
            row.notes.append(f"job queued before the outage: {lost['state']}")
        # Trained once the annotators stop: while they save, every save queues a dictionary
        # retraining in the small lane, which one worker takes before the model lane.
        again = train_and_wait(stack, admin, projects, 600)
        row.training_again = "yes" if again["state"] == "finished" else f"no ({again['error']})"
        row.stuck = str(stack.stuck_jobs(admin, projects))
        account(stack, project_id, attempts + savers.attempts, row)
        row.notes.append(by_phase(savers.attempts))
        if row.server_errors:
            row.notes.append(first_errors(savers.attempts))
    finally:
        stack.stop()
        redis_server.kill9()


def mount_tmpfs(directory: Path, megabytes: int) -> str | None:
    """Mount a ``megabytes`` tmpfs on ``directory``; returns why not, or None."""
    try:
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={megabytes}m", "tmpfs", str(directory)],
                       check=True, capture_output=True, text=True)
    except subprocess.CalledProcessError as exc:
        return exc.stderr.strip() or f"mount exited with {exc.returncode}"
    except FileNotFoundError as exc:
        return str(exc)
    return None


def fill(path: Path) -> int:
    """Write ``path`` until the filesystem is full; returns its bytes."""
    written = 0
    with open(path, "wb", buffering=0) as out:
        for block in (1 << 20, 1 << 14, 1 << 12, 1 << 9):
            chunk = b"\0" * block
            while True:
                try:
                    written += out.write(chunk)
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
                    break
    return written


def disk_full(context: Context, row: Row) -> None:
    mount_point = context.work / "small"
    mount_point.mkdir()
    refused = mount_tmpfs(mount_point, context.args.disk_mb)
    if refused:
        row.notes.append(f"SKIPPED: cannot mount a {context.args.disk_mb} MB tmpfs ({refused})")
        return
    try:
        if context.database != "sqlite":
            row.notes.append("the database is on the PostgreSQL server's disk; only the data dir is full")
        stack = _stack_in(context, mount_point / "data")
        try:
            stack.start_server()
            project_id, projects, admin, sessions = new_project(stack, context, context.args.annotators)
            filler = mount_point / "filler"
            with Savers(projects, sessions, context.documents, context.args.think_ms) as savers:
                sleep_while_saving(savers, context.args.seconds / 2, "before")
                filled = fill(filler)
                savers.phase = "full"
                time.sleep(context.args.seconds)
                filler.unlink()
                sleep_while_saving(savers, context.args.seconds, "freed")
            row.notes.append(f"filler {filled / 2**20:.1f} MB")
            row.stuck = str(stack.stuck_jobs(admin, projects))
            account(stack, project_id, savers.attempts, row)
            row.notes.append(f"server log: {logged_errors(stack.log_dir / 'serve.log')}")
            row.notes.append(by_phase(savers.attempts))
            row.notes.append(first_errors(savers.attempts))
            after = [a for a in savers.attempts if a.phase == "freed"]
            last = after[len(after) // 2:]  # the second half: any save caught by the freeing is done
            row.notes.append(f"saves work again: {'yes' if last and all(a.acknowledged for a in last) else 'no'}")
        finally:
            stack.stop()
    finally:
        subprocess.run(["umount", str(mount_point)], check=False, capture_output=True)


def visible_documents(admin: requests.Session, projects: str) -> int:
    return ok_json(admin.get(f"{projects}/documents", params={"count": "true", "limit": 1}))["total"]


def import_with_savers(context: Context, row: Row) -> None:
    size = max(1, int(FULL_IMPORT * context.args.scale))
    source = context.work / "import.jsonl"
    generate(source, size)
    # The upload is one request: let it through whatever its size.
    stack = _stack(context, settings={"LEANLIFE_MAX_REQUEST_BYTES": str(2 * source.stat().st_size + 2**20)})
    try:
        server = stack.start_server()
        project_id, projects, admin, sessions = new_project(stack, context, context.args.annotators)
        with Savers(projects, sessions, context.documents, context.args.think_ms) as savers:
            sleep_while_saving(savers, context.args.seconds / 2, "before")
            before = visible_documents(admin, projects)
            savers.phase = "import"
            started = time.monotonic()
            done = upload_and_wait(admin, projects, source)
            seconds = time.monotonic() - started
            imported = visible_documents(admin, projects) - before
            during = [a for a in savers.attempts if a.phase == "import"]
            quiet = [a for a in savers.attempts if a.phase == "before"]
            row.notes.append(f"import of {size:,} documents {done['state']} in {seconds:.1f} s, "
                             f"{imported:,} visible; saves during it: {latency(during)}; "
                             f"saves before it (the same machine's load, no import): {latency(quiet)}")
            savers.phase = "killed import"
            before = visible_documents(admin, projects)
            killed_job = start_import(admin, projects, source)
            staged = ("SELECT count(*) FROM documents WHERE import_id IN "
                      "(SELECT id FROM import_stagings WHERE project_id = :project)")
            wait_for(lambda: stack.scalar(staged, project=project_id) > 0, 600, "the import's first chunk",
                     poll=0.05)
            server.kill9()
            hidden = stack.scalar(staged, project=project_id)
            stack.start_server()
            savers.phase = "after"
            after = visible_documents(admin, projects)
            job = ok_json(admin.get(f"{projects}/jobs/{killed_job['id']}"))
            row.notes.append(f"import killed with {hidden:,} documents written: {after - before} visible "
                             f"after the restart ({'all-or-nothing' if after == before else 'PARTIAL'}), "
                             f"its job {job['state']}")
            sleep_while_saving(savers, context.args.seconds / 2, "after")
        row.stuck = str(stack.stuck_jobs(admin, projects))
        account(stack, project_id, savers.attempts, row)
        row.notes.append(by_phase(savers.attempts))
        if row.server_errors:
            row.notes.append(first_errors(savers.attempts))
    finally:
        stack.stop()


def start_import(admin: requests.Session, projects: str, source: Path) -> dict:
    with open(source, "rb") as upload:
        return ok_json(admin.post(f"{projects}/imports", files={"file": (source.name, upload)},
                                  data={"format": "jsonl"}))


def upload_and_wait(admin: requests.Session, projects: str, source: Path) -> dict:
    job = start_import(admin, projects, source)
    return wait_for(lambda: (j := ok_json(admin.get(f"{projects}/jobs/{job['id']}")))["state"]
                    not in ACTIVE_JOBS and j, 3600, "the import", poll=1.0)


def latency(attempts: list[Attempt]) -> str:
    if not attempts:
        return "none"
    ordered = sorted(a.latency_ms for a in attempts)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    errors = sum(1 for a in attempts if a.status is None or a.status >= 500)
    return f"{len(ordered)}, p50 {statistics.median(ordered):.0f} ms, p99 {p99:.0f} ms, 5xx/no answer {errors}"


# -- running ---------------------------------------------------------------------------------

RUNNERS = {"server-kill": server_kill, "worker-kill": worker_kill, "redis-outage": redis_outage,
           "disk-full": disk_full, "import": import_with_savers}


def _stack(context: Context, redis_url: str | None = None, settings: dict[str, str] | None = None) -> Stack:
    return _stack_in(context, context.work / "data", redis_url, settings)


def _stack_in(context: Context, data_dir: Path, redis_url: str | None = None,
              settings: dict[str, str] | None = None) -> Stack:
    database_url = (f"sqlite:///{data_dir / 'leanlife.sqlite3'}" if context.database == "sqlite"
                    else context.database_url)
    context.stack = Stack(data_dir, context.work, database_url, redis_url, settings)
    return context.stack


def run_scenario(name: str, database: str, args: argparse.Namespace,
                 documents: list[BenchDocument]) -> Row:
    row = Row(name, database)
    with tempfile.TemporaryDirectory(prefix=f"leanlife-faults-{name}-") as work:
        database_context = (postgres_database(args.postgres_url) if database == "postgres"
                            else nullcontext(None))
        with database_context as database_url:
            context = Context(args, database, [BenchDocument(d.text, d.entities) for d in documents],
                              Path(work), database_url)
            started = time.monotonic()
            try:
                RUNNERS[name](context, row)
            except (Exception, SystemExit) as exc:  # one scenario's failure is a row, not the end of the run
                if isinstance(exc, SystemExit) and not isinstance(exc.code, str):
                    raise  # a signal, not bench.api.ok_json's refusal
                row.notes.append(f"ERROR: {type(exc).__name__}: {exc}"[:600])
                if context.stack is not None:
                    row.notes.append(f"jobs: {context.stack.job_states()}")
                logs = sorted(Path(work).glob("*.log"))
                for log in logs:
                    row.notes.append(f"{log.name}: ..." + log.read_text(errors="replace")[-800:])
            row.notes.append(f"{time.monotonic() - started:.0f} s")
    row.load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    return row


HEADER = ("| scenario | database | attempted | acknowledged | found | extra | 5xx | no answer "
          "| jobs stuck | training again | load average |")


def format_row(r: Row) -> str:
    return (f"| {r.scenario} | {r.database} | {r.attempted} | {r.acknowledged} | {r.found} | {r.extra} "
            f"| {r.server_errors} | {r.no_answer} | {r.stuck} | {r.training_again} | {r.load} |")


def failed(r: Row) -> bool:
    return bool(r.lost) or r.stuck not in ("-", "0") or any(
        n.startswith(("ERROR", "LOST")) or "PARTIAL" in n for n in r.notes)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=("sqlite", "postgres", "both"), default="sqlite")
    parser.add_argument("--scenarios", type=lambda s: [n.strip() for n in s.split(",") if n.strip()],
                        default=list(SCENARIOS), help=f"comma-separated, of {','.join(SCENARIOS)}")
    parser.add_argument("--scale", type=float, default=1.0,
                        help=f"the import scenario imports SCALE x {FULL_IMPORT:,} documents")
    parser.add_argument("--annotators", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each saving phase")
    parser.add_argument("--think-ms", type=float, default=100.0,
                        help="mean pause of an annotator between saves (exponential)")
    parser.add_argument("--documents", type=int, default=300)
    parser.add_argument("--training-documents", type=int, default=30,
                        help="documents the owner labels before training (worker-kill, redis-outage)")
    parser.add_argument("--disk-mb", type=int, default=20, help="size of the disk-full scenario's tmpfs")
    parser.add_argument("--conll", type=Path, default=DEFAULT_CONLL)
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES)
    args = parser.parse_args(argv)
    # A SIGTERM (from `timeout`, say) unwinds like Ctrl-C, so every scenario stops the
    # processes it started: they run in sessions of their own and would outlive the bench.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    unknown = [s for s in args.scenarios if s not in SCENARIOS]
    if unknown:
        parser.error(f"--scenarios: unknown {unknown}; choose from {list(SCENARIOS)}")
    if not args.conll.exists():
        parser.error(f"--conll {args.conll}: not found (the shared datasets live in ../shared/data)")
    documents = [d for d in build_documents(args.conll, args.documents, 12) if d.entities]
    print(f"{args.annotators} annotators, think time {args.think_ms:g} ms, {args.seconds:g} s phases, "
          f"{len(documents)} documents; {os.cpu_count()} CPUs, load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())} at the start", flush=True)
    print(HEADER)
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|", flush=True)
    databases = ("sqlite", "postgres") if args.database == "both" else (args.database,)
    rows = []
    for database in databases:
        for name in (s for s in SCENARIOS if s in args.scenarios):
            rows.append(run_scenario(name, database, args, documents))
            print(format_row(rows[-1]), flush=True)
    print()
    for r in rows:
        print(f"{r.scenario} ({r.database}): " + " | ".join(r.notes))
    return 1 if any(failed(r) for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
