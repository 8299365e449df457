"""A queue that starts well (assistance issue, item 3): documents without a letter go to the
end of every ranking, and annotators skip documents (out of their own queue until the next
retraining, counted apart from finished ones), also when they double-click."""

from __future__ import annotations


import pytest
import sqlalchemy as sa

from leanlife_server.app import create_app
from leanlife_server.db import db
from leanlife_server.db.migrate import upgrade
from leanlife_server.db.models import DocumentSkip, ModelVersion
from tests import test_jobs_toy_models
from tests.conftest import create_project
from tests.test_concurrent_writes import RACERS, no_server_errors, race
from tests.test_import_export_api import upload, wait_for
from tests.test_jobs_support import Api, process_env, sentiment_project, start_server
from tests.test_model_api import label, train
from tests.test_queue import join

# Lines without a letter of any script; "Ça" and "東京" have letters.
LETTERLESS = ["1996-08-22", "3 1 1 1 4 2 4", "-- : --", "١٢٣ ٤٥"]


@pytest.fixture
def app(make_app):
    return make_app(extra_plugins=[test_jobs_toy_models])


def queue(caller, project_id: int) -> list[int]:
    return [i["document_id"] for i in caller.get(f"/api/v1/projects/{project_id}/queue?limit=500")
            .get_json()["items"]]


def add(caller, project_id: int, texts: list[str]) -> list[int]:
    r = caller.post(f"/api/v1/projects/{project_id}/documents", json={"documents": [{"text": t} for t in texts]})
    assert r.status_code == 201, r.get_json()
    return [d["id"] for d in r.get_json()["items"]]


def count(caller, project_id: int, status: str) -> int:
    r = caller.get(f"/api/v1/projects/{project_id}/documents?status={status}&count=true&limit=1")
    assert r.status_code == 200, r.get_json()
    return r.get_json()["total"]


# Documents without a letter ------------------------------------------------------------------

def test_documents_without_a_letter_go_last_before_any_model(app, make_caller):
    owner = make_caller("owner")
    project = create_project(owner, "sa", labels=(("pos", "document"), ("neg", "document")))
    ids = add(owner, project["id"], [LETTERLESS[0], "Ça va bien", LETTERLESS[1], "東京 2-1", LETTERLESS[2]])
    assert queue(owner, project["id"]) == [ids[1], ids[3], ids[0], ids[2], ids[4]]
    assert owner.get(f"/api/v1/projects/{project['id']}/queue/next").get_json()["id"] == ids[1]


@pytest.mark.parametrize("strategy", ["uncertainty", "random"])
def test_documents_without_a_letter_go_last_whatever_the_strategy(app, make_caller, strategy):
    owner = make_caller("owner")
    project = sentiment_project(owner, documents=20)
    assert owner.patch(f"/api/v1/projects/{project['id']}/settings",
                       json={"query_strategy": strategy}).status_code == 200
    letterless = add(owner, project["id"], LETTERLESS)
    label(owner, project, (0, 8, 1, 9))
    assert train(owner, project)["state"] == "finished"
    ranked = queue(owner, project["id"])
    assert len(ranked) == 20 - 4 + len(LETTERLESS)
    assert set(ranked[-len(LETTERLESS):]) == set(letterless)  # at the end, in their scores' order


def test_imported_documents_without_a_letter_go_last(app, make_caller):
    owner = make_caller("owner")
    project = create_project(owner, "sa", labels=(("pos", "document"), ("neg", "document")))
    lines = "".join(f'{{"text": "{t}"}}\n' for t in ["12 : 3", "a fine film", "4 5 6", "dull"])
    job = wait_for(owner, project["id"], upload(owner, project["id"], "docs.jsonl", lines).get_json())
    assert job["state"] == "finished", job
    documents = owner.get(f"/api/v1/projects/{project['id']}/documents").get_json()["items"]
    by_text = {d["text"]: d["id"] for d in documents}
    assert queue(owner, project["id"]) == [by_text[t] for t in ("a fine film", "dull", "12 : 3", "4 5 6")]


def test_the_migration_marks_existing_documents_without_a_letter(empty_database, tmp_path):
    app = create_app({"database_url": empty_database, "data_dir": tmp_path / "data"})
    upgrade(app, "0006")
    texts = ["Ann met Bob", *LETTERLESS, "Ωμέγα 1"]
    with app.app_context(), db.engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO projects (id, name, description, task, explanation_kind, multi_label, "
                             "annotators_see_others, model_config, retrain_policy, created_at) VALUES "
                             "(1, 'p', '', 'sa', 'none', false, false, '{}', '{}', CURRENT_TIMESTAMP)"))
        for i, text in enumerate(texts, start=1):
            conn.execute(sa.text("INSERT INTO documents (id, project_id, text, meta, created_at) "
                                 "VALUES (:id, 1, :text, '{}', CURRENT_TIMESTAMP)"), {"id": i, "text": text})
    upgrade(app)
    with app.app_context():
        flags = db.session.execute(sa.text("SELECT has_letters FROM documents ORDER BY id")).scalars().all()
        assert [bool(f) for f in flags] == [True] + [False] * len(LETTERLESS) + [True]
        assert db.session.scalar(sa.text("SELECT count(*) FROM document_skips")) == 0
        db.session.remove()
        db.engine.dispose()


