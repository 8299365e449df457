"""Imports write in chunks, hidden until they publish: all or nothing, without starving saves.

Real imports (the import code on real files, a real killed process); SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

from leanlife_server.db import db
from leanlife_server.db.models import Annotation, Document, ImportStaging, Job, Label, Project, utcnow
from leanlife_server.formats.importer import import_file
from leanlife_server.formats.reader import ExportFilters, count_documents
from leanlife_server.formats.staging import remove_abandoned_imports
from leanlife_server.jobs.heartbeat import reap_stale_jobs
from leanlife_server.plugin_api import FormatError
from tests.conftest import add_document, create_project

REPO = Path(__file__).resolve().parents[1]


def write_records(path: Path, count: int, label: str = "PER", duplicate_at: int | None = None) -> Path:
    """``count`` NER records with one span and a trigger each; record ``duplicate_at`` (if
    any) repeats the first record's text."""
    with open(path, "w", encoding="utf-8") as out:
        for i in range(count):
            name = "Name0" if i == duplicate_at else f"Name{i}"
            out.write(json.dumps({"text": f"{name} founded Acme", "annotations": [{
                "label": label, "start": 0, "end": len(name), "explanations": [
                    {"kind": "trigger", "spans": [{"start": len(name) + 1, "end": len(name) + 8}]}]}]})
                      + "\n")
    return path


def raw_counts(project_id: int) -> tuple[int, int, int]:
    """Documents and annotations of the project, hidden or not, and unfinished imports."""
    return (db.session.scalar(sa.select(sa.func.count(Document.id)).where(Document.project_id == project_id)),
            db.session.scalar(sa.select(sa.func.count(Annotation.id)).where(Annotation.project_id == project_id)),
            db.session.scalar(sa.select(sa.func.count(ImportStaging.id))))


def visible(owner, project_id: int) -> dict:
    """What members see: the document listing's total, the queue's next document, the export."""
    listing = owner.get(f"/api/v1/projects/{project_id}/documents?count=true").get_json()
    queued = owner.get(f"/api/v1/projects/{project_id}/queue/next")
    return {"listed": listing["total"], "queued": queued.status_code == 200,
            "exported": count_documents(project_id, ExportFilters())}


def test_an_import_failing_half_way_leaves_nothing(app, make_caller, tmp_path):
    owner = make_caller("owner")
    project = create_project(owner, "ner", "trigger", labels=(("ORG", "span"),))
    path = write_records(tmp_path / "a.jsonl", 3000, label="PER", duplicate_at=2500)
    seen_while_writing = []

    def progress(fraction: float, phase: str) -> None:
        if phase == "writing" and fraction > 0.6 and not seen_while_writing:
            seen_while_writing.append((raw_counts(project["id"]), visible(owner, project["id"])))

    with app.app_context():
        target = db.session.get(Project, project["id"])
        try:
            import_file(target, path, "jsonl", duplicates="fail", batch_size=50, progress=progress)
            raise AssertionError("the duplicate should have failed the import")
        except FormatError as exc:
            assert "line 2501" in str(exc)
        (documents, annotations, imports), seen = seen_while_writing[0]
        assert documents >= 950 and annotations == documents and imports == 1  # committed chunks...
        assert seen == {"listed": 0, "queued": False, "exported": 0}  # ...that nobody sees
        assert raw_counts(project["id"]) == (0, 0, 0)  # the failure removed them
        labels = db.session.scalars(sa.select(Label.name).where(Label.project_id == project["id"])).all()
        assert labels == ["ORG"]  # the PER label the import created went too
        assert visible(owner, project["id"]) == {"listed": 0, "queued": False, "exported": 0}


KILLED_IMPORT = textwrap.dedent("""
    import os, signal, sys
    from leanlife_server.app import create_app
    from leanlife_server.db import db
    from leanlife_server.db.models import Project
    from leanlife_server.formats.importer import import_file

    url, data_dir, project_id, job_id, path = sys.argv[1:]

    def progress(fraction, phase):
        if phase == "writing" and fraction > 0.8:  # 2,000 of 3,000 records written
            os.kill(os.getpid(), signal.SIGKILL)

    app = create_app({"database_url": url, "data_dir": data_dir, "secret_key": "x"})
    with app.app_context():
        import_file(db.session.get(Project, int(project_id)), path, "jsonl", batch_size=50,
                    progress=progress, job_id=int(job_id))
""")


