"""The live explanation feedback caches a parsed corpus per project; a caller must never get
matches built from annotation spans only another caller may see."""

from __future__ import annotations

from tests.conftest import add_document, create_project

EXPLANATION = 'SUBJ and OBJ sandwich the phrase "caused by the"'


def _entity(caller, pid: int, doc: dict, word: str) -> int:
    start = doc["text"].index(word)
    r = caller.post(f"/api/v1/projects/{pid}/documents/{doc['id']}/annotations",
                    json={"label": "O", "start": start, "end": start + len(word)})
    assert r.status_code == 201, r.get_json()
    return r.get_json()["id"]


def _matched(caller, pid: int, doc: dict, subject: int, obj: int) -> set[int]:
    r = caller.post(f"/api/v1/projects/{pid}/explanations/parse",
                    json={"text": EXPLANATION, "document_id": doc["id"], "label": "Cause-Effect",
                          "subject": subject, "object": obj})
    assert r.status_code == 200, r.get_json()
    data = r.get_json()
    assert data["holds"] and data["matches"] == len(data["examples"])
    return {e["document_id"] for e in data["examples"]}


def test_matches_are_built_only_from_spans_the_caller_may_see(make_caller):
    owner, alice, bob = make_caller("owner"), make_caller("alice"), make_caller("bob")
    project = create_project(owner, task="re", explanation_kind="natural_language", model="next.v1",
                             labels=(("O", "span"), ("Cause-Effect", "relation")))
    pid = project["id"]
    for name in ("alice", "bob"):
        assert owner.post(f"/api/v1/projects/{pid}/members",
                          json={"username": name, "role": "annotator"}).status_code == 201
    explained = add_document(owner, pid, "The fire was caused by the spark.")
    flood = add_document(owner, pid, "The flood was caused by the rain.")
    add_document(owner, pid, "The cat sat on the mat.")
    # Both mark the entities of the explained sentence; only alice marks the flood's, which
    # bob may not see (annotators see only their own annotations by default).
    alices = _entity(alice, pid, explained, "fire"), _entity(alice, pid, explained, "spark")
    _entity(alice, pid, flood, "flood")
    _entity(alice, pid, flood, "rain")
    bobs = _entity(bob, pid, explained, "fire"), _entity(bob, pid, explained, "spark")

    # Nothing changes between these requests, so a cache keyed by project alone is reused.
    assert _matched(alice, pid, explained, *alices) == {explained["id"], flood["id"]}
    assert _matched(bob, pid, explained, *bobs) == {explained["id"]}
    assert _matched(alice, pid, explained, *alices) == {explained["id"], flood["id"]}
    # The owner sees everybody's spans.
    assert _matched(owner, pid, explained, *alices) == {explained["id"], flood["id"]}

    # Once the owner lets annotators see each other's work, bob's matches include alice's spans.
    assert owner.patch(f"/api/v1/projects/{pid}", json={"annotators_see_others": True}).status_code == 200
    assert _matched(bob, pid, explained, *bobs) == {explained["id"], flood["id"]}
