"""Overlap (team annotation issue, item 1): a document goes to the project's ``overlap``
annotators (for a share of the documents), never twice to one annotator, never to more at
once; checked with 5 annotators racing on a real server with 4 web processes, on SQLite and
PostgreSQL."""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from leanlife_server.active.overlap import SHARE_BUCKETS, in_share
from leanlife_server.app import create_app
from leanlife_server.db import db
from leanlife_server.db.migrate import upgrade
from tests.conftest import create_project
from tests.test_jobs_support import Api, process_env, start_server

ANNOTATORS = 5


@pytest.fixture
def server(app, database_url, tmp_path):
    env = process_env(tmp_path, {"database_url": database_url, "data_dir": tmp_path / "data",
                                 "secret_key": "test-secret"})
    process, url = start_server(env, tmp_path, workers=4)
    yield url
    process.kill()


def team_project(make_caller, documents: int, **settings) -> tuple[dict, list, list[int]]:
    """An SA project with ``documents`` documents and ``ANNOTATORS`` annotator members."""
    owner = make_caller("owner")
    project = create_project(owner, "sa", labels=(("pos", "document"), ("neg", "document")))
    pid = project["id"]
    if settings:
        r = owner.patch(f"/api/v1/projects/{pid}/settings", json=settings)
        assert r.status_code == 200, r.get_json()
    r = owner.post(f"/api/v1/projects/{pid}/documents",
                   json={"documents": [{"text": f"review number {i}"} for i in range(documents)]})
    assert r.status_code == 201, r.get_json()
    annotators = [make_caller(f"ann{i}") for i in range(ANNOTATORS)]
    for i in range(ANNOTATORS):
        assert owner.post(f"/api/v1/projects/{pid}/members",
                          json={"username": f"ann{i}", "role": "annotator"}).status_code == 201
    return project, annotators, [d["id"] for d in r.get_json()["items"]]


def work(url: str, pid: int, token: str, start: threading.Barrier) -> list[int]:
    """Annotate whatever the queue hands out until it is empty; the documents, in order."""
    api, got = Api(url, token), []
    start.wait()
    while True:
        answer = api.get(f"/api/v1/projects/{pid}/queue/next")
        assert answer.status_code in (200, 204), answer.text
        if answer.status_code == 204:
            return got
        got.append(answer.json()["id"])
        saved = api.post(f"/api/v1/projects/{pid}/documents/{got[-1]}/annotations", json={"label": "pos"})
        assert saved.status_code == 201, saved.text


def race(calls):
    barrier = threading.Barrier(len(calls))
    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(lambda call: call(barrier), calls))


@pytest.mark.parametrize("overlap, share", [(3, 1.0), (2, 0.5), (1, 1.0)])
def test_five_annotators_at_once_give_each_document_its_annotators(server, make_caller, overlap, share):
    project, annotators, documents = team_project(make_caller, 16, overlap=overlap, overlap_share=share)
    pid = project["id"]
    got = race([lambda b, c=c: work(server, pid, c.token, b) for c in annotators])
    for caller, documents_got in zip(annotators, got):
        repeated = [d for d, n in Counter(documents_got).items() if n > 1]
        assert not repeated, f"{caller.user_id} got {repeated} twice"
    annotators_of = defaultdict(set)
    for caller, documents_got in zip(annotators, got):
        for document in documents_got:
            annotators_of[document].add(caller.user_id)
    wanted = {d: overlap if in_share(d, share) else 1 for d in documents}
    # Everyone who got a document labeled it: more than it wants would mean more held it at once.
    assert {d: len(annotators_of[d]) for d in documents} == wanted
    if share < 1:
        assert 0 < sum(w == overlap for w in wanted.values()) < len(documents)
    for caller in annotators:
        assert caller.get(f"/api/v1/projects/{pid}/queue").get_json()["items"] == []


@pytest.mark.parametrize("overlap", [1, 3])
def test_leases_count_no_more_hold_a_document_than_it_wants(server, make_caller, overlap):
    project, annotators, (document,) = team_project(make_caller, 1, overlap=overlap)
    pid = project["id"]
    for round_ in range(3):
        def take(barrier, caller):
            barrier.wait()
            return Api(server, caller.token).get(f"/api/v1/projects/{pid}/queue/next")
        answers = race([lambda b, c=c: take(b, c) for c in annotators])
        holders = [c.user_id for c, a in zip(annotators, answers) if a.status_code == 200]
        assert all(a.status_code in (200, 204) for a in answers), [a.text for a in answers]
        assert len(holders) == overlap, f"round {round_}: {len(holders)} annotators hold the document"
        assert all(a.json()["id"] == document and a.json()["lease_expires_at"]
                   for a in answers if a.status_code == 200)
        for caller in annotators:  # give it back for the next round
            if caller.user_id in holders:
                assert caller.delete(f"/api/v1/projects/{pid}/queue/lease/{document}").status_code == 204


def test_an_annotator_gets_a_document_once_and_finishing_counts(app, make_caller):
    project, (ann, bob, cat, *_), (document,) = team_project(make_caller, 1, overlap=2)
    pid = project["id"]
    url = f"/api/v1/projects/{pid}/queue/next"
    assert ann.get(url).get_json()["id"] == document
    assert ann.post(f"/api/v1/projects/{pid}/documents/{document}/annotations",
                    json={"label": "pos"}).status_code == 201
    assert ann.get(url).status_code == 204, "never twice to one annotator"
    assert bob.get(url).get_json()["id"] == document, "the second of two annotators"
    assert cat.get(url).status_code == 204, "ann labeled it and bob holds it: it has its two"
    assert bob.delete(f"/api/v1/projects/{pid}/queue/lease/{document}").status_code == 204
    assert cat.get(url).get_json()["id"] == document, "a lease given back frees the place"
    assert cat.put(f"/api/v1/projects/{pid}/documents/{document}/finished").status_code == 204
    assert [c.get(url).status_code for c in (ann, bob, cat)] == [204, 204, 204], \
        "finished (found nothing) counts as annotated"


