"""Several recommenders per project through the API (in-process jobs): the dictionary matcher
retrains on every save and serves first; the learned model takes over once its held-out
precision passes the dictionary's; each model keeps its own active version."""

from __future__ import annotations

import pytest

from leanlife_server.db import db
from leanlife_server.db.models import Job, ModelVersion
from leanlife_server.pipeline.recommenders import choose
from leanlife_server.pipeline.retrain import CHEAP_KIND, CHEAP_VERSIONS_KEPT
from tests import test_jobs_toy_models
from tests.conftest import create_project
from tests.test_jobs_support import wait_until

# Names that occur once each: the dictionary cannot guess an unseen one, while the toy
# tagger learns that the word after "mr" is a person.
NAMES = ["smith", "jones", "brown", "green", "white", "black", "baker", "clark", "lewis", "young",
         "walker", "hall", "allen", "king", "wright", "scott", "adams", "nelson", "hill", "moore",
         "wood", "cole", "ward", "reed", "cook", "bell", "kelly", "price", "ross", "perry"]


@pytest.fixture
def app(make_app):
    return make_app(extra_plugins=[test_jobs_toy_models])


def ner_project(owner) -> dict:
    project = create_project(owner, "ner", labels=(("PER", "span"), ("LOC", "span")),
                             model="toy.tagger.v1")
    texts = [f"mr {name} went home ." for name in NAMES] + ["later that day Mr  SMITH came back ."]
    r = owner.post(f"/api/v1/projects/{project['id']}/documents", json={"documents": [{"text": t} for t in texts]})
    assert r.status_code == 201, r.get_json()
    project["documents"] = [d["id"] for d in r.get_json()["items"]]
    return project


def annotate_name(owner, project, index: int) -> dict:
    document_id = project["documents"][index]
    r = owner.post(f"/api/v1/projects/{project['id']}/documents/{document_id}/annotations",
                   json={"label": "PER", "start": 3, "end": 3 + len(NAMES[index])})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def jobs(app, project_id: int, kind: str) -> list[tuple[str, str | None]]:
    with app.app_context():
        return [(j.state, j.error) for j in db.session.scalars(
            db.select(Job).where(Job.project_id == project_id, Job.kind == kind).order_by(Job.id))]


def settled(app, project_id: int, kind: str, count: int = 1):
    found = jobs(app, project_id, kind)
    done = len(found) >= count and all(state in ("finished", "failed") for state, _ in found)
    return found if done else None


def recommendations(owner, project, index: int) -> dict:
    r = owner.get(f"/api/v1/projects/{project['id']}/model/recommendations/{project['documents'][index]}")
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def train(app, owner, project) -> None:
    before = len(jobs(app, project["id"], "train"))
    assert owner.post(f"/api/v1/projects/{project['id']}/model/train").status_code == 202
    found = wait_until(lambda: settled(app, project["id"], "train", before + 1), what="training")
    assert found[-1] == ("finished", None), found


def test_an_ner_project_gets_a_dictionary_recommendation_after_one_annotation(app, make_caller):
    owner = make_caller("owner")
    project = ner_project(owner)
    settings = owner.get(f"/api/v1/projects/{project['id']}/settings").get_json()
    assert settings["recommenders"] is None, "the default list"
    assert recommendations(owner, project, -1)["items"] == []
    annotate_name(owner, project, 0)  # "smith" in "mr smith went home ."
    [(state, error)] = wait_until(lambda: settled(app, project["id"], CHEAP_KIND), what="the cheap job")
    assert state == "finished", error
    assert jobs(app, project["id"], "train") == [], "the manual policy trains no learned model"
    page = recommendations(owner, project, -1)  # "later that day Mr  SMITH came back ."
    assert page["model"] == "dictionary.v1"
    [item] = page["items"]
    assert (item["label"], item["start"], item["end"]) == ("PER", 19, 24)
    assert item["evidence"] == {"source": "dictionary", "annotated": 1, "seen": 1, "example": {
        "document_id": project["documents"][0], "start": 3, "end": 8, "text": "smith"}}
    status = owner.get(f"/api/v1/projects/{project['id']}/model").get_json()
    assert status["model"] == "toy.tagger.v1", "the single-model API still names the project's model"
    assert status["active_version"]["model"] == "dictionary.v1"
    assert [(r["model"], r["cheap"], r["serving"]) for r in status["recommenders"]] == [
        ("dictionary.v1", True, True), ("toy.tagger.v1", False, False)]


