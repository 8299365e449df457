"""The fourth task, examples/plugins/leanlife-absa, as a third party's installed plugin: aspect
terms with a polarity attribute, through the REST API (save, check, retrain in the loop,
recommend, import, export), and its model alone (train, predict, save, load)."""

from __future__ import annotations

import io
import json

import pytest

from leanlife_absa.model import build_lexicon_model
from leanlife_absa.semeval import read_semeval
from leanlife_server.plugin_api import SPAN, AnnotationData, Dataset, Example
from tests.conftest import create_project
from tests.test_import_export_api import upload, wait_for
from tests.test_jobs_support import wait_until
from tests.test_recommenders import jobs, settled
from leanlife_server.pipeline.retrain import CHEAP_KIND

LABELS = (("FOOD", "span"), ("SERVICE", "span"))
REVIEWS = ["The pasta was great but the waiter was rude.", "Great pasta, slow waiter.",
           "The pasta is cold and the waiter forgot us."]


def absa_project(owner) -> dict:
    project = create_project(owner, "absa", labels=LABELS)
    r = owner.post(f"/api/v1/projects/{project['id']}/documents",
                   json={"documents": [{"text": t} for t in REVIEWS]})
    assert r.status_code == 201, r.get_json()
    project["documents"] = [d["id"] for d in r.get_json()["items"]]
    return project


def aspect(owner, project, index: int, term: str, label: str, polarity, **extra):
    text = REVIEWS[index]
    start = text.index(term)
    return owner.post(f"/api/v1/projects/{project['id']}/documents/{project['documents'][index]}/annotations",
                      json={"label": label, "start": start, "end": start + len(term),
                            "attributes": {"polarity": polarity}, **extra})


def test_the_example_registers_a_task_model_and_format(make_caller):
    owner = make_caller("owner")
    rows = {(r["kind"], r["name"]): r for r in owner.get("/api/v1/plugins").get_json()["registrations"]}
    assert rows[("task", "absa")]["plugin"] == "absa"
    assert rows[("model", "absa.lexicon.v1")]["tasks"] == ["absa"]
    assert rows[("format", "semeval_absa")]["tasks"] == ["absa"]
    # The generic formats serve every task, this plugin's too.
    assert "absa" in rows[("format", "jsonl")]["tasks"]
    project = create_project(owner, "absa")
    assert project["settings"]["model"] == "absa.lexicon.v1", "the task's suggested model"


def test_an_aspect_term_carries_its_polarity_and_the_task_checks_it(make_caller):
    owner = make_caller("owner")
    project = absa_project(owner)
    saved = aspect(owner, project, 0, "pasta", "FOOD", "positive")
    assert saved.status_code == 201, saved.get_json()
    body = saved.get_json()
    assert (body["label"], body["attributes"]) == ("FOOD", {"polarity": "positive"})
    listed = owner.get(f"/api/v1/projects/{project['id']}/documents/{project['documents'][0]}/annotations")
    assert [a["attributes"] for a in listed.get_json()["items"]] == [{"polarity": "positive"}]

    bad = aspect(owner, project, 0, "waiter", "SERVICE", "furious")
    assert bad.status_code == 422
    assert bad.get_json()["error"]["details"]["field"] == "attributes.polarity"
    extra = aspect(owner, project, 0, "waiter", "SERVICE", "negative")
    changed = owner.put(f"/api/v1/projects/{project['id']}/annotations/{extra.get_json()['id']}",
                        json={"label": "SERVICE", "start": extra.get_json()["start"],
                              "end": extra.get_json()["end"], "attributes": {"polarity": "neutral"}})
    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json()["attributes"] == {"polarity": "neutral"}
    missing = owner.put(f"/api/v1/projects/{project['id']}/annotations/{extra.get_json()['id']}",
                        json={"label": "SERVICE", "start": 0, "end": 3})
    assert missing.status_code == 422 and missing.get_json()["error"]["details"]["field"] == "attributes"


