"""A save the database has no room for answers 507 (nothing saved, try again later), not a
bare 500, and saves work again once there is room. SQLite's own cap on its size (PRAGMA
max_page_count) makes it refuse writes with SQLITE_FULL, the code a full disk gives it
(bench/faults.py runs the same with a real full filesystem)."""

from __future__ import annotations

import pytest
from sqlalchemy import event

from leanlife_server.app import create_app
from leanlife_server.db import db
from leanlife_server.db.migrate import upgrade
from leanlife_server.db.models import Annotation
from tests.conftest import create_project


@pytest.fixture
def app(tmp_path):
    """A SQLite database of this test's own (whatever LEANLIFE_TEST_DATABASES says)."""
    app = create_app({"database_url": f"sqlite:///{tmp_path / 'small.sqlite3'}", "data_dir": tmp_path / "data",
                      "secret_key": "test-secret"})
    upgrade(app)
    app.testing = True
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def cap_database_size(app) -> callable:
    """From now on, no connection may grow the database file; returns the undo."""
    with app.app_context():
        engine = db.engine
        pages = db.session.execute(db.text("PRAGMA page_count")).scalar_one()
        db.session.remove()

        def cap(dbapi_connection, _record) -> None:
            dbapi_connection.execute(f"PRAGMA max_page_count = {pages}")

        engine.dispose()
        event.listen(engine, "connect", cap)

    def undo() -> None:
        event.remove(engine, "connect", cap)
        engine.dispose()

    return undo


def test_saves_on_a_full_database_answer_507_and_work_again_after(app, make_caller):
    owner = make_caller("owner")
    project = create_project(owner, "ner", labels=(("PER", "span"),))
    projects = f"/api/v1/projects/{project['id']}"
    text = " ".join(f"Name{i}" for i in range(400))
    document = owner.post(f"{projects}/documents", json={"documents": [{"text": text}]}).get_json()["items"][0]
    url = f"{projects}/documents/{document['id']}/annotations"

    def save(i: int):
        start = text.index(f"Name{i} ")
        return owner.post(url, json={"label": "PER", "start": start, "end": start + len(f"Name{i}")})

    undo = cap_database_size(app)
    answers = [save(i) for i in range(300)]
    statuses = {r.status_code for r in answers}
    assert statuses <= {201, 507} and 507 in statuses, statuses
    refused = next(r for r in answers if r.status_code == 507)
    assert refused.get_json()["error"]["code"] == "insufficient_storage"
    undo()
    assert save(350).status_code == 201
    with app.app_context():
        stored = db.session.scalar(db.select(db.func.count(Annotation.id)))
    assert stored == sum(r.status_code == 201 for r in answers) + 1
