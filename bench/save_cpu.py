"""CPU and SQL statements of one annotator step in-process: Flask's test client (no HTTP,
no gunicorn), the request's own thread only, so other load on the machine and the jobs a
save queues (the cheap recommenders) do not count.

    python bench/save_cpu.py [--database-url URL] [--steps 1000] [--profile [PATTERN]]

The same project as ``bench/api.py``: NER with trigger explanations, labels PER, LOC, ORG,
MISC, one annotator. Each step POSTs a span with a one-span trigger (3 rows) and GETs the
document with the annotator's annotations. Prints the statements of one save and one read,
and the thread CPU ms of each, and the whole process's CPU per save (the
jobs the saves queue included). ``--profile`` prints cProfile's cumulative CPU time (thread
time) of the saves, restricted to functions matching PATTERN. On PostgreSQL give a URL of a
database to create (``postgresql+psycopg://postgres@127.0.0.1:5432/leanlife_save_cpu``): it
is created and dropped.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import tempfile
import threading
import time
from pathlib import Path

import sqlalchemy as sa

from leanlife_server.app import create_app
from leanlife_server.auth import create_user, issue_token
from leanlife_server.db import db
from leanlife_server.db.migrate import upgrade

TEXT = "EU rejects German call to boycott British lamb . Peter Blackburn . " * 12  # 816 characters
SAVES_PER_DOCUMENT = 4
WARM_UP = 40


def _postgres(url: sa.engine.URL, statement: str) -> None:
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(statement))
    admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="default: SQLite in a temporary directory")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--profile", nargs="?", const="leanlife_server", default=None)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="leanlife-save-cpu-"))
    url = args.database_url or f"sqlite:///{tmp / 'db.sqlite3'}"
    if url.startswith("postgresql"):
        parsed = sa.engine.make_url(url)
        _postgres(parsed, f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)')
        _postgres(parsed, f'CREATE DATABASE "{parsed.database}"')
    try:
        run(url, tmp, args)
    finally:
        if url.startswith("postgresql"):
            _postgres(parsed, f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)')


def run(url: str, tmp: Path, args: argparse.Namespace) -> None:
    app = create_app({"database_url": url, "data_dir": tmp / "data", "secret_key": "bench"})
    upgrade(app)
    with app.app_context():
        admin, annotator = create_user("admin", "correct horse battery", is_admin=True), \
            create_user("annotator", "correct horse battery")
        db.session.commit()
        admin_token, annotator_token = issue_token(admin)[1], issue_token(annotator)[1]
        db.session.commit()
        engine = db.engine
    client = app.test_client()
    as_admin = {"Authorization": f"Bearer {admin_token}"}
    as_annotator = {"Authorization": f"Bearer {annotator_token}"}
    project = client.post("/api/v1/projects", headers=as_admin, json={
        "name": "bench", "task": "ner", "explanation_kind": "trigger"}).get_json()["id"]
    base = f"/api/v1/projects/{project}"
    for name in ("PER", "LOC", "ORG", "MISC"):
        client.post(f"{base}/labels", headers=as_admin, json={"name": name})
    count = (WARM_UP + 1 + args.steps) // SAVES_PER_DOCUMENT + 1
    documents = [d["id"] for d in client.post(f"{base}/documents", headers=as_admin, json={
        "documents": [{"text": TEXT} for _ in range(count)]}).get_json()["items"]]
    client.post(f"{base}/members", headers=as_admin, json={"username": "annotator", "role": "annotator"})

    def save(i: int) -> None:
        start = (i % SAVES_PER_DOCUMENT) * 70
        answer = client.post(f"{base}/documents/{documents[i // SAVES_PER_DOCUMENT]}/annotations",
                             headers=as_annotator, json={
                                 "label": "PER", "start": start, "end": start + 2, "explanations": [
                                     {"kind": "trigger", "spans": [{"start": start + 3, "end": start + 10}]}]})
        assert answer.status_code == 201, answer.get_json()

    def read(i: int) -> None:
        answer = client.get(f"{base}/documents/{documents[i // SAVES_PER_DOCUMENT]}", headers=as_annotator)
        assert answer.status_code == 200, answer.get_json()

    statements: list[str] = []

    def count_statement(_conn, _cursor, statement, *_rest) -> None:
        if threading.current_thread() is threading.main_thread():  # not the jobs' threads
            statements.append(statement.split("\n")[0][:100])

    for i in range(WARM_UP):
        save(i)
        read(i)
    sa.event.listen(engine, "before_cursor_execute", count_statement)
    for name, step in (("save", save), ("read", read)):
        statements.clear()
        step(WARM_UP)
        print(f"statements per {name}: {len(statements)}")
        for statement in statements:
            print(f"    {statement}")
    sa.event.remove(engine, "before_cursor_execute", count_statement)
    steps = range(WARM_UP + 1, WARM_UP + 1 + args.steps)
    profile = cProfile.Profile(time.thread_time) if args.profile else None
    started, process_started = time.thread_time(), time.process_time()
    if profile:
        profile.enable()
    for i in steps:
        save(i)
    if profile:
        profile.disable()
    save_ms = (time.thread_time() - started) * 1000 / args.steps
    save_process_ms = (time.process_time() - process_started) * 1000 / args.steps
    started = time.thread_time()
    for i in steps:
        read(i)
    read_ms = (time.thread_time() - started) * 1000 / args.steps
    print(f"{engine.dialect.name}: {args.steps} steps, thread CPU {save_ms:.2f} ms per save, "
          f"{read_ms:.2f} ms per read, {(save_ms + read_ms) / 2:.2f} ms per request; "
          f"the whole process (with the jobs saves queue) {save_process_ms:.2f} ms per save")
    if profile:
        pstats.Stats(profile).sort_stats("cumulative").print_stats(args.profile, 40)


if __name__ == "__main__":
    main()
