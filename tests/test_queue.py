"""The annotation queue: leases, ranking by the active model, the confidence threshold."""

from __future__ import annotations

import time

import pytest

from tests import test_jobs_toy_models
from tests.test_jobs_support import sentiment_project
from tests.test_model_api import label, train


@pytest.fixture
def app(make_app):
    return make_app(extra_plugins=[test_jobs_toy_models])


def join(owner, project, username):
    r = owner.post(f"/api/v1/projects/{project['id']}/members", json={"username": username, "role": "annotator"})
    assert r.status_code == 201, r.get_json()


def test_leases_keep_annotators_apart_and_expire(app, make_caller):
    owner, ann, bob = make_caller("owner"), make_caller("ann"), make_caller("bob")
    project = sentiment_project(owner, documents=5)
    join(owner, project, "ann")
    join(owner, project, "bob")
    url = f"/api/v1/projects/{project['id']}/queue/next"
    first = ann.get(url).get_json()
    assert first["id"] == project["documents"][0], "without a model the queue is in id order"
    assert ann.get(url).get_json()["id"] == first["id"], "asking again keeps the same document"
    second = bob.get(url).get_json()
    assert second["id"] == project["documents"][1], "another annotator gets another document"
    assert ann.delete(f"/api/v1/projects/{project['id']}/queue/lease/{first['id']}").status_code == 204
    assert bob.get(f"/api/v1/projects/{project['id']}/queue").get_json()["items"][0]["document_id"] == first["id"]
    app.config["LEANLIFE"].lease_seconds = 1
    held = ann.get(url).get_json()["id"]
    assert held not in (second["id"],)
    time.sleep(1.2)
    assert held in [i["document_id"] for i in bob.get(f"/api/v1/projects/{project['id']}/queue?limit=10")
                    .get_json()["items"]], "an expired lease frees the document"


def test_the_queue_follows_the_model_and_drops_what_it_is_sure_of(app, make_caller):
    owner = make_caller("owner")
    project = sentiment_project(owner, documents=40)
    label(owner, project, (0, 8, 1, 9, 2, 10))
    assert train(owner, project)["state"] == "finished"
    queue_url = f"/api/v1/projects/{project['id']}/queue?limit=100"
    items = owner.get(queue_url).get_json()["items"]
    assert len(items) == 34
    scores = [i["score"] for i in items]
    assert scores == sorted(scores, reverse=True) and scores[0] > scores[-1]
    assert owner.get(f"/api/v1/projects/{project['id']}/queue/next").get_json()["id"] == items[0]["document_id"]
    confidences = sorted(i["confidence"] for i in items)
    threshold = confidences[len(confidences) // 2]
    assert owner.patch(f"/api/v1/projects/{project['id']}/settings",
                       json={"confidence_threshold": threshold}).status_code == 200
    kept = owner.get(queue_url).get_json()["items"]
    assert kept and all(i["confidence"] < threshold for i in kept)
    assert len(kept) == sum(c < threshold for c in confidences)
    document_id = kept[0]["document_id"]
    owner.post(f"/api/v1/projects/{project['id']}/documents/{document_id}/annotations", json={"label": "pos"})
    assert document_id not in [i["document_id"] for i in owner.get(queue_url).get_json()["items"]]
