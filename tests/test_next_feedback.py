"""Live explanation feedback through the API (the core dispatches to the NExT plugin)."""

from __future__ import annotations

from tests.conftest import add_document, create_project


def _entity(owner, pid, doc, text, word, label="O"):
    start = doc["text"].index(word)
    r = owner.post(f"/api/v1/projects/{pid}/documents/{doc['id']}/annotations",
                   json={"label": label, "start": start, "end": start + len(word)})
    assert r.status_code == 201, r.get_json()
    return r.get_json()["id"]


def test_relation_explanation_feedback(make_caller):
    owner = make_caller("owner")
    project = create_project(owner, task="re", explanation_kind="natural_language", model="next.v1",
                             labels=(("O", "span"), ("Cause-Effect", "relation")))
    pid = project["id"]
    explained = add_document(owner, pid, "The fire was caused by the spark.")
    subject = _entity(owner, pid, explained, explained["text"], "fire")
    obj = _entity(owner, pid, explained, explained["text"], "spark")
    matching = add_document(owner, pid, "The flood was caused by the rain.")
    _entity(owner, pid, matching, matching["text"], "flood")
    _entity(owner, pid, matching, matching["text"], "rain")
    other = add_document(owner, pid, "The cat sat on the mat.")
    _entity(owner, pid, other, other["text"], "cat")
    _entity(owner, pid, other, other["text"], "mat")
    url = f"/api/v1/projects/{pid}/explanations/parse"
    body = {"text": 'SUBJ and OBJ sandwich the phrase "caused by the"', "document_id": explained["id"],
            "label": "Cause-Effect", "subject": subject, "object": obj}
    r = owner.post(url, json=body)
    assert r.status_code == 200, r.get_json()
    data = r.get_json()
    assert data["holds"] and data["logical_form"] == '"caused by the" occurs between SUBJ and OBJ'
    matched = {e["document_id"] for e in data["examples"]}
    assert matched == {explained["id"], matching["id"]} and data["matches"] == 2

    r = owner.post(url, json={**body, "text": "The word 'banana' is right before OBJ"})
    assert r.status_code == 200 and r.get_json()["holds"] is False
    r = owner.post(url, json={**body, "subject": 999})
    assert r.status_code == 422 and r.get_json()["error"]["details"]["field"] == "subject"
    stranger = make_caller("stranger")
    assert stranger.post(url, json=body).status_code == 404


def test_sentiment_explanation_feedback_counts_unlabeled_documents(make_caller):
    owner = make_caller("owner")
    project = create_project(owner, task="sa", explanation_kind="natural_language",
                             labels=(("positive", "document"),))
    pid = project["id"]
    doc = add_document(owner, pid, "A terrific little place.")
    add_document(owner, pid, "Terrific service and a terrific view.")
    add_document(owner, pid, "Cold food.")
    r = owner.post(f"/api/v1/projects/{pid}/explanations/parse",
                   json={"text": "The word 'terrific' appears", "document_id": doc["id"], "label": "positive"})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["matches"] == 2 and r.get_json()["logical_form"] == '"terrific" occurs in the sentence'
