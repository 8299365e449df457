"""Concurrent writes to one annotation, one membership set and one document's labels are
serialised (robustness issue, item 5), on SQLite and PostgreSQL, with 1 and 4 web processes.

Each race is run for several rounds by threads released together by a barrier; before the
fix some rounds stored a mix of two replacements, left a project without an owner, or kept
two labels where a project takes one."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

import pytest
import requests

from tests.test_jobs_support import Api, process_env, start_server

ROUNDS = 6
RACERS = 6


@pytest.fixture(params=[1, 4], ids=["1-process", "4-processes"])
def server(request, app, database_url, tmp_path):
    env = process_env(tmp_path, {"database_url": database_url, "data_dir": tmp_path / "data",
                                 "secret_key": "test-secret"})
    process, url = start_server(env, tmp_path, workers=request.param)
    yield url
    process.kill()


def race(calls: list[Callable[[], requests.Response]]) -> list[requests.Response]:
    """Run the calls at once (each thread waits at a barrier first); their answers, in order."""
    barrier = threading.Barrier(len(calls))

    def run(call):
        barrier.wait()
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def no_server_errors(answers: list[requests.Response]) -> None:
    assert all(a.status_code < 500 for a in answers), [(a.status_code, a.text[:200]) for a in answers]


def new_project(api: Api, name: str, **settings: Any) -> dict:
    project = api.post("/api/v1/projects", json={"name": name, "task": "ner", "explanation_kind": "trigger",
                                                 **settings}).json()
    labels = [api.post(f"/api/v1/projects/{project['id']}/labels", json={"name": n, "kind": kind}).json()
              for n, kind in (("PER", "span"), ("LOC", "span"))]
    document = api.post(f"/api/v1/projects/{project['id']}/documents",
                        json={"text": "Mr. Smith said he lives in Paris."}).json()
    return {**project, "labels": labels, "document_id": document["id"]}


def test_concurrent_replacements_of_one_annotation_never_mix(server, make_caller):
    api = Api(server, make_caller("ann").token)
    project = new_project(api, "replace")
    base = f"/api/v1/projects/{project['id']}"
    bodies = [{"label": ("PER", "LOC")[i % 2], "start": 4, "end": 9,
               "explanations": [{"kind": "trigger", "spans": [{"start": s, "end": s + 2}]}]}
              for i, s in enumerate((0, 10, 13, 17, 20, 27))]
    for round_ in range(ROUNDS):
        created = api.post(f"{base}/documents/{project['document_id']}/annotations", json=bodies[0])
        assert created.status_code == 201 and created.headers["ETag"].strip('"') == created.json()["etag"]
        annotation = created.json()
        url = f"{base}/annotations/{annotation['id']}"
        # Unconditional replacements: applied one after the other, the last one whole.
        answers = race([lambda b=b: api.put(url, json=b) for b in bodies[:RACERS]])
        no_server_errors(answers)
        stored = next(a for a in api.get(f"{base}/documents/{project['document_id']}/annotations").json()["items"]
                      if a["id"] == annotation["id"])
        assert any(stored["label"] == b["label"] and
                   [e["spans"] for e in stored["explanations"]] == [e["spans"] for e in b["explanations"]]
                   for b in bodies), f"round {round_}: a mix of several replacements: {stored}"
        # Conditional ones, all made from the same read: exactly one wins, the rest get 412.
        answers = race([lambda b=b: api.put(url, json=b, headers={"If-Match": f'"{stored["etag"]}"'})
                        for b in bodies[:RACERS]])
        assert sorted(a.status_code for a in answers) == [200] + [412] * (RACERS - 1), \
            [(a.status_code, a.text[:200]) for a in answers]
        assert api.delete(url, headers={"If-Match": '"stale"'}).status_code == 412
        assert api.delete(url).status_code == 204


def test_owners_demoting_each_other_keep_an_owner(server, make_caller):
    owners = [make_caller(f"owner{i}") for i in range(RACERS)]
    api, admin = Api(server, owners[0].token), Api(server, make_caller("root", admin=True).token)
    for round_ in range(ROUNDS):
        project = api.post("/api/v1/projects", json={"name": f"owners {round_}", "task": "sa"}).json()
        base = f"/api/v1/projects/{project['id']}/members"
        for i in range(1, RACERS):
            assert api.post(base, json={"username": f"owner{i}", "role": "owner"}).status_code == 201
        # Each owner demotes the next one, all at once.
        answers = race([lambda me=me, victim=victim: Api(server, me.token).patch(
            f"{base}/{victim.user_id}", json={"role": "annotator"})
            for me, victim in zip(owners, owners[1:] + owners[:1])])
        no_server_errors(answers)
        roles = [m["role"] for m in admin.get(base).json()["items"]]
        assert roles.count("owner") >= 1, f"round {round_}: no owner left; answers " \
                                          f"{[a.status_code for a in answers]}"
        # Only an owner's demotion of another owner succeeds: each success removed one owner.
        assert roles.count("owner") == RACERS - sum(a.status_code == 200 for a in answers)


def test_one_label_per_document_holds_under_concurrent_saves(server, make_caller):
    api = Api(server, make_caller("sam").token)
    project = api.post("/api/v1/projects", json={"name": "single", "task": "sa"}).json()
    base = f"/api/v1/projects/{project['id']}"
    for name in ("pos", "neg"):
        assert api.post(f"{base}/labels", json={"name": name, "kind": "document"}).status_code == 201
    ids = [d["id"] for d in api.post(f"{base}/documents", json={
        "documents": [{"text": f"text {i}"} for i in range(ROUNDS)]}).json()["items"]]
    for document_id in ids:
        answers = race([lambda n=n: api.post(f"{base}/documents/{document_id}/annotations",
                                             json={"label": ("pos", "neg")[n % 2]}) for n in range(RACERS)])
        no_server_errors(answers)
        assert sorted(a.status_code for a in answers) == [201] + [409] * (RACERS - 1)
        stored = api.get(f"{base}/documents/{document_id}/annotations").json()["items"]
        assert len(stored) == 1
