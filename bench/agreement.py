"""How long GET /projects/{id}/agreement takes on a large project.

    python bench/agreement.py [--task sa|re|ner] [--documents 100000] [--annotators 3] [--repeat 3]
                              [--database sqlite|postgres]
                              [--postgres-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres]

Builds a fresh database (SQLite in a temporary folder, or a PostgreSQL database created on
--postgres-url's server and dropped afterwards; migrated as `leanlife migrate` would),
one project of --task with three labels, --documents documents and --annotators annotators,
written with bulk inserts (no API calls): for sa each annotator labels every document
(agreeing with the first annotator 80% of the time); for re each document holds two imported
entity spans and each annotator relates them; for ner each annotator marks two spans per
document. Then times the endpoint through Flask's test client as the project's owner (the
whole request: authentication, SQL, figures, JSON; SQLite runs in this process, so its
work is in the CPU time; PostgreSQL's is not) and prints the best of --repeat runs, wall-clock and CPU time,
with the load average: on a shared machine the CPU time is the comparable figure.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa  # noqa: E402

from bench.io import _postgres_database  # noqa: E402
from leanlife_server.app import create_app  # noqa: E402
from leanlife_server.auth import create_user, issue_token  # noqa: E402
from leanlife_server.db import db  # noqa: E402
from leanlife_server.db.migrate import upgrade  # noqa: E402
from leanlife_server.db.models import OWNER, ANNOTATOR, Annotation, Document, Label, Membership, Project  # noqa: E402

LABEL_KINDS = {"sa": "document", "re": "relation", "ner": "span"}
TEXT = "Ann Lee flew from New York to Oslo on Monday and met Bob there ."


def build(task: str, documents: int, annotators: int, seed: int = 0) -> tuple[int, str]:
    """The project's id and its owner's bearer token."""
    rng = random.Random(seed)
    owner = create_user("owner", "correct horse battery")
    users = [create_user(f"annotator{i}", "correct horse battery") for i in range(annotators)]
    project = Project(name="bench", task=task)
    db.session.add(project)
    db.session.flush()
    db.session.add_all([Membership(project_id=project.id, user_id=owner.id, role=OWNER)]
                       + [Membership(project_id=project.id, user_id=u.id, role=ANNOTATOR) for u in users])
    kind = LABEL_KINDS[task]
    labels = [Label(project_id=project.id, name=f"L{i}", kind=kind) for i in range(3)]
    entity = Label(project_id=project.id, name="ENT", kind="span")
    db.session.add_all(labels + [entity])
    _, token = issue_token(owner, "bench")
    db.session.flush()
    db.session.execute(sa.insert(Document), [{"project_id": project.id, "text": TEXT, "meta": {}}
                                             for _ in range(documents)])
    doc_ids = db.session.scalars(sa.select(Document.id).where(Document.project_id == project.id)
                                 .order_by(Document.id)).all()
    base = {"project_id": project.id, "source": "manual"}
    rows = []
    if task == "re":  # two imported entities per document: ids are assigned in insert order
        db.session.execute(sa.insert(Annotation), [
            {**base, "document_id": d, "user_id": None, "label_id": entity.id, "kind": "span",
             "start": start, "end": end} for d in doc_ids for start, end in ((0, 7), (30, 34))])
        entities = db.session.execute(sa.select(Annotation.document_id, Annotation.id)
                                      .where(Annotation.project_id == project.id).order_by(Annotation.id)).all()
        pairs: dict[int, list[int]] = {}
        for document_id, annotation_id in entities:
            pairs.setdefault(document_id, []).append(annotation_id)
    for d in doc_ids:
        first = rng.randrange(3)
        for user in users:
            label = labels[first if rng.random() < 0.8 else rng.randrange(3)].id
            if task == "sa":
                rows.append({**base, "document_id": d, "user_id": user.id, "label_id": label, "kind": "document"})
            elif task == "re":
                rows.append({**base, "document_id": d, "user_id": user.id, "label_id": label, "kind": "relation",
                             "subject_id": pairs[d][0], "object_id": pairs[d][1]})
            else:
                end = 7 if rng.random() < 0.8 else 3  # "Ann Lee" or "Ann"
                rows.append({**base, "document_id": d, "user_id": user.id, "label_id": label, "kind": "span",
                             "start": 0, "end": end})
                rows.append({**base, "document_id": d, "user_id": user.id, "label_id": labels[1].id,
                             "kind": "span", "start": 18, "end": 26})
    db.session.execute(sa.insert(Annotation), rows)
    db.session.commit()
    return project.id, token


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", choices=sorted(LABEL_KINDS), default="sa")
    parser.add_argument("--documents", type=int, default=100_000)
    parser.add_argument("--annotators", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--postgres-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    name = f"leanlife_bench_agreement_{os.getpid()}"
    with tempfile.TemporaryDirectory() as folder:
        url = (f"sqlite:///{folder}/bench.sqlite3" if args.database == "sqlite"
               else _postgres_database(args.postgres_url, name, create=True))
        try:
            run(url, folder, args)
        finally:
            if args.database == "postgres":
                _postgres_database(args.postgres_url, name, create=False)


def run(url: str, folder: str, args: argparse.Namespace) -> None:
    """Build the project in the database at ``url``, then time the endpoint."""
    app = create_app({"database_url": url, "data_dir": folder, "secret_key": "bench"})
    upgrade(app)
    with app.app_context():
        started = time.perf_counter()
        project_id, token = build(args.task, args.documents, args.annotators)
        print(f"built {args.documents} documents x {args.annotators} annotators ({args.task}) "
              f"in {time.perf_counter() - started:.1f} s")
    client = app.test_client()
    times, cpu = [], []
    for _ in range(args.repeat):
        started, started_cpu = time.perf_counter(), time.process_time()
        response = client.get(f"/api/v1/projects/{project_id}/agreement",
                              headers={"Authorization": f"Bearer {token}"})
        times.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
        assert response.status_code == 200, response.get_json()
    overall = response.get_json()["overall"]
    print(f"GET /agreement: best {min(times):.2f} s wall, {min(cpu):.2f} s CPU; wall runs "
          f"{', '.join(f'{t:.2f}' for t in times)}; "
          f"overall {overall}; load average {os.getloadavg()[0]:.1f} (1 min) on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