def test_deleting_the_annotation_retrains_the_dictionary(app, make_caller):
    owner = make_caller("owner")
    project = ner_project(owner)
    annotation = annotate_name(owner, project, 0)
    wait_until(lambda: settled(app, project["id"], CHEAP_KIND), what="the cheap job")
    assert recommendations(owner, project, -1)["items"]
    r = owner.delete(f"/api/v1/projects/{project['id']}/annotations/{annotation['id']}")
    assert r.status_code == 204
    found = wait_until(lambda: settled(app, project["id"], CHEAP_KIND, 2), what="the second cheap job")
    assert [state for state, _ in found] == ["finished", "finished"], found
    assert recommendations(owner, project, -1)["items"] == [], "nothing is annotated any more"


def test_the_learned_model_serves_once_its_heldout_precision_passes_the_dictionary(app, make_caller):
    owner = make_caller("owner")
    project = ner_project(owner)
    annotate_name(owner, project, 0)
    train(app, owner, project)
    status = owner.get(f"/api/v1/projects/{project['id']}/model").get_json()
    assert [(r["model"], r["heldout_precision"], r["serving"]) for r in status["recommenders"]] == [
        ("dictionary.v1", None, True), ("toy.tagger.v1", None, False)], "no held-out data: the cheap one"
    assert recommendations(owner, project, -1)["model"] == "dictionary.v1"

    for index in range(1, len(NAMES)):
        annotate_name(owner, project, index)
    train(app, owner, project)
    wait_until(lambda: settled(app, project["id"], CHEAP_KIND), what="the cheap jobs")
    status = owner.get(f"/api/v1/projects/{project['id']}/model").get_json()
    scores = {r["model"]: r["heldout_precision"] for r in status["recommenders"]}
    # Every held-out name is new: the dictionary suggests nothing there; the tagger finds them.
    assert scores["dictionary.v1"] == 0.0 and scores["toy.tagger.v1"] > 0.5, scores
    assert [r["model"] for r in status["recommenders"] if r["serving"]] == ["toy.tagger.v1"]
    assert status["active_version"]["model"] == "toy.tagger.v1"
    page = recommendations(owner, project, -1)
    assert page["model"] == "toy.tagger.v1" and page["model_version_id"] == status["active_version"]["id"]
    assert ("PER", 19, 24) in {(i["label"], i["start"], i["end"]) for i in page["items"]}
    versions = owner.get(f"/api/v1/projects/{project['id']}/model/versions").get_json()["items"]
    active = sorted(v["model"] for v in versions if v["is_active"])
    assert active == ["dictionary.v1", "toy.tagger.v1"], "one active version per model"
    assert sum(v["model"] == "dictionary.v1" for v in versions) <= CHEAP_VERSIONS_KEPT + 1, \
        "older dictionary versions are deleted"
    # Rolling the tagger back to its first version (no held-out data) hands serving back.
    first_tagger = min(v["id"] for v in versions if v["model"] == "toy.tagger.v1")
    assert owner.post(f"/api/v1/projects/{project['id']}/model/versions/{first_tagger}/activate").status_code == 200
    assert recommendations(owner, project, -1)["model"] == "dictionary.v1"


def test_recommenders_setting(app, make_caller):
    owner = make_caller("owner")
    project = ner_project(owner)
    settings = f"/api/v1/projects/{project['id']}/settings"
    twice = owner.patch(settings, json={"recommenders": ["dictionary.v1", "dictionary.v1"]})
    assert twice.status_code == 422 and twice.get_json()["error"]["details"]["field"] == "recommenders[1]"
    wrong = owner.patch(settings, json={"recommenders": ["toy.bow.v1"]})
    assert wrong.status_code == 422 and wrong.get_json()["error"]["details"]["field"] == "recommenders[0]"
    assert owner.patch(settings, json={"recommenders": []}).status_code == 422
    r = owner.patch(settings, json={"recommenders": ["toy.tagger.v1"]})
    assert r.status_code == 200 and r.get_json()["recommenders"] == ["toy.tagger.v1"]
    annotate_name(owner, project, 0)
    assert jobs(app, project["id"], CHEAP_KIND) == [], "no cheap recommender: no cheap job"
    assert owner.patch(settings, json={"recommenders": None}).get_json()["recommenders"] is None


