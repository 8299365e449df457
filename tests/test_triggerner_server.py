"""Through a real `leanlife serve`: an NER project with trigger explanations retrains with
`triggerner.v1`, and the recommendations it pushes over Socket.IO cite the words of their
document that matched."""

from __future__ import annotations

from tests.test_jobs_support import Api, live_server, train_and_collect_recommendations  # noqa: F401
from tests.test_triggerner import SMALL, synthetic_examples


def annotation_payload(annotation) -> dict:
    return {"label": annotation.label, "start": annotation.start, "end": annotation.end,
            "explanations": [{"kind": "trigger", "spans": [{"start": s.start, "end": s.end} for s in e.spans]}
                             for e in annotation.explanations]}


def test_trigger_project_retrains_and_recommendations_carry_matched_triggers(live_server, make_caller):
    api = Api(live_server, make_caller("owner").token)
    project = api.post("/api/v1/projects", json={"name": "people and places", "task": "ner",
                                                 "explanation_kind": "trigger"}).json()
    base = f"/api/v1/projects/{project['id']}"
    for label in ("PER", "LOC"):
        assert api.post(f"{base}/labels", json={"name": label, "kind": "span"}).status_code == 201
    # TriggerNER alone: the dictionary recommender would serve first (docs/models.md).
    assert api.patch(f"{base}/settings", json={"model": "triggerner.v1", "recommenders": ["triggerner.v1"],
                                               "retrain_policy": {"mode": "manual"},
                                               "model_config": {**SMALL, "epochs": 15}}).ok
    labeled, unlabeled = synthetic_examples(40, seed=1), synthetic_examples(6, seed=42)
    r = api.post(f"{base}/documents", json={"documents": [{"text": e.text} for e in labeled + unlabeled]})
    assert r.status_code == 201, r.text
    ids = [d["id"] for d in r.json()["items"]]
    for document_id, example in zip(ids, labeled):
        for annotation in example.annotations:
            r = api.post(f"{base}/documents/{document_id}/annotations", json=annotation_payload(annotation))
            assert r.status_code == 201, r.text

    pushed = train_and_collect_recommendations(live_server, api, project["id"])
    assert {d["document_id"] for d in pushed} == set(ids[len(labeled):])
    entities = [a for d in pushed for a in d["annotations"]]
    assert entities, "the trained model recognises entities in the unlabeled documents"
    known = {"Mr . said", "said", "arrived in"}
    texts = dict(zip(ids[len(labeled):], (e.text for e in unlabeled)))
    for document in pushed:
        for entity in document["annotations"]:
            assert entity["label"] in ("PER", "LOC") and 0 < entity["confidence"] <= 1
            triggers = entity["evidence"]["triggers"]  # words of this document, at their offsets
            assert triggers and all(texts[document["document_id"]][t["start"]:t["end"]] == t["text"]
                                    for t in triggers)
            assert {m["trigger"] for m in entity["evidence"]["training_triggers"]} <= known
