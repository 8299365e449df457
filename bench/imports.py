"""Labeled imports: documents/s and peak memory, and annotators' save latency during an import.

    python bench/imports.py speed [--sizes 100000,300000] [--databases sqlite,postgres]
    python bench/imports.py saves [--size 400000] [--annotators 10] [--think-ms 200] [--via api|cli]

``speed`` imports N generated NER documents, each with one span and a trigger explanation
(JSON Lines, docs/formats.md), with the real import code into a fresh database, one fresh
subprocess per (database, size) so that its peak resident memory (ru_maxrss) is its own; then
it times reading them back as a model dataset ("dataset s": what every retraining reads first).

``saves`` starts a real ``leanlife serve`` (SQLite, jobs run in the server process), lets
annotator threads save annotations (POST .../annotations with a trigger) while ``--size``
documents are imported, uploaded through the API (``--via api``) or by ``leanlife import``
in another process (``--via cli``), and prints the saves' p50, p99 and maximum latency and
their errors from the start of the import to its end.

Both print the load average: the machine is shared, and the figures mean little without it.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.api import (  # noqa: E402
    PASSWORD,
    leanlife_command,
    leanlife_server,
    ok_json,
    postgres_database,
    session_for,
)

WORDS = ("annotation explanation trigger model entity relation sentence label the a of to "
         "and in for with on by learns from data quickly server project").split()
LABELS = ("PER", "ORG")
DEFAULT_POSTGRES = os.environ.get("LEANLIFE_BENCH_POSTGRES_URL",
                                  "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def generate(path: Path, count: int) -> None:
    """``count`` JSONL records: "<name> <verb> ...", the name labeled, the verb its trigger."""
    rng = random.Random(count)
    with open(path, "w", encoding="utf-8") as out:
        for i in range(count):
            name = f"Name{i}"
            text = f"{name} founded " + " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 18)))
            out.write(json.dumps({"text": text, "annotations": [{
                "label": rng.choice(LABELS), "start": 0, "end": len(name),
                "explanations": [{"kind": "trigger", "spans": [
                    {"start": len(name) + 1, "end": len(name) + 8}]}]}]}) + "\n")


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def import_child(database_url: str, source: Path) -> dict:
    """Inside the child: migrate, make an NER project with triggers, import; time it."""
    from leanlife_server.app import create_app
    from leanlife_server.db.migrate import upgrade
    from leanlife_server.formats.importer import import_file
    from leanlife_server.pipeline.dataset import labeled_examples
    from tests.formats_helpers import new_project

    work = Path(tempfile.mkdtemp(prefix="leanlife-imports-"))
    app = create_app({"database_url": database_url, "data_dir": work, "secret_key": "bench"})
    upgrade(app)
    with app.app_context():
        project = new_project("ner", "trigger")
        started = time.perf_counter()
        cpu = time.process_time()
        result = import_file(project, source, "jsonl")
        seconds = time.perf_counter() - started
        cpu = time.process_time() - cpu
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        # What every retraining then reads first: the labeled documents as a model dataset.
        started = time.perf_counter()
        examples = labeled_examples(project.id)
        dataset_seconds = time.perf_counter() - started
        assert len(examples) == result.documents
    return {"documents": result.documents, "annotations": result.annotations, "seconds": seconds,
            "cpu_seconds": cpu, "peak_mb": peak_mb, "dataset_seconds": dataset_seconds}


def speed(args: argparse.Namespace) -> None:
    # CPU seconds (the importing process's own) vary less than wall time on a shared machine;
    # a database server's CPU time is not in them.
    print(f"{'database':<10} {'documents':>10} {'seconds':>8} {'docs/s':>8} {'docs/CPU s':>10} "
          f"{'peak MB':>8} {'dataset s':>9}  load average")
    with tempfile.TemporaryDirectory(prefix="leanlife-imports-") as tmp:
        for size in (int(s) for s in args.sizes.split(",")):
            source = Path(tmp) / f"labeled-{size}.jsonl"
            generate(source, size)
            for database in args.databases.split(","):
                if database == "sqlite":
                    row = _child(f"sqlite:///{tmp}/bench-{size}.sqlite3", source)
                else:
                    with postgres_database(args.postgres_url) as url:
                        row = _child(url, source)
                print(f"{database:<10} {row['documents']:>10} {row['seconds']:>8.1f} "
                      f"{row['documents'] / row['seconds']:>8,.0f} "
                      f"{row['documents'] / row['cpu_seconds']:>10,.0f} {row['peak_mb']:>8.0f} "
                      f"{row['dataset_seconds']:>9.1f}  "
                      f"{load_average()}", flush=True)


def _child(url: str, source: Path) -> dict:
    child = subprocess.run([sys.executable, __file__, "child", url, str(source)], cwd=REPO,
                           capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    if child.returncode:
        raise SystemExit(child.stderr)
    return json.loads(child.stdout.strip().splitlines()[-1])


def _annotator(session: requests.Session, projects: str, document_ids: list[int], seed: int,
               think_ms: float, stop: threading.Event, latencies: list[float], errors: list[str]) -> None:
    rng = random.Random(seed)
    while not stop.is_set():
        time.sleep(rng.expovariate(1000.0 / think_ms) if think_ms else 0)
        document_id = rng.choice(document_ids)
        body = {"label": rng.choice(LABELS), "start": 0, "end": 4,
                "explanations": [{"kind": "trigger", "spans": [{"start": 5, "end": 12}]}]}
        started = time.perf_counter()
        response = session.post(f"{projects}/documents/{document_id}/annotations", json=body)
        latencies.append((time.perf_counter() - started) * 1000)
        if not response.ok:
            errors.append(f"{response.status_code} after {latencies[-1] / 1000:.1f} s")


def saves(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="leanlife-imports-") as tmp:
        source = Path(tmp) / "import.jsonl"
        generate(source, args.size)
        database_url = f"sqlite:///{tmp}/serve.sqlite3"
        with leanlife_server(database_url, ["--threads", "32"]) as (base, _pid):
            admin = session_for(base, "admin")
            project = ok_json(admin.post(f"{base}/projects", json={
                "name": "bench", "task": "ner", "explanation_kind": "trigger"}))
            projects = f"{base}/projects/{project['id']}"
            for name in LABELS:
                ok_json(admin.post(f"{projects}/labels", json={"name": name}))
            saved = ok_json(admin.post(f"{projects}/documents", json={"documents": [
                {"text": f"Anna founded thing {i}"} for i in range(200)]}))["items"]
            document_ids = [row["id"] for row in saved]
            sessions = []
            for n in range(args.annotators):
                ok_json(admin.post(f"{base}/users", json={"username": f"a{n}", "password": PASSWORD}))
                ok_json(admin.post(f"{projects}/members", json={"username": f"a{n}", "role": "annotator"}))
                sessions.append(session_for(base, f"a{n}"))
            latencies: list[float] = []
            errors: list[str] = []
            stop = threading.Event()
            threads = [threading.Thread(target=_annotator, args=(
                session, projects, document_ids, n, args.think_ms, stop, latencies, errors))
                for n, session in enumerate(sessions)]
            for thread in threads:
                thread.start()
            try:
                baseline, outcome, seconds = _import_during_saves(args, admin, base, project["id"], source,
                                                                  database_url, tmp, latencies)
                load = load_average()
            finally:  # a server with busy clients would not stop
                stop.set()
                for thread in threads:
                    thread.join()
    print(f"import of {args.size} documents through the {args.via}: {outcome}, {seconds:.1f} s; "
          f"load average {load}")
    print(f"saves in {args.baseline_seconds:.0f} s before the import: {_latency(baseline)}")
    print(f"saves during the import: {_latency(latencies)}, errors {len(errors)}")
    for error in errors[:5]:
        print(f"  {error}")


def _import_during_saves(args: argparse.Namespace, admin: requests.Session, base: str, project_id: int,
                         source: Path, database_url: str, tmp: str, latencies: list[float]
                         ) -> tuple[list[float], str, float]:
    """Wait ``--baseline-seconds``, import, wait for the end; returns the baseline latencies,
    what the import said, and its seconds."""
    time.sleep(args.baseline_seconds)  # the saves' latency without an import
    baseline, latencies[:] = list(latencies), []
    started = time.perf_counter()
    if args.via == "api":  # a job in the server's process
        with open(source, "rb") as upload:
            job = ok_json(admin.post(f"{base}/projects/{project_id}/imports",
                                     files={"file": ("import.jsonl", upload)}, data={"format": "jsonl"}))
        while job["state"] in ("queued", "running"):
            time.sleep(0.5)
            job = ok_json(admin.get(f"{base}/projects/{project_id}/jobs/{job['id']}"))
        outcome = f"job {job['state']} ({job.get('result', {}).get('documents')} documents, {job.get('error')})"
    else:  # `leanlife import`, another process
        command = subprocess.run(
            [leanlife_command(), "import", str(project_id), str(source), "--format", "jsonl"],
            env={**os.environ, "LEANLIFE_DATABASE_URL": database_url, "LEANLIFE_DATA_DIR": tmp},
            capture_output=True, text=True)
        outcome = (command.stdout.strip() or command.stderr.strip()[-300:]
                   or f"exit status {command.returncode}")
    return baseline, outcome, time.perf_counter() - started


def _latency(latencies: list[float]) -> str:
    if not latencies:
        return "none"
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return (f"{len(ordered)}, p50 {statistics.median(ordered):.0f} ms, p99 {p99:.0f} ms, "
            f"max {ordered[-1]:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("speed")
    run.add_argument("--sizes", default="100000,300000")
    run.add_argument("--databases", default="sqlite")
    run.add_argument("--postgres-url", default=DEFAULT_POSTGRES)
    load = commands.add_parser("saves")
    load.add_argument("--size", type=int, default=400000)
    load.add_argument("--annotators", type=int, default=10)
    load.add_argument("--think-ms", type=float, default=200.0)
    load.add_argument("--baseline-seconds", type=float, default=10.0)
    load.add_argument("--via", choices=("api", "cli"), default="api",
                      help="upload to the server (a job in its process), or run `leanlife import`")
    child = commands.add_parser("child")
    child.add_argument("database_url")
    child.add_argument("file", type=Path)
    args = parser.parse_args()
    if args.command == "child":
        print(json.dumps(import_child(args.database_url, args.file)))
    else:
        {"speed": speed, "saves": saves}[args.command](args)


if __name__ == "__main__":
    main()