def test_an_sa_project_starts_with_the_sentence_embedding_classifier(app, make_caller):
    owner = make_caller("owner")
    project = create_project(owner, "sa", labels=test_jobs_toy_models.SENTIMENT_LABELS, model="toy.bow.v1")
    status = owner.get(f"/api/v1/projects/{project['id']}/model").get_json()
    assert [r["model"] for r in status["recommenders"]] == ["sentence_embedding_sa.v1", "toy.bow.v1"]
    plain = create_project(owner, "sa", labels=test_jobs_toy_models.SENTIMENT_LABELS)
    status = owner.get(f"/api/v1/projects/{plain['id']}/model").get_json()
    assert [r["model"] for r in status["recommenders"]] == ["sentence_embedding_sa.v1"]


def test_an_sa_project_gets_suggestions_from_its_first_two_labels(app, make_caller):
    """The sentence-embedding classifier is cheap: it retrains on every save, so a review of
    each polarity is enough for suggestions on every other document."""
    owner = make_caller("owner")
    project = create_project(owner, "sa", labels=test_jobs_toy_models.SENTIMENT_LABELS,
                             retrain_policy={"mode": "manual"})
    texts = test_jobs_toy_models.POSITIVE + test_jobs_toy_models.NEGATIVE
    r = owner.post(f"/api/v1/projects/{project['id']}/documents", json={"documents": [{"text": t} for t in texts]})
    assert r.status_code == 201, r.get_json()
    project["documents"] = [d["id"] for d in r.get_json()["items"]]
    gold = ["pos"] * len(test_jobs_toy_models.POSITIVE) + ["neg"] * len(test_jobs_toy_models.NEGATIVE)
    for index in (0, len(test_jobs_toy_models.POSITIVE)):  # "a wonderful film", "a terrible film"
        r = owner.post(f"/api/v1/projects/{project['id']}/documents/{project['documents'][index]}/annotations",
                       json={"label": gold[index]})
        assert r.status_code == 201, r.get_json()
    found = wait_until(lambda: (f := settled(app, project["id"], CHEAP_KIND))
                       and not [1 for state, _ in f if state == "queued"] and f, what="the cheap jobs")
    assert all(state == "finished" for state, _ in found), found
    assert jobs(app, project["id"], "train") == [], "the policy (manual) trained nothing"
    suggested = {index: recommendations(owner, project, index)["items"] for index in range(len(texts))
                 if index not in (0, len(test_jobs_toy_models.POSITIVE))}
    assert all(len(items) == 1 for items in suggested.values()), suggested
    right = sum(items[0]["label"] == gold[index] for index, items in suggested.items())
    assert right >= 11, f"{right} of {len(suggested)} suggestions right after two labels"


def version(model: str, heldout: dict) -> ModelVersion:
    return ModelVersion(model=model, metrics={"train": {}, "heldout": heldout})


def test_selection_rule():
    order = ["dictionary.v1", "tagger", "sa"]
    cheap, learned = version("dictionary.v1", {"precision": 0.8}), version("tagger", {"precision": 0.9})
    assert choose([cheap, learned], order) is learned
    equal = version("tagger", {"precision": 0.8})
    assert choose([equal, cheap], order) is cheap, "a tie goes to the model listed first"
    unscored = version("tagger", {})
    assert choose([unscored, version("dictionary.v1", {})], order).model == "dictionary.v1"
    assert choose([unscored, cheap], order) is cheap, "a score beats none"
    assert choose([version("sa", {"accuracy": 0.7}), version("tagger", {"precision": 0.6})], order).model == "sa"
    assert choose([], order) is None
