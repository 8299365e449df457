"""An embedded job whose start the database refuses (bench/faults.py: the disk filled up
just after the job was queued) runs once the database takes writes again. Before the fix its
row stayed queued for good: nothing in the process ran it again, and a queued cheap job made
every later save skip queueing another, so the project's dictionary never retrained until a
restart. The refusal is a real database trigger (PostgreSQL: SQLSTATE 53100, disk_full)."""

from __future__ import annotations

import time

from leanlife_server.db import db
from leanlife_server.db.models import Job
from leanlife_server.jobs import create_job, runner
from leanlife_server.jobs.lanes import SMALL
from tests.conftest import create_project
from tests.test_jobs_support import wait_until

RAN: list[int] = []

REFUSE = {
    "sqlite": ["CREATE TRIGGER refuse_start BEFORE UPDATE OF state ON jobs WHEN NEW.state = 'running' "
               "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"],
    "postgresql": ["CREATE FUNCTION refuse_start() RETURNS trigger AS $$ BEGIN IF NEW.state = 'running' THEN "
                   "RAISE EXCEPTION 'could not extend file: No space left on device' USING ERRCODE = '53100'; "
                   "END IF; RETURN NEW; END $$ LANGUAGE plpgsql",
                   "CREATE TRIGGER refuse_start BEFORE UPDATE ON jobs FOR EACH ROW EXECUTE FUNCTION refuse_start()"],
}
ALLOW = {"sqlite": ["DROP TRIGGER IF EXISTS refuse_start"],
         "postgresql": ["DROP TRIGGER IF EXISTS refuse_start ON jobs", "DROP FUNCTION IF EXISTS refuse_start()"]}


def record_run(job_id: int) -> None:
    RAN.append(job_id)


def execute_all(statements: list[str]) -> None:
    for statement in statements:
        db.session.execute(db.text(statement))
    db.session.commit()


def state(app, job_id: int) -> str:
    with app.app_context():
        return db.session.get(Job, job_id).state


def test_a_job_whose_start_the_database_refused_runs_once_it_takes_writes_again(app, make_caller):
    RAN.clear()  # job ids start again at 1 on each database
    project = create_project(make_caller("owner"), "ner")
    with app.app_context():
        dialect = db.engine.dialect.name
        execute_all(REFUSE[dialect])
        try:
            job = create_job(project["id"], "test", {})
            db.session.commit()
            runner().submit(job.id, f"{__name__}:record_run", SMALL)
            job_id = job.id
            time.sleep(1.0)  # a lane thread takes the job at once, and the database refuses its start
            assert state(app, job_id) == "queued" and not RAN
        finally:
            execute_all(ALLOW[dialect])  # space freed
    wait_until(lambda: state(app, job_id) == "finished", 20, "the refused job to run")
    assert RAN == [job_id]