# Skipping ------------------------------------------------------------------------------------

def test_a_skip_leaves_only_the_skippers_queue_until_the_next_retraining(app, make_caller):
    owner, ann = make_caller("owner"), make_caller("ann")
    project = sentiment_project(owner, documents=12)
    join(owner, project, "ann")
    pid, first = project["id"], project["documents"][0]
    url = f"/api/v1/projects/{pid}/documents/{first}/skipped"
    assert ann.get(f"/api/v1/projects/{pid}/queue/next").get_json()["id"] == first  # leased to ann
    assert ann.put(url).status_code == 204
    assert ann.put(url).status_code == 204, "skipping again changes nothing"
    assert first not in queue(ann, pid) and first in queue(owner, pid), "a skip is one annotator's"
    assert ann.get(f"/api/v1/projects/{pid}/queue/next").get_json()["id"] == project["documents"][1]
    assert owner.get(f"/api/v1/projects/{pid}/queue/next").get_json()["id"] == first, "the skip gave the lease back"
    assert owner.delete(f"/api/v1/projects/{pid}/queue/lease/{first}").status_code == 204
    document = ann.get(f"/api/v1/projects/{pid}/documents/{first}").get_json()
    assert (document["skipped"], document["finished"]) == (True, False)
    assert owner.get(f"/api/v1/projects/{pid}/documents/{first}").get_json()["skipped"] is False
    # Progress: skipped apart from finished; a skipped document is still unfinished.
    assert (count(ann, pid, "skipped"), count(ann, pid, "finished"), count(ann, pid, "unfinished")) == (1, 0, 12)
    assert count(owner, pid, "skipped") == 0
    assert ann.delete(url).status_code == 204 and ann.delete(url).status_code == 204
    assert first in queue(ann, pid) and count(ann, pid, "skipped") == 0

    assert ann.put(url).status_code == 204
    with app.app_context():  # a cheap model's new version (made on every save) ends no skip
        db.session.add(ModelVersion(project_id=pid, model="dictionary.v1", is_active=True))
        db.session.commit()
    assert first not in queue(ann, pid)
    label(owner, project, (4, 8, 5, 9))
    assert train(owner, project)["state"] == "finished"
    assert first in queue(ann, pid), "the next retraining brings the document back"
    assert count(ann, pid, "skipped") == 0
    assert ann.put(url).status_code == 204 and first not in queue(ann, pid), "a skip after it holds again"


def test_a_finished_document_counts_as_finished_not_skipped(app, make_caller):
    owner = make_caller("owner")
    project = sentiment_project(owner, documents=3)
    pid, document = project["id"], project["documents"][2]
    assert owner.put(f"/api/v1/projects/{pid}/documents/{document}/skipped").status_code == 204
    assert owner.put(f"/api/v1/projects/{pid}/documents/{document}/finished").status_code == 204
    assert (count(owner, pid, "skipped"), count(owner, pid, "finished")) == (0, 1)
    assert owner.get(f"/api/v1/projects/{pid}/documents/{document}").get_json()["skipped"] is False


def test_only_members_skip_documents_of_their_project(app, make_caller):
    owner, stranger = make_caller("owner"), make_caller("stranger")
    project = sentiment_project(owner, documents=2)
    other = sentiment_project(stranger, documents=1)
    pid = project["id"]
    assert stranger.put(f"/api/v1/projects/{pid}/documents/{project['documents'][0]}/skipped").status_code == 404
    assert owner.put(f"/api/v1/projects/{pid}/documents/{other['documents'][0]}/skipped").status_code == 404
    assert owner.delete(f"/api/v1/projects/{pid}/documents/999999/skipped").status_code == 404
    assert stranger.put(f"/api/v1/projects/{other['id']}/documents/{other['documents'][0]}/skipped").status_code == 204
    # Skips are per annotator and per project: the stranger's skip is not one here.
    assert owner.get(f"/api/v1/projects/{pid}/documents?status=skipped&annotator={stranger.user_id}") \
        .get_json()["items"] == []


@pytest.mark.parametrize("workers", [1, 2])
def test_skips_at_the_same_moment_store_one_skip(app, make_caller, database_url, tmp_path, workers):
    caller = make_caller("ann")
    project = create_project(caller, "sa", labels=(("pos", "document"),))
    ids = add(caller, project["id"], [f"review number {i}" for i in range(3)])
    env = process_env(tmp_path, {"database_url": database_url, "data_dir": tmp_path / "data",
                                 "secret_key": "test-secret"})
    process, url = start_server(env, tmp_path, workers=workers)
    try:
        api = Api(url, caller.token)
        for document_id in ids:
            path = f"/api/v1/projects/{project['id']}/documents/{document_id}/skipped"
            answers = race([lambda: api.put(path) for _ in range(RACERS)])
            no_server_errors(answers)
            assert [a.status_code for a in answers] == [204] * RACERS, [a.text[:200] for a in answers]
        assert api.get(f"/api/v1/projects/{project['id']}/queue").json()["items"] == []
    finally:
        process.kill()
    with app.app_context():
        rows = db.session.execute(sa.select(DocumentSkip.document_id)).scalars().all()
        assert sorted(rows) == ids, "one skip per document and annotator"