def test_tasks_without_attributes_refuse_them(make_caller):
    owner = make_caller("owner")
    ner = create_project(owner, "ner", labels=(("PER", "span"),))
    document = owner.post(f"/api/v1/projects/{ner['id']}/documents", json={"text": "Ann spoke."}).get_json()
    r = owner.post(f"/api/v1/projects/{ner['id']}/documents/{document['id']}/annotations",
                   json={"label": "PER", "start": 0, "end": 3, "attributes": {"polarity": "positive"}})
    assert r.status_code == 422
    assert "attributes" in r.get_json()["error"]["message"]


def test_the_lexicon_retrains_on_a_save_and_recommends_with_a_polarity_and_evidence_in_the_text(app, make_caller):
    owner = make_caller("owner")
    project = absa_project(owner)
    assert aspect(owner, project, 0, "pasta", "FOOD", "positive").status_code == 201
    assert aspect(owner, project, 0, "waiter", "SERVICE", "negative").status_code == 201
    text = REVIEWS[1]

    def both_terms_recommended():
        # A save while a cheap job waits adds none (that job reads it too): 1 or 2 jobs.
        found = settled(app, project["id"], CHEAP_KIND)
        assert found is None or all(state == "finished" for state, _ in found), found
        page = owner.get(f"/api/v1/projects/{project['id']}/model/recommendations/"
                         f"{project['documents'][1]}").get_json()
        terms = {(text[i["start"]:i["end"]], i["label"]) for i in page["items"]}
        return page if found and terms == {("pasta", "FOOD"), ("waiter", "SERVICE")} else None

    page = wait_until(both_terms_recommended, what="recommendations of both terms")
    assert page["model"] == "absa.lexicon.v1"
    for item in page["items"]:
        assert item["attributes"]["polarity"] in ("positive", "negative", "neutral", "conflict")
        assert item["evidence"]["example"]["document_id"] == project["documents"][0]
        for cue in item["evidence"]["triggers"]:  # evidence names only words of this document
            assert text[cue["start"]:cue["end"]] == cue["text"]
    # "Great" came before the positive "pasta" in training: the positive term stays positive.
    pasta = next(i for i in page["items"] if i["label"] == "FOOD")
    assert pasta["attributes"]["polarity"] == "positive"
    assert jobs(app, project["id"], "train") == [], "the cheap model serves; nothing else trains"


SEMEVAL_2014 = """<?xml version="1.0" encoding="UTF-8"?>
<sentences>
  <sentence id="813">
    <text>All the appetizers and salads were fabulous, the steak was mouth watering &amp; the pasta was delicious!!!</text>
    <aspectTerms>
      <aspectTerm term="appetizers" polarity="positive" from="8" to="18"/>
      <aspectTerm term="salads" polarity="positive" from="23" to="29"/>
    </aspectTerms>
  </sentence>
  <sentence id="814"><text>No aspects here.</text></sentence>
</sentences>
"""

