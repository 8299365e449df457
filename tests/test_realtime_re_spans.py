"""A relation recommendation pushed over Socket.IO names its entities' words
(``subject_span``, ``object_span``) as ``GET .../model/recommendations/{doc}`` does: the
entity ids it names may be another annotator's, and the viewer's RE view puts their own
entity on the same words in its place (issue 16, item 3). Against a real ``leanlife serve``
with a real Socket.IO client, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from tests.test_jobs_support import Api, Listener, live_server  # noqa: F401  (fixture)

TAUGHT = "Tim Cook leads Apple ."
UNSEEN = "Satya Nadella leads Microsoft ."


@pytest.fixture
def app(make_app):
    return make_app()


def span(api: Api, pid: int, document_id: int, text: str, words: str, label: str) -> int:
    start = text.index(words)
    r = api.post(f"/api/v1/projects/{pid}/documents/{document_id}/annotations",
                 json={"label": label, "start": start, "end": start + len(words)})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def test_pushed_relation_recommendations_carry_their_entities_words(live_server, make_caller):
    owner, bob = make_caller("owner"), make_caller("bob")
    api = Api(live_server, owner.token)
    r = api.post("/api/v1/projects", json={"name": "relations", "task": "re", "explanation_kind": "natural_language"})
    assert r.status_code == 201, r.text
    pid = r.json()["id"]
    for name, kind in (("PER", "span"), ("ORG", "span"), ("works_for", "relation")):
        assert api.post(f"/api/v1/projects/{pid}/labels", json={"name": name, "kind": kind}).status_code == 201
    assert api.post(f"/api/v1/projects/{pid}/members", json={"username": "bob", "role": "annotator"}).status_code == 201
    taught, unseen = [d["id"] for d in api.post(f"/api/v1/projects/{pid}/documents", json={
        "documents": [{"text": TAUGHT}, {"text": UNSEEN}]}).json()["items"]]
    # bob's entities on the unseen document: the ones a recommendation there names.
    bobs = Api(live_server, bob.token)
    entities = {"Satya Nadella": span(bobs, pid, unseen, UNSEEN, "Satya Nadella", "PER"),
                "Microsoft": span(bobs, pid, unseen, UNSEEN, "Microsoft", "ORG")}

    listener = Listener(live_server, owner.token)
    try:
        assert listener.join(pid) == {"ok": True}
        # The owner teaches NExT's rule matcher (the cheap recommender) one relation.
        subject, object_ = (span(api, pid, taught, TAUGHT, "Tim Cook", "PER"),
                            span(api, pid, taught, TAUGHT, "Apple", "ORG"))
        r = api.post(f"/api/v1/projects/{pid}/documents/{taught}/annotations", json={
            "label": "works_for", "subject": subject, "object": object_,
            "explanations": [{"kind": "natural_language", "text": "The word 'leads' is between SUBJ and OBJ"}]})
        assert r.status_code == 201, r.text
        pushed = listener.wait_for("recommendations", lambda d: any(
            doc["document_id"] == unseen and doc["annotations"] for doc in d["documents"]), timeout=60)
    finally:
        listener.close()

    [document] = [d for d in pushed["documents"] if d["document_id"] == unseen]
    relations = document["annotations"]
    assert all("subject_span" in r and "object_span" in r for r in relations), relations
    [relation] = [r for r in relations if r["subject"] == entities["Satya Nadella"]]
    assert (relation["label"], relation["object"]) == ("works_for", entities["Microsoft"])
    assert relation["subject_span"] == {"start": 0, "end": len("Satya Nadella"), "label": "PER"}
    assert relation["object_span"] == {"start": UNSEEN.index("Microsoft"),
                                       "end": UNSEEN.index("Microsoft") + len("Microsoft"), "label": "ORG"}
    # The same as the REST endpoint answers for that version.
    served = api.get(f"/api/v1/projects/{pid}/model/recommendations/{unseen}").json()
    if served["model_version_id"] == pushed["model_version_id"]:
        assert served["items"] == document["annotations"]
