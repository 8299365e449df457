"""Scale-out: annotation throughput with 1, 2 and 4 web processes behind nginx, and the time
1 and 2 workers take to drain 20 queued trainings. On PostgreSQL and Redis, as
docs/deploy.md deploys LeanLife.

    python bench/scale.py [--web 1,2,4] [--workers 1,2] [--seconds 20] [--clients 16]

Throughput: N `leanlife serve` processes (``--workers 1 --threads 16`` each, their own data
dirs, one database, Redis and secret key) behind nginx running deploy/nginx/leanlife.conf
with its upstreams widened to N servers (tests/test_reverse_proxy.py runs the same file with
two). ``--clients`` annotator threads, each its own user with a keep-alive connection to
nginx, loop with no think time: GET a document, POST one of its entities as an NER
annotation with a one-span trigger explanation (the documents and entities of bench/api.py:
CoNLL-2003 sentences from ../shared/data). A *save* is one POST; saves/s and its p50/p99
latency are measured after a 2 s warm-up.

Draining: 20 projects on the toy classifier of the tests (``toy.bow.v1``,
tests/test_jobs_toy_models.py, naive Bayes in numpy) each get one training queued at once;
K `leanlife worker` processes, started and registered before, take them. Its config
``seconds_per_epoch`` makes each training last ``--train-seconds`` (a sleep: the time a real
model would spend on its GPU, which a CPU-only machine cannot show); the drain time is from
the first POST .../model/train to the 20th finished job.

Everything (nginx, web processes, workers, PostgreSQL, Redis and the load generator) runs on
this one machine: with few cores the figures show the cost of each request and how the
processes share the CPU, not what more machines would give. The load average is printed.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import requests
import sqlalchemy as sa

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # runnable alone, from a checkout

from bench.api import (  # noqa: E402
    DEFAULT_CONLL,
    PASSWORD,
    BenchDocument,
    build_documents,
    free_port,
    leanlife_command,
    ok_json,
    postgres_database,
    process_tree_cpu_seconds,
    session_for,
    set_up_project,
)
from tests import test_jobs_toy_models  # noqa: E402
from tests.nginx_site import NGINX, SiteChanged, write_config  # noqa: E402
from tests.test_jobs_support import toy_plugin_path  # noqa: E402

DEFAULT_POSTGRES = os.environ.get("LEANLIFE_BENCH_POSTGRES_URL",
                                  "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
DEFAULT_REDIS = os.environ.get("LEANLIFE_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
WARM_UP = 2.0
TRAININGS = 20


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


class Processes:
    """Subprocesses in their own sessions, stopped (SIGTERM, then SIGKILL) by process id."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.running: list[subprocess.Popen] = []

    def start(self, args: list[str], env: dict[str, str], name: str) -> subprocess.Popen:
        log = (self.folder / f"{name}.log").open("wb")
        process = subprocess.Popen(args, env=env, cwd=self.folder, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        self.running.append(process)
        return process

    def stop(self, process: subprocess.Popen) -> None:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)
        self.running.remove(process)

    def stop_all(self) -> None:
        for process in reversed(list(self.running)):
            self.stop(process)


def wait_for(url: str, process: subprocess.Popen, log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{process.args[0]} exited:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            if requests.get(url, timeout=1).ok:
                return
        except (requests.ConnectionError, requests.Timeout):
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} did not answer within {timeout} s")


@contextmanager
def installation(postgres_url: str, redis_url: str) -> Iterator[tuple[Processes, dict[str, str], Path]]:
    """A fresh PostgreSQL database, Redis prefix and folder; the environment every process shares."""
    with tempfile.TemporaryDirectory(prefix="leanlife-scale-") as folder, \
            postgres_database(postgres_url) as database_url:
        folder = Path(folder)
        prefix = f"leanlife-scale-{uuid.uuid4().hex[:8]}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("LEANLIFE_")}
        env.update({"LEANLIFE_DATABASE_URL": database_url, "LEANLIFE_REDIS_URL": redis_url,
                    "LEANLIFE_REDIS_PREFIX": prefix, "LEANLIFE_SECRET_KEY": "scale-bench",
                    "LEANLIFE_DATA_DIR": str(folder / "data-setup"),
                    # One bench user queues all 20 trainings; every request comes from nginx.
                    "LEANLIFE_MAX_JOBS_PER_USER": "0",
                    "LEANLIFE_LOGIN_LIMIT_PER_ADDRESS": "100000 per minute",
                    "PYTHONPATH": os.pathsep.join([str(toy_plugin_path(folder)), str(REPO)])})
        subprocess.run([leanlife_command(), "createuser", "admin", "--admin"], input=PASSWORD + "\n",
                       text=True, env=env, check=True, capture_output=True, cwd=folder)
        processes = Processes(folder)
        try:
            yield processes, env, folder
        finally:
            processes.stop_all()
            import redis

            connection = redis.Redis.from_url(redis_url)
            keys = list(connection.scan_iter(match=f"*{prefix}*"))
            if keys:
                connection.delete(*keys)