def test_a_killed_import_stays_hidden_and_the_next_import_removes_it(make_app, make_caller,
                                                                   database_url, tmp_path):
    app = make_app({"job_heartbeat_timeout": 1})
    owner = make_caller("owner")
    project = create_project(owner, "ner", "trigger", labels=(("PER", "span"),))
    with app.app_context():
        job = Job(project_id=project["id"], kind="import", state="running", heartbeat_at=utcnow())
        db.session.add(job)
        db.session.commit()
        job_id = job.id
    child = subprocess.run([sys.executable, "-c", KILLED_IMPORT, database_url, str(tmp_path / "data"),
                            str(project["id"]), str(job_id), str(write_records(tmp_path / "a.jsonl", 3000))],
                           cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
                           capture_output=True, text=True, timeout=300)
    assert child.returncode == -signal.SIGKILL, child.stderr
    with app.app_context():
        documents, annotations, imports = raw_counts(project["id"])
        assert documents >= 1950 and annotations == documents and imports == 1
        assert visible(owner, project["id"]) == {"listed": 0, "queued": False, "exported": 0}
        hidden_id = db.session.scalar(sa.select(Document.id).where(Document.project_id == project["id"]))
        assert owner.get(f"/api/v1/projects/{project['id']}/documents/{hidden_id}").status_code == 404
        # Still running as far as anyone knows: the next import leaves it alone.
        assert remove_abandoned_imports(db.engine) == 0
        time.sleep(1.1)
        assert [j.id for j in reap_stale_jobs(project["id"])] == [job_id]  # the heartbeat went silent
        db.session.commit()
        target = db.session.get(Project, project["id"])
        result = import_file(target, write_records(tmp_path / "b.jsonl", 10), "jsonl")
        assert result.documents == 10
        assert raw_counts(project["id"]) == (10, 10, 0)
        assert visible(owner, project["id"])["listed"] == 10


def test_a_killed_command_line_import_goes_once_it_stops_writing(app, make_caller, database_url, tmp_path):
    owner = make_caller("owner")
    project = create_project(owner, "ner", "trigger", labels=(("PER", "span"),))
    with app.app_context():
        job = Job(project_id=project["id"], kind="import", state="running")
        db.session.add(job)
        db.session.commit()
        job_id = job.id
    subprocess.run([sys.executable, "-c", KILLED_IMPORT, database_url, str(tmp_path / "data"),
                    str(project["id"]), str(job_id), str(write_records(tmp_path / "a.jsonl", 3000))],
                   cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, timeout=300)
    with app.app_context():
        db.session.execute(sa.update(ImportStaging).values(job_id=None))  # as `leanlife import` has none
        db.session.commit()
        assert remove_abandoned_imports(db.engine) == 0  # it wrote a moment ago
        assert remove_abandoned_imports(db.engine, abandoned_after=timedelta(0)) == 1
        assert raw_counts(project["id"]) == (0, 0, 0)


def test_saves_go_through_while_a_big_import_writes(app, make_caller, tmp_path):
    owner = make_caller("owner")
    project = create_project(owner, "ner", "trigger", labels=(("PER", "span"),))
    document = add_document(owner, project["id"], "Anna Bert Cleo Dora Emil")  # five names, apart
    path = write_records(tmp_path / "big.jsonl", 30000)
    writing = threading.Event()
    outcome: dict = {}

    def run_import() -> None:
        with app.app_context():
            target = db.session.get(Project, project["id"])
            try:
                outcome["result"] = import_file(target, path, "jsonl", batch_size=300, progress=lambda _f, phase: (
                    writing.set() if phase == "writing" else None))
            except BaseException as exc:  # reported by the assertion below
                outcome["error"] = exc

    importer = threading.Thread(target=run_import)
    importer.start()
    assert writing.wait(120), outcome
    time.sleep(0.5)  # well into the writing
    latencies = []
    for start in range(5):
        began = time.perf_counter()
        response = owner.post(f"/api/v1/projects/{project['id']}/documents/{document['id']}/annotations",
                              json={"label": "PER", "start": 5 * start, "end": 5 * start + 4})
        latencies.append(time.perf_counter() - began)
        assert response.status_code == 201, response.get_json()
    still_importing = importer.is_alive()
    importer.join(300)
    assert "error" not in outcome, outcome
    assert still_importing, "the import ended before the saves: make it bigger"
    assert max(latencies) < 3, latencies
    assert outcome["result"].documents == 30000
    with app.app_context():
        assert visible(owner, project["id"])["listed"] == 30001


def test_a_labeled_import_takes_a_few_statements_per_chunk(app, make_caller, tmp_path):
    """INSERT ... RETURNING in parameter order ran once per row on SQLite (40,003 statements
    for 20,000 documents); with ids reserved per chunk every table is one executemany."""
    owner = make_caller("owner")
    project = create_project(owner, "ner", "trigger", labels=(("PER", "span"),))
    by_api = add_document(owner, project["id"], "Anna founded Acme")
    path = write_records(tmp_path / "a.jsonl", 2000)
    statements = []

    def count(_conn, _cursor, statement, _parameters, _context, _executemany) -> None:
        statements.append(statement)

    with app.app_context():
        target = db.session.get(Project, project["id"])
        sa.event.listen(db.engine, "before_cursor_execute", count)
        try:
            result = import_file(target, path, "jsonl", batch_size=500)
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", count)
        assert (result.documents, result.annotations, result.explanations) == (2000, 2000, 2000)
        assert len(statements) < 80, len(statements)  # 4 chunks; 8,000 rows
        assert visible(owner, project["id"])["listed"] == 2001
        if db.engine.dialect.name == "sqlite":
            # Stored as the ORM stores them: SQLite keeps datetimes as text, compared as text,
            # and the import's rows skip SQLAlchemy's parameter handling there.
            stored = sa.select(sa.cast(Document.created_at, sa.String), sa.cast(Document.meta, sa.String))
            api_row = db.session.execute(stored.where(Document.id == by_api["id"])).one()
            imported = db.session.execute(stored.where(Document.id != by_api["id"])).all()
            assert {(len(c), m) for c, m in imported} == {(len(api_row[0]), api_row[1])}
