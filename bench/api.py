"""Simulated annotators against a real ``leanlife serve``: requests/s and p50/p99 latency.

Each annotator is a thread with its own user, bearer token and keep-alive connection
(requests.Session). It loops: GET a document, POST an NER annotation with a trigger
explanation. Documents are CoNLL-2003 sentences grouped into news-length texts, read from
../shared/data (never copied into the repository); the annotations are their real entities.

    python bench/api.py [--database sqlite|postgres|both] [--seconds N] [--clients 1,10,50]

The server gets a fresh LEANLIFE_DATA_DIR in a temporary directory; on PostgreSQL a fresh
database is created and dropped afterwards. The load generator runs on the same machine
as the server and competes with it for the CPU.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import requests
import sqlalchemy as sa

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # runnable alone, from a checkout
from bench.corpora import LABELS, BenchDocument, build_documents  # noqa: E402
DEFAULT_CONLL = REPO.parent / "shared" / "data" / "conll2003" / "train.txt"
DEFAULT_POSTGRES = os.environ.get("LEANLIFE_BENCH_POSTGRES_URL",
                                  "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
PASSWORD = "bench password 1"
BATCH = 1000  # the API's largest document batch


@dataclass
class RunResult:
    database: str
    clients: int
    seconds: float
    latencies_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    server_cpu_seconds: float = 0.0

    @property
    def server_cpu_ms_per_request(self) -> float:
        return self.server_cpu_seconds * 1000 / max(1, len(self.latencies_ms))

    @property
    def requests_per_second(self) -> float:
        return len(self.latencies_ms) / self.seconds

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] if ordered else float("nan")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def postgres_database(admin_url: str) -> Iterator[str]:
    """A fresh database on the server of ``admin_url``, dropped on the way out."""
    url = sa.engine.make_url(admin_url)
    name = f"leanlife_bench_{os.getpid()}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def leanlife_command() -> str:
    """The ``leanlife`` script of the running interpreter's environment."""
    beside = Path(sys.executable).with_name("leanlife")
    found = str(beside) if beside.exists() else shutil.which("leanlife")
    if found is None:
        raise SystemExit("no `leanlife` command: pip install -e . in this environment")
    return found


def process_tree_cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process and its descendants (Linux /proc): the server's
    own cost per request, which other load on the machine does not inflate the way it does latency."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except FileNotFoundError:
        return 0.0
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return own + sum(process_tree_cpu_seconds(int(child)) for child in children)


@contextmanager
def leanlife_server(database_url: str | None, serve_args: list[str]) -> Iterator[tuple[str, int]]:
    """``leanlife createuser`` then ``leanlife serve`` in a fresh data dir; yields the base URL
    and the server's process id."""
    with tempfile.TemporaryDirectory(prefix="leanlife-bench-") as data_dir:
        env = {**os.environ, "LEANLIFE_DATA_DIR": data_dir}
        env.pop("LEANLIFE_DATABASE_URL", None)
        if database_url:
            env["LEANLIFE_DATABASE_URL"] = database_url
        leanlife = [leanlife_command()]
        subprocess.run([*leanlife, "createuser", "admin", "--admin"], input=PASSWORD + "\n",
                       text=True, env=env, check=True, capture_output=True)
        port = free_port()
        log = open(Path(data_dir) / "serve.log", "w+")
        server = subprocess.Popen([*leanlife, "serve", "--port", str(port), *serve_args],
                                  env=env, stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}/api/v1"
        try:
            wait_until_healthy(base, server, log)
            yield base, server.pid
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:  # never hide the error that brought us here
                server.kill()
                server.wait()
            log.close()


def wait_until_healthy(base: str, server: subprocess.Popen, log) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            log.seek(0)
            raise SystemExit(f"leanlife serve exited with {server.returncode}:\n{log.read()}")
        try:
            if requests.get(f"{base}/health", timeout=1).ok:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"leanlife serve did not answer {base}/health within 60 s")


def session_for(base: str, username: str) -> requests.Session:
    token = requests.post(f"{base}/auth/token", json={"username": username, "password": PASSWORD})
    token.raise_for_status()
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token.json()['token']}"
    return session


def ok_json(response: requests.Response) -> dict:
    if not response.ok:
        raise SystemExit(f"{response.request.method} {response.url}: {response.status_code} {response.text}")
    return response.json()


def set_up_project(base: str, documents: list[BenchDocument], annotators: int,
                   no_cheap_recommenders: bool = False) -> tuple[int, list[requests.Session]]:
    """An NER project with trigger explanations, its labels, documents and annotators.
    ``no_cheap_recommenders``: the project's model is its only recommender, so no save queues
    a retraining of the cheap ones (the server's CPU is then the requests' alone)."""
    admin = session_for(base, "admin")
    project = ok_json(admin.post(f"{base}/projects", json={"name": "bench", "task": "ner",
                                                       "explanation_kind": "trigger"}))
    projects = f"{base}/projects/{project['id']}"
    if no_cheap_recommenders:
        ok_json(admin.patch(f"{projects}/settings",
                            json={"recommenders": [project["settings"]["model"]]}))
    for name in LABELS:
        ok_json(admin.post(f"{projects}/labels", json={"name": name}))
    for i in range(0, len(documents), BATCH):
        batch = documents[i:i + BATCH]
        saved = ok_json(admin.post(f"{projects}/documents",
                               json={"documents": [{"text": d.text} for d in batch]}))["items"]
        for document, row in zip(batch, saved):
            document.id = row["id"]
    sessions = []
    for n in range(annotators):
        username = f"annotator{n}"
        ok_json(admin.post(f"{base}/users", json={"username": username, "password": PASSWORD}))
        ok_json(admin.post(f"{projects}/members", json={"username": username, "role": "annotator"}))
        sessions.append(session_for(base, username))
    return project["id"], sessions


