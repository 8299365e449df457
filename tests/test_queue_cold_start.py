"""The queue while a cheap recommender serves (docs/models.md, "The queue at the start"):
its versions give no probabilities for a strategy to measure, so documents it would suggest
most in come first instead of import order. A strategy that does tell documents apart (the
random baseline) keeps its order. And a relation project that collects explanations gets
NExT's rule matcher as its cheap recommender; one that collects none does not."""

from __future__ import annotations

import pytest

from leanlife_server.pipeline.retrain import CHEAP_KIND
from leanlife_server.pipeline.scoring import suggestion_weight, with_cold_start
from leanlife_server.plugin_api import SPAN, AnnotationData, DocumentPrediction
from tests.conftest import create_project
from tests.test_jobs_support import wait_until
from tests.test_recommenders import settled

TEXTS = ["Ann met Bob in Paris .", "the weather was mild .", "a long day at work .",
         "Bob called later .", "nothing new today ."]


def prediction(*confidences: float) -> DocumentPrediction:
    return DocumentPrediction(None, tuple(AnnotationData(SPAN, "PER", 0, 1, confidence=c) for c in confidences))


def test_equal_scores_give_way_to_the_suggestions():
    flat = with_cold_start(lambda predictions: [0.0] * len(predictions))
    assert flat([prediction(), prediction(0.9, 0.6), prediction(0.7)]) == [0.0, pytest.approx(1.5), 0.7]
    informed = with_cold_start(lambda predictions: [0.3, 0.1, 0.2])
    assert informed([prediction(), prediction(0.9, 0.6), prediction(0.7)]) == [0.3, 0.1, 0.2]
    assert suggestion_weight(prediction()) == 0.0


@pytest.mark.parametrize("strategy", [None, "random"])
def test_after_the_first_annotation_the_document_with_a_suggestion_comes_next(app, make_caller, strategy):
    owner = make_caller("owner")
    project = create_project(owner, "ner", labels=(("PER", "span"), ("LOC", "span")))
    base = f"/api/v1/projects/{project['id']}"
    if strategy:
        assert owner.patch(f"{base}/settings", json={"query_strategy": strategy}).status_code == 200
    documents = owner.post(f"{base}/documents", json={"documents": [{"text": t} for t in TEXTS]}).get_json()["items"]
    first = owner.get(f"{base}/queue/next").get_json()["id"]
    assert first == documents[0]["id"]  # nothing trained: import order
    assert owner.post(f"{base}/documents/{first}/annotations",
                      json={"label": "PER", "start": 8, "end": 11}).status_code == 201  # "Bob"
    assert owner.put(f"{base}/documents/{first}/finished").status_code in (200, 204)
    wait_until(lambda: settled(app, project["id"], CHEAP_KIND), what="the cheap job")
    served = owner.get(f"{base}/queue/next").get_json()["id"]
    if strategy is None:  # the default strategy cannot rank without probabilities: suggestions first
        assert served == documents[3]["id"], "Bob called later ."
    else:
        items = owner.get(f"{base}/queue?limit=10").get_json()["items"]
        assert len({i["score"] for i in items}) > 1, "the random baseline's own scores"


def test_a_relation_project_with_explanations_gets_the_rule_matcher_first(app, make_caller):
    owner = make_caller("owner")
    explained = create_project(owner, "re", "natural_language", model="next.v1")
    plain = create_project(owner, "re", "none")
    recommenders = owner.get(f"/api/v1/projects/{explained['id']}/model").get_json()["recommenders"]
    assert [r["model"] for r in recommenders][:1] == ["next_rules.v1"]
    assert "next_rules.v1" not in [r["model"] for r in owner.get(
        f"/api/v1/projects/{plain['id']}/model").get_json()["recommenders"]]


def test_the_dictionary_suggests_what_a_held_out_document_taught_it(app, make_caller):
    """The held-out share scores the cheap model; it then refits on every labeled document, so
    an entity annotated only in a held-out document is suggested elsewhere all the same."""
    from leanlife_server.pipeline.dataset import _held_out
    from tests.test_recommenders import NAMES

    owner = make_caller("owner")
    project = create_project(owner, "ner", labels=(("PER", "span"), ("LOC", "span")))
    base = f"/api/v1/projects/{project['id']}"
    texts = [f"mr {name} went home ." for name in NAMES] + [f"later {name} came back ." for name in NAMES]
    ids = [d["id"] for d in owner.post(f"{base}/documents", json={"documents": [{"text": t} for t in texts]})
           .get_json()["items"]]
    for name, document_id in zip(NAMES, ids):
        assert owner.post(f"{base}/documents/{document_id}/annotations",
                          json={"label": "PER", "start": 3, "end": 3 + len(name)}).status_code == 201
    wait_until(lambda: settled(app, project["id"], CHEAP_KIND), what="the cheap jobs")
    held = [i for i, document_id in enumerate(ids[:len(NAMES)]) if _held_out(document_id)]
    assert held, "some annotated documents are held out (about a fifth)"
    model = owner.get(f"{base}/model").get_json()
    assert any(r["model"] == "dictionary.v1" for r in model["recommenders"])
    for i in held:
        later = ids[len(NAMES) + i]
        items = owner.get(f"{base}/model/recommendations/{later}").get_json()["items"]
        assert [(r["label"], r["start"], r["end"]) for r in items] == [("PER", 6, 6 + len(NAMES[i]))], NAMES[i]