def start_web(processes: Processes, env: dict[str, str], folder: Path, n: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    own = {**env, "LEANLIFE_DATA_DIR": str(folder / f"data-web-{n}")}  # as on its own machine
    process = processes.start([leanlife_command(), "serve", "--port", str(port), "--workers", "1",
                               "--threads", "16"], own, f"web-{n}")
    wait_for(f"http://127.0.0.1:{port}/api/v1/health", process, folder / f"web-{n}.log")
    return process, f"127.0.0.1:{port}"


def start_nginx(processes: Processes, env: dict[str, str], folder: Path, backends: list[str]) -> tuple[subprocess.Popen, str]:
    prefix = folder / f"nginx-{len(backends)}"
    port = free_port()
    try:
        command = write_config(prefix, port, backends)
    except SiteChanged as e:
        raise SystemExit(str(e))
    process = processes.start(command, env, f"nginx-{len(backends)}")
    url = f"http://127.0.0.1:{port}"
    wait_for(f"{url}/api/v1/health", process, prefix / "error.log", 20)
    return process, url


def annotator(session: requests.Session, projects: str, documents: list[BenchDocument], seed: int,
              measure_from: float, stop_at: float, latencies: list[float], errors: list[str]) -> None:
    """GET a document, POST one of its entities (each at most once per annotator: no duplicates)."""
    pairs = [(d, e) for d in documents for e in d.entities]
    random.Random(seed).shuffle(pairs)
    for document, entity in pairs:
        if time.perf_counter() >= stop_at:
            return
        body = {"label": entity.label, "start": entity.start, "end": entity.end,
                "explanations": [{"kind": "trigger",
                                  "spans": [{"start": entity.trigger[0], "end": entity.trigger[1]}]}]}
        got = session.get(f"{projects}/documents/{document.id}")
        if not got.ok:
            errors.append(f"GET {got.status_code} {got.text[:200]}")
        started = time.perf_counter()
        saved = session.post(f"{projects}/documents/{document.id}/annotations", json=body)
        finished = time.perf_counter()
        if not saved.ok:
            errors.append(f"POST {saved.status_code} {saved.text[:200]}")
        elif measure_from <= started and finished <= stop_at:
            latencies.append((finished - started) * 1000)
    errors.append("an annotator ran out of entities: use more documents")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] if ordered else float("nan")


def throughput(args: argparse.Namespace, documents: list[BenchDocument]) -> list[str]:
    rows = []
    for n in args.web:
        with installation(args.postgres_url, args.redis_url) as (processes, env, folder):
            webs = [start_web(processes, env, folder, i) for i in range(n)]  # the first migrates
            backends = [backend for _, backend in webs]
            _, url = start_nginx(processes, env, folder, backends)
            base = f"{url}/api/v1"
            fresh = [BenchDocument(d.text, d.entities) for d in documents]
            project_id, sessions = set_up_project(base, fresh, args.clients)
            annotatable = [d for d in fresh if d.entities]
            latencies: list[list[float]] = [[] for _ in range(args.clients)]
            errors: list[str] = []
            before = load_average()
            start = time.perf_counter()
            threads = [threading.Thread(target=annotator, args=(
                sessions[i], f"{base}/projects/{project_id}", annotatable, i, start + WARM_UP,
                start + WARM_UP + args.seconds, latencies[i], errors)) for i in range(args.clients)]
            for thread in threads:
                thread.start()
            time.sleep(WARM_UP)
            cpu = sum(process_tree_cpu_seconds(web.pid) for web, _ in webs)
            for thread in threads:
                thread.join()
            # CPU of the web processes per save (their GETs included; PostgreSQL's and nginx's not):
            # unlike latency, other load on the machine hardly changes it.
            cpu = sum(process_tree_cpu_seconds(web.pid) for web, _ in webs) - cpu
            saves = [x for own in latencies for x in own]
            rows.append(f"| {n} | {args.clients} | {len(saves) / args.seconds:.0f} | {percentile(saves, 50):.1f} "
                        f"| {percentile(saves, 99):.1f} | {cpu * 1000 / max(1, len(saves)):.1f} | {len(errors)} "
                        f"| {before} -> {load_average()} |")
            print(rows[-1], flush=True)
            if errors:
                print(f"  first errors: {errors[:3]}", flush=True)
    return rows


def model_project(admin: requests.Session, base: str, config: dict) -> int:
    project = ok_json(admin.post(f"{base}/projects", json={"name": "reviews", "task": "sa"}))
    projects = f"{base}/projects/{project['id']}"
    for name, kind in test_jobs_toy_models.SENTIMENT_LABELS:
        ok_json(admin.post(f"{projects}/labels", json={"name": name, "kind": kind}))
    ok_json(admin.patch(f"{projects}/settings", json={"model": "toy.bow.v1", "model_config": config,
                                                      "retrain_policy": {"mode": "manual"},
                                                      "query_strategy": "random"}))
    texts = test_jobs_toy_models.POSITIVE + test_jobs_toy_models.NEGATIVE
    items = ok_json(admin.post(f"{projects}/documents", json={"documents": [
        {"text": f"{texts[i % len(texts)]} {i}"} for i in range(40)]}))["items"]
    for item in items[:8]:
        label = "pos" if any(item["text"].startswith(t) for t in test_jobs_toy_models.POSITIVE) else "neg"
        ok_json(admin.post(f"{projects}/documents/{item['id']}/annotations", json={"label": label}))
    return project["id"]