def test_overlap_one_behaves_as_before(app, make_caller):
    project, annotators, documents = team_project(make_caller, 6)
    pid = project["id"]
    settings = annotators[0].get(f"/api/v1/projects/{pid}/settings").get_json()
    assert (settings["overlap"], settings["overlap_share"]) == (1, 1.0)
    url = f"/api/v1/projects/{pid}/queue/next"
    held = [c.get(url).get_json()["id"] for c in annotators]
    assert held == documents[:5], "one annotator per document, in id order"
    assert annotators[0].get(url).get_json()["id"] == held[0], "asking again keeps the same document"
    assert annotators[0].post(f"/api/v1/projects/{pid}/documents/{held[0]}/annotations",
                              json={"label": "neg"}).status_code == 201
    assert annotators[0].get(url).get_json()["id"] == documents[5]
    for caller in annotators[1:]:
        assert held[0] not in [i["document_id"] for i in caller.get(f"/api/v1/projects/{pid}/queue").get_json()["items"]]


@pytest.mark.parametrize("body, field", [
    ({"overlap": 0}, "overlap"), ({"overlap": -2}, "overlap"), ({"overlap": 1.5}, "overlap"),
    ({"overlap": "2"}, "overlap"), ({"overlap": None}, "overlap"), ({"overlap": 101}, "overlap"),
    ({"overlap_share": 1.01}, "overlap_share"), ({"overlap_share": -0.1}, "overlap_share"),
    ({"overlap_share": "half"}, "overlap_share"), ({"overlap_share": None}, "overlap_share"),
])
def test_bad_overlap_settings_are_422_naming_the_field(app, make_caller, body, field):
    owner = make_caller("owner")
    pid = create_project(owner, "sa")["id"]
    r = owner.patch(f"/api/v1/projects/{pid}/settings", json=body)
    assert r.status_code == 422, r.get_json()
    assert r.get_json()["error"]["details"]["field"] == field
    settings = owner.get(f"/api/v1/projects/{pid}/settings").get_json()
    assert (settings["overlap"], settings["overlap_share"]) == (1, 1.0)


def test_owners_set_overlap_and_annotators_cannot(app, make_caller):
    owner, annotator = make_caller("owner"), make_caller("annotator")
    pid = create_project(owner, "sa")["id"]
    assert owner.post(f"/api/v1/projects/{pid}/members",
                      json={"username": "annotator", "role": "annotator"}).status_code == 201
    r = owner.patch(f"/api/v1/projects/{pid}/settings", json={"overlap": 3, "overlap_share": 0.1})
    assert r.status_code == 200 and (r.get_json()["overlap"], r.get_json()["overlap_share"]) == (3, 0.1)
    assert annotator.patch(f"/api/v1/projects/{pid}/settings", json={"overlap": 1}).status_code == 403
    assert owner.get(f"/api/v1/projects/{pid}").get_json()["settings"]["overlap"] == 3


def test_the_share_is_exact_over_consecutive_ids_and_fixed():
    for share in (0.0, 0.1, 0.25, 1.0):
        chosen = [d for d in range(1, SHARE_BUCKETS + 1) if in_share(d, share)]
        assert len(chosen) == round(share * SHARE_BUCKETS)
    tenth = [in_share(d, 0.1) for d in range(1, 101)]
    assert 0 < sum(tenth) < 40 and tenth == [in_share(d, 0.1) for d in range(1, 101)]
    assert tenth[:10] != [True] * 10, "spread over the ids, not the first ones"


def test_the_migration_gives_projects_overlap_one_and_leases_per_annotator(empty_database, tmp_path):
    app = create_app({"database_url": empty_database, "data_dir": tmp_path / "data"})
    upgrade(app, "0008")
    with app.app_context():
        db.session.execute(db.text(
            "INSERT INTO projects (id, name, description, task, explanation_kind, multi_label, "
            "annotators_see_others, model_config, retrain_policy, created_at) "
            "VALUES (1, 'old', '', 'sa', 'none', false, false, '{}', '{}', CURRENT_TIMESTAMP)"))
        db.session.commit()
    upgrade(app, "0009")
    with app.app_context():
        row = db.session.execute(db.text("SELECT overlap, overlap_share FROM projects")).one()
        assert (row.overlap, row.overlap_share) == (1, 1.0)
        db.session.execute(db.text("INSERT INTO users (id, username, username_key, password_hash, is_admin, "
                                   "created_at) VALUES (1, 'a', 'a', 'x', false, CURRENT_TIMESTAMP), "
                                   "(2, 'b', 'b', 'x', false, CURRENT_TIMESTAMP)"))
        db.session.execute(db.text("INSERT INTO documents (id, project_id, text, meta, created_at, has_letters) "
                                   "VALUES (1, 1, 'text', '{}', CURRENT_TIMESTAMP, true)"))
        for user in (1, 2):  # two annotators may hold one document now
            db.session.execute(db.text("INSERT INTO document_leases (project_id, document_id, user_id, expires_at) "
                                       f"VALUES (1, 1, {user}, CURRENT_TIMESTAMP)"))
        db.session.commit()
        with pytest.raises(Exception):  # but one annotator holds it once
            db.session.execute(db.text("INSERT INTO document_leases (project_id, document_id, user_id, "
                                       "expires_at) VALUES (1, 1, 1, CURRENT_TIMESTAMP)"))
            db.session.commit()
        db.session.rollback()
        db.engine.dispose()