SEMEVAL_2016 = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Reviews><Review rid="1"><sentences>
<sentence id="1:0"><text>Judging from previous posts this used to be a good place, but not any longer.</text>
<Opinions><Opinion target="place" category="RESTAURANT#GENERAL" polarity="negative" from="51" to="56"/>
<Opinion target="NULL" category="SERVICE#GENERAL" polarity="negative" from="0" to="0"/></Opinions>
</sentence></sentences></Review></Reviews>
"""


def test_semeval_files_import_with_polarities_and_export_round_trip(make_caller):
    owner = make_caller("owner")
    project = create_project(owner, "absa")
    pid = project["id"]
    for name, body in (("restaurants-2014.xml", SEMEVAL_2014), ("restaurants-2016.xml", SEMEVAL_2016)):
        job = wait_for(owner, pid, upload(owner, pid, name, body).get_json())
        assert job["state"] == "finished", job
        assert job["result"]["format"] == "semeval_absa", "told from other XML by its sniffer"
    assert job["result"]["labels_created"] == ["RESTAURANT#GENERAL"]
    documents = owner.get(f"/api/v1/projects/{pid}/documents").get_json()["items"]
    assert [d["meta"].get("id") for d in documents] == ["813", "814", "1:0"]

    job = wait_for(owner, pid, owner.post(f"/api/v1/projects/{pid}/exports", json={"format": "semeval_absa"}).get_json())
    exported = owner.get(f"/api/v1/projects/{pid}/exports/{job['id']}/file").get_data(as_text=True)
    assert 'target="appetizers" category="ASPECT" polarity="positive" from="8" to="18"' in exported
    assert 'target="place" category="RESTAURANT#GENERAL" polarity="negative"' in exported
    assert "&amp; the pasta" in exported

    again = create_project(owner, "absa")
    job = wait_for(owner, again["id"], upload(owner, again["id"], "export.xml", exported).get_json())
    assert (job["state"], job["result"]["annotations"]) == ("finished", 3), job

    job = wait_for(owner, pid, owner.post(f"/api/v1/projects/{pid}/exports", json={"format": "jsonl"}).get_json())
    lines = owner.get(f"/api/v1/projects/{pid}/exports/{job['id']}/file").get_data(as_text=True).splitlines()
    first = json.loads(lines[0])["annotations"][0]
    assert (first["label"], first["start"], first["attributes"]) == ("ASPECT", 8, {"polarity": "positive"})
    job = wait_for(owner, again["id"], upload(owner, again["id"], "copy.jsonl", "\n".join(lines)).get_json())
    assert (job["state"], job["result"]["annotations"]) == ("finished", 3), job


@pytest.mark.parametrize("body, where", [
    (SEMEVAL_2014.replace('from="23"', 'from="24"'), "line 3: aspectTerm[1].from"),
    (SEMEVAL_2014.replace('polarity="positive" from="8"', 'polarity="great" from="8"'),
     "line 3: aspectTerm[0].polarity"),
    (SEMEVAL_2014.replace("</aspectTerms>", ""), "line 9: not well-formed XML (mismatched tag, column 5)"),
])
def test_a_broken_semeval_file_names_its_line_and_imports_nothing(make_caller, body, where):
    owner = make_caller("owner")
    pid = create_project(owner, "absa")["id"]
    job = wait_for(owner, pid, upload(owner, pid, "bad.xml", body, format="semeval_absa").get_json())
    assert job["state"] == "failed"
    assert f"bad.xml, {where}" in job["error"], job["error"]
    assert owner.get(f"/api/v1/projects/{pid}/documents").get_json()["items"] == []


class _Source:
    """An ImportSource over a string (the reader needs only ``lines``)."""

    def __init__(self, text: str):
        self.text = text

    def lines(self, path=None):
        return enumerate(io.StringIO(self.text).read().splitlines(), 1)


def test_the_reader_streams_sentences_and_keeps_offsets_of_escaped_text():
    [first, second] = list(read_semeval(_Source(SEMEVAL_2014)))
    assert first.text[first.annotations[0].start:first.annotations[0].end] == "appetizers"
    assert "&" in first.text and second.annotations == ()


def test_the_lexicon_model_trains_predicts_saves_and_loads(tmp_path):
    labels = {"FOOD": SPAN, "SERVICE": SPAN}
    texts = ["Delicious pasta tonight.", "Awful pasta again.", "Delicious pasta, friendly staff."]
    annotations = [("pasta", "FOOD", "positive"), ("pasta", "FOOD", "negative"), ("staff", "SERVICE", "positive")]
    examples = []
    for i, (text, (term, label, polarity)) in enumerate(zip(texts, annotations)):
        start = text.index(term)
        examples.append(Example(i + 1, text, (AnnotationData(SPAN, label, start=start, end=start + len(term),
                                                             attributes={"polarity": polarity}),)))
    model = build_lexicon_model({}, labels)
    metrics = model.train(Dataset("absa", labels, "none", examples), lambda *_: None)
    assert metrics == {"terms": 2.0}
    new = Example(None, "The PASTA was awful; the staff was friendly.")
    [prediction] = model.predict([new])
    found = {(new.text[a.start:a.end], a.label, a.attributes["polarity"]) for a in prediction.annotations}
    assert found == {("PASTA", "FOOD", "negative"), ("staff", "SERVICE", "positive")}
    pasta = next(a for a in prediction.annotations if a.label == "FOOD")
    assert [c["text"] for c in pasta.evidence["triggers"]] == ["awful"]
    model.save(tmp_path / "saved")
    assert set(p.name for p in (tmp_path / "saved").iterdir()) == {"lexicon.json"}, "JSON only"
    loaded = type(model).load(tmp_path / "saved")
    assert loaded.predict([new]) == [prediction]
