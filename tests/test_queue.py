"""The annotation queue: leases, ranking by the active model, the confidence threshold,
copies of one text kept from crowding its top."""

from __future__ import annotations

import time

import pytest

from leanlife_server.pipeline.duplicates import demote_duplicates, duplicate_key
from leanlife_server.plugin_api import SPAN, AnnotationData, Example
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


def test_copies_after_the_first_and_copies_of_labeled_texts_go_last():
    scores = demote_duplicates(["a", "b", "a", "c", "d", "a"], [0.5, 0.9, 0.7, 0.1, 0.8, 0.6], labeled=["d"])
    # The first "a" keeps the best score of its copies; the demoted keep their own order.
    assert scores[:4] == [0.7, 0.9, scores[2], 0.1]
    assert max(scores[2], scores[4], scores[5]) < min(scores[0], scores[1], scores[3])
    assert scores[4] > scores[2] > scores[5]
    assert demote_duplicates(["a", "b"], [0.2, 0.1]) == [0.2, 0.1], "without copies nothing changes"


def test_a_duplicate_is_the_same_text_with_the_same_input_annotations():
    entity = AnnotationData(SPAN, "PER", start=0, end=3)
    other = AnnotationData(SPAN, "PER", start=4, end=7)
    assert duplicate_key(Example(1, "Ann met Bob")) == duplicate_key(Example(2, "Ann met Bob"))
    assert duplicate_key(Example(1, "Ann met Bob", (entity,)), [SPAN]) != \
        duplicate_key(Example(2, "Ann met Bob", (other,)), [SPAN]), "RE: other entities, another question"


def test_the_queue_asks_for_one_copy_of_a_text(app, make_caller):
    owner = make_caller("owner")
    project = sentiment_project(owner, documents=40)
    labeled = (0, 8, 1, 9, 2, 10)
    label(owner, project, labeled)
    assert train(owner, project)["state"] == "finished"
    queue_url = f"/api/v1/projects/{project['id']}/queue?limit=100"
    top = owner.get(queue_url).get_json()["items"][0]["document_id"]
    text_of = lambda document_id: owner.get(  # noqa: E731
        f"/api/v1/projects/{project['id']}/documents/{document_id}").get_json()["text"]
    copies = [text_of(top), text_of(top), text_of(project["documents"][labeled[0]])]
    r = owner.post(f"/api/v1/projects/{project['id']}/documents", json={"documents": [{"text": t} for t in copies]})
    assert r.status_code == 201, r.get_json()
    assert train(owner, project)["state"] == "finished"
    items = owner.get(queue_url).get_json()["items"]
    assert items[0]["document_id"] == top, "the first copy keeps its place"
    assert [i["document_id"] for i in items[-3:]] == [d["id"] for d in r.get_json()["items"]], \
        "the other copies, and the copy of a labeled text, go to the end of the queue"
    scores = [i["score"] for i in items]
    assert scores == sorted(scores, reverse=True)
