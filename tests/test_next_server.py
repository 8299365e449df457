"""Through a real `leanlife serve`: a relation project with natural-language explanations
retrains with `next.v1`, and the recommendations it pushes over Socket.IO say which
explanations fired."""

from __future__ import annotations

from tests.test_jobs_support import Api, live_server, train_and_collect_recommendations  # noqa: F401

CAUSE = "Cause-Effect(e2,e1)"
CONTAINER = "Content-Container(e1,e2)"
EXPLANATIONS = {CAUSE: 'SUBJ and OBJ sandwich the phrase "caused by the"',
                CONTAINER: 'SUBJ and OBJ sandwich the phrase "put inside a"'}
LABELED = [("The fire was caused by the spark yesterday .", "fire", "spark", CAUSE),
           ("The damage was caused by the storm .", "damage", "storm", CAUSE),
           ("A coin was put inside a box .", "coin", "box", CONTAINER),
           ("The letter was put inside a drawer .", "letter", "drawer", CONTAINER)]
UNLABELED = [("The flood was caused by the rain .", "flood", "rain"),
             ("The key was put inside a jar .", "key", "jar")]


def _entities(api: Api, base: str, document_id: int, text: str, *words: str) -> list[int]:
    ids = []
    for word in words:
        start = text.index(word)
        r = api.post(f"{base}/documents/{document_id}/annotations",
                     json={"label": "ARG", "start": start, "end": start + len(word)})
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    return ids


def test_relation_project_retrains_with_next_and_recommendations_name_fired_explanations(live_server, make_caller):
    api = Api(live_server, make_caller("owner").token)
    project = api.post("/api/v1/projects", json={"name": "causes", "task": "re",
                                                 "explanation_kind": "natural_language"}).json()
    base = f"/api/v1/projects/{project['id']}"
    for name, kind in ((CAUSE, "relation"), (CONTAINER, "relation"), ("ARG", "span")):
        assert api.post(f"{base}/labels", json={"name": name, "kind": kind}).status_code == 201
    assert api.patch(f"{base}/settings", json={"model": "next.v1", "model_config": {"epochs": 3}}).ok
    texts = [t for t, *_ in LABELED + UNLABELED]
    documents = api.post(f"{base}/documents", json={"documents": [{"text": t} for t in texts]}).json()["items"]
    for document, (text, subject, obj, label) in zip(documents, LABELED):
        subject_id, object_id = _entities(api, base, document["id"], text, subject, obj)
        r = api.post(f"{base}/documents/{document['id']}/annotations",
                     json={"label": label, "subject": subject_id, "object": object_id,
                           "explanations": [{"text": EXPLANATIONS[label]}]})
        assert r.status_code == 201, r.text
    unlabeled_entities = {document["id"]: set(_entities(api, base, document["id"], text, subject, obj))
                          for document, (text, subject, obj) in zip(documents[len(LABELED):], UNLABELED)}

    pushed = train_and_collect_recommendations(live_server, api, project["id"])
    # Documents whose only annotations are entities are still unlabeled: they get recommendations.
    assert {d["document_id"] for d in pushed} == set(unlabeled_entities)
    fired = []
    for document in pushed:
        for relation in document["annotations"]:
            assert relation["kind"] == "relation" and relation["label"] in (CAUSE, CONTAINER)
            assert {relation["subject"], relation["object"]} <= unlabeled_entities[document["document_id"]]
            assert 0 < relation["confidence"] <= 1
            fired.extend(relation.get("evidence", {}).get("explanations", []))
    assert set(fired) == set(EXPLANATIONS.values()), "each unlabeled sentence matches its rule strictly"