def draining(args: argparse.Namespace) -> list[str]:
    rows = []
    # The whole training is `epochs` sleeps of seconds_per_epoch (plus milliseconds of numpy).
    config = {"epochs": 2, "seconds_per_epoch": args.train_seconds / 2}
    with installation(args.postgres_url, args.redis_url) as (processes, env, folder):
        _, backend = start_web(processes, env, folder, 0)
        base = f"http://{backend}/api/v1"
        admin = session_for(base, "admin")
        projects = [model_project(admin, base, config) for _ in range(TRAININGS)]
        engine = sa.create_engine(env["LEANLIFE_DATABASE_URL"])
        try:
            for k in args.workers:
                workers = [processes.start([leanlife_command(), "worker"],
                                           {**env, "LEANLIFE_DATA_DIR": str(folder / f"data-worker-{k}-{i}")},
                                           f"worker-{k}-{i}") for i in range(k)]

                def registered() -> int:
                    counts = ok_json(admin.get(f"{base}/health", params={"details": 1}))["workers"]
                    return max(counts.values(), default=0)

                deadline = time.monotonic() + 120
                while registered() < k:
                    if time.monotonic() > deadline or any(w.poll() is not None for w in workers):
                        raise SystemExit(f"{k} workers did not register; see {folder}/worker-*.log")
                    time.sleep(0.2)
                before = load_average()
                start = time.perf_counter()
                jobs = [ok_json(admin.post(f"{base}/projects/{pid}/model/train"))["id"] for pid in projects]
                queued = time.perf_counter() - start
                while True:
                    with engine.connect() as connection:
                        states = dict(connection.execute(sa.text(
                            "SELECT state, count(*) FROM jobs WHERE id = ANY(:ids) GROUP BY state"),
                            {"ids": jobs}).all())
                    if states.get("finished", 0) + states.get("failed", 0) == TRAININGS:
                        break
                    if time.perf_counter() - start > 600:
                        raise SystemExit(f"the trainings did not drain in 600 s: {states}")
                    time.sleep(0.05)
                drained = time.perf_counter() - start
                ideal = TRAININGS * args.train_seconds / k
                rows.append(f"| {k} | {TRAININGS} | {args.train_seconds:g} | {queued:.1f} | {drained:.1f} "
                            f"| {ideal:.0f} | {(drained - ideal) / TRAININGS * k:.2f} "
                            f"| {states.get('failed', 0)} | {before} -> {load_average()} |")
                print(rows[-1], flush=True)
                for worker in workers:
                    processes.stop(worker)
        finally:
            engine.dispose()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--web", default="1,2,4", type=lambda s: [int(x) for x in s.split(",") if x])
    parser.add_argument("--workers", default="1,2", type=lambda s: [int(x) for x in s.split(",") if x])
    parser.add_argument("--seconds", type=float, default=20.0, help="measured seconds per web configuration")
    parser.add_argument("--clients", type=int, default=16, help="annotator threads")
    parser.add_argument("--documents", type=int, default=300)
    parser.add_argument("--train-seconds", type=float, default=1.0, help="how long each training lasts")
    parser.add_argument("--conll", type=Path, default=DEFAULT_CONLL)
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES)
    parser.add_argument("--redis-url", default=DEFAULT_REDIS)
    parser.add_argument("--skip", choices=("throughput", "draining"), action="append", default=[])
    args = parser.parse_args()
    if not Path(NGINX).is_file():
        raise SystemExit("nginx is missing: apt-get install nginx")
    print(f"{os.cpu_count()} CPUs, load average {load_average()}", flush=True)
    if "throughput" not in args.skip:
        documents = build_documents(args.conll, args.documents, 12)
        print(f"\nAnnotation throughput, PostgreSQL, nginx, {args.clients} annotators without pauses, "
              f"{args.seconds:g} s each\n", flush=True)
        print("| web processes | annotators | saves/s | p50 ms | p99 ms | web CPU ms/save | errors "
              "| load average (1/5/15 min) before -> after |")
        print("|---:|---:|---:|---:|---:|---:|---:|---|", flush=True)
        throughput(args, documents)
    if "draining" not in args.skip:
        print(f"\nDraining {TRAININGS} queued trainings (toy.bow.v1, {args.train_seconds:g} s each)\n", flush=True)
        print("| workers | trainings | s per training | s to queue | s to drain | ideal s | overhead s per job "
              "| failed | load average before -> after |")
        print("|---:|---:|---:|---:|---:|---:|---:|---:|---|", flush=True)
        draining(args)


if __name__ == "__main__":
    main()