def annotate(session: requests.Session, projects: str, documents: list[BenchDocument],
             seed: int, warm_up_until: float, stop_at: float, result: RunResult,
             think_ms: float = 0.0) -> None:
    """One annotator: fetch a document, save one of its entities with a trigger, pause for an
    exponentially distributed think time of mean ``think_ms`` (0: none), repeat."""
    rng = random.Random(seed)
    latencies: list[float] = []
    while True:
        if think_ms:
            time.sleep(min(rng.expovariate(1000.0 / think_ms), max(0.0, stop_at - time.perf_counter())))
        document = rng.choice(documents)
        entity = rng.choice(document.entities)
        body = {"label": entity.label, "start": entity.start, "end": entity.end,
                "explanations": [{"kind": "trigger",
                                  "spans": [{"start": entity.trigger[0], "end": entity.trigger[1]}]}]}
        for method, url, kwargs in (("GET", f"{projects}/documents/{document.id}", {}),
                                    ("POST", f"{projects}/documents/{document.id}/annotations",
                                     {"json": body})):
            started = time.perf_counter()
            response = session.request(method, url, **kwargs)
            finished = time.perf_counter()
            if finished >= stop_at:
                result.latencies_ms.extend(latencies)
                return
            if not response.ok:
                result.errors.append(f"{method} {response.status_code} {response.text[:200]}")
            elif started >= warm_up_until:
                latencies.append((finished - started) * 1000)


def run_load(base: str, server_pid: int, project_id: int, sessions: list[requests.Session],
             documents: list[BenchDocument], clients: int, seconds: float, database: str,
             think_ms: float = 0.0) -> RunResult:
    warm_up = min(2.0, seconds / 5)
    result = RunResult(database, clients, seconds)
    start = time.perf_counter()
    threads = [threading.Thread(target=annotate, args=(
        sessions[n], f"{base}/projects/{project_id}", documents, n, start + warm_up,
        start + warm_up + seconds, result, think_ms)) for n in range(clients)]
    for thread in threads:
        thread.start()
    time.sleep(warm_up)
    cpu_before = process_tree_cpu_seconds(server_pid)
    time.sleep(seconds)
    result.server_cpu_seconds = process_tree_cpu_seconds(server_pid) - cpu_before
    for thread in threads:
        thread.join()
    return result


def bench_database(database: str, args: argparse.Namespace,
                   documents: list[BenchDocument]) -> list[RunResult]:
    serve_args = ["--workers", str(args.workers), "--threads", str(args.threads)]
    annotatable = [d for d in documents if d.entities]

    def run(database_url: str | None) -> list[RunResult]:
        with leanlife_server(database_url, serve_args) as (base, server_pid):
            project_id, sessions = set_up_project(base, documents, max(args.clients),
                                                  args.no_cheap_recommenders)
            results = []
            for clients in args.clients:
                results.append(run_load(base, server_pid, project_id, sessions, annotatable,
                                        clients, args.seconds, database, args.think_ms))
                print(format_row(results[-1]), flush=True)
            return results

    if database == "postgres":
        with postgres_database(args.postgres_url) as url:
            return run(url)
    return run(None)


HEADER = (f"{'database':<10} {'clients':>7} {'requests':>9} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'server CPU ms/req':>17} {'errors':>6}")


def format_row(r: RunResult) -> str:
    return (f"{r.database:<10} {r.clients:>7} {len(r.latencies_ms):>9} {r.requests_per_second:>8.0f} "
            f"{r.percentile(50):>8.1f} {r.percentile(99):>8.1f} {r.server_cpu_ms_per_request:>17.2f} "
            f"{len(r.errors):>6}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per client count")
    parser.add_argument("--clients", type=lambda s: [int(n) for n in s.split(",")], default=[1, 10, 50],
                        help="comma-separated client counts (default 1,10,50)")
    parser.add_argument("--documents", type=int, default=2000)
    parser.add_argument("--sentences-per-document", type=int, default=12)
    parser.add_argument("--conll", type=Path, default=DEFAULT_CONLL,
                        help="CoNLL-2003 file to build texts from")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES,
                        help="a PostgreSQL server URL (any database; the bench creates its own)")
    parser.add_argument("--think-ms", type=float, default=0.0,
                        help="mean pause of an annotator between a save and the next fetch "
                             "(exponential); 0 sends the next request at once (closed loop)")
    parser.add_argument("--workers", type=int, default=1, help="passed to leanlife serve")
    parser.add_argument("--threads", type=int, default=32, help="passed to leanlife serve")
    parser.add_argument("--no-cheap-recommenders", action="store_true",
                        help="the project's model as its only recommender: saves queue no "
                             "retraining jobs, so server CPU is the requests' own")
    args = parser.parse_args(argv)
    if not args.conll.exists():
        parser.error(f"--conll {args.conll}: not found (the shared datasets live in ../shared/data)")

    documents = build_documents(args.conll, args.documents, args.sentences_per_document)
    mean_chars = statistics.mean(len(d.text) for d in documents)
    print(f"{len(documents)} documents, {mean_chars:.0f} characters on average; "
          f"serve --workers {args.workers} --threads {args.threads}; {args.seconds:g} s per run; "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} before the start")
    print(HEADER, flush=True)
    databases = ("sqlite", "postgres") if args.database == "both" else (args.database,)
    results = [r for database in databases for r in bench_database(database, args, documents)]
    for r in results:
        if r.errors:
            print(f"{r.database} {r.clients} clients: {len(r.errors)} errors, first: {r.errors[0]}")
    return 1 if any(r.errors for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
