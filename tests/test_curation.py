"""Curation (team annotation issue, items 3 and 4): owners see every annotator's work on a
document side by side with disagreements marked, write a gold layer (accept an annotator's
annotation with its explanations, write their own, delete), set the review state; training
takes a curated document's gold, exports write the gold layer. SQLite and PostgreSQL."""

from __future__ import annotations

import json

from click.testing import CliRunner

from leanlife_server.cli import main
from leanlife_server.db import db
from leanlife_server.db.migrate import upgrade
from leanlife_server.db.models import Project
from leanlife_server.pipeline.dataset import build_dataset
from tests.conftest import add_document, app_with_one_old_sa_annotation, create_project
from tests.test_import_export_api import wait_for


def _team(make_caller, task: str, labels, explanation_kind: str = "none"):
    owner, ann, bob = (make_caller(n) for n in ("owner", "ann", "bob"))
    project = create_project(owner, task, explanation_kind, labels=labels)
    for name in ("ann", "bob"):
        assert owner.post(f"/api/v1/projects/{project['id']}/members",
                          json={"username": name, "role": "annotator"}).status_code == 201
    return owner, ann, bob, project["id"]


def _annotate(caller, pid: int, doc: int, **body) -> dict:
    r = caller.post(f"/api/v1/projects/{pid}/documents/{doc}/annotations", json=body)
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def _export(owner, pid: int, **request) -> list[dict]:
    r = owner.post(f"/api/v1/projects/{pid}/exports", json={"format": "jsonl", **request})
    assert r.status_code == 202, r.get_json()
    job = wait_for(owner, pid, r.get_json())
    assert job["state"] == "finished", job
    text = owner.get(f"/api/v1/projects/{pid}/exports/{job['id']}/file").get_data(as_text=True)
    return [json.loads(line) for line in text.splitlines()]


def _trained(app, pid: int, input_kinds=()) -> dict[int, list]:
    with app.app_context():
        data = build_dataset(db.session.get(Project, pid), input_kinds)
        return {e.document_id: [(a.kind, a.label, a.start, a.end, [x.text for x in a.explanations])
                                for a in e.annotations] for e in data.labeled}


def test_curation_round_trip_trains_on_gold_and_exports_it(app, make_caller, tmp_path):
    owner, ann, bob, pid = _team(make_caller, "sa", (("pos", "document"), ("neg", "document")),
                                 "natural_language")
    disputed, agreed = (add_document(owner, pid, text)["id"] for text in ("Great film", "Fine film"))
    accepted = _annotate(ann, pid, disputed, label="pos", explanations=[{"text": "the word great"}])
    _annotate(bob, pid, disputed, label="neg")
    for caller in (ann, bob):
        _annotate(caller, pid, agreed, label="pos")

    view = owner.get(f"/api/v1/projects/{pid}/documents/{disputed}/curation").get_json()
    assert (view["state"], view["gold"], view["document"]["text"]) == ("annotated", [], "Great film")
    assert [(a["username"], [(x["label"], x["disagreement"]) for x in a["annotations"]])
            for a in view["annotators"]] == [("ann", [("pos", True)]), ("bob", [("neg", True)])]
    assert view["disagreements"] == [{"item": {"kind": "document"}, "answers": [
        {"user_id": ann.user_id, "labels": ["pos"]}, {"user_id": bob.user_id, "labels": ["neg"]}]}]
    agreeing = owner.get(f"/api/v1/projects/{pid}/documents/{agreed}/curation").get_json()
    assert agreeing["disagreements"] == []
    assert [x["disagreement"] for a in agreeing["annotators"] for x in a["annotations"]] == [False, False]
    # Before curation the tie leaves the disputed document out of training (the merge rule).
    assert _trained(app, pid) == {agreed: [("document", "pos", None, None, [])]}

    # Accept ann's label: it joins the gold layer with its explanation; the document is in review.
    r = owner.post(f"/api/v1/projects/{pid}/documents/{disputed}/gold", json={"accept": accepted["id"]})
    assert r.status_code == 201, r.get_json()
    gold = r.get_json()
    assert (gold["label"], gold["user_id"], gold["gold"]) == ("pos", None, True)
    assert [e["text"] for e in gold["explanations"]] == ["the word great"]
    assert gold["id"] != accepted["id"]
    again = owner.post(f"/api/v1/projects/{pid}/documents/{disputed}/gold", json={"accept": accepted["id"]})
    assert again.status_code == 409, again.get_json()
    view = owner.get(f"/api/v1/projects/{pid}/documents/{disputed}/curation").get_json()
    assert (view["state"], [g["id"] for g in view["gold"]]) == ("in review", [gold["id"]])
    # Gold is not an annotator's work: not in their view, not counted as theirs.
    seen = ann.get(f"/api/v1/projects/{pid}/documents/{disputed}").get_json()["annotations"]
    assert [a["id"] for a in seen] == [accepted["id"]]
    assert disputed not in _trained(app, pid), "in review: still the merge rule"

    # Write the owner's own gold on the document the annotators agreed on, and mark both curated.
    own = owner.post(f"/api/v1/projects/{pid}/documents/{agreed}/gold",
                     json={"label": "neg", "explanations": [{"text": "fine is faint praise"}]})
    assert own.status_code == 201, own.get_json()
    for doc in (disputed, agreed):
        r = owner.patch(f"/api/v1/projects/{pid}/documents/{doc}/curation", json={"state": "curated"})
        assert (r.status_code, r.get_json()["state"]) == (200, "curated"), r.get_json()
    listed = owner.get(f"/api/v1/projects/{pid}/documents?review=curated").get_json()["items"]
    assert [d["id"] for d in listed] == [disputed, agreed]
    assert owner.get(f"/api/v1/projects/{pid}/documents?review=annotated").get_json()["items"] == []
    assert _trained(app, pid) == {disputed: [("document", "pos", None, None, ["the word great"])],
                                  agreed: [("document", "neg", None, None, ["fine is faint praise"])]}

    gold_export = _export(owner, pid, layer="gold")
    assert [[(a["label"], a.get("annotator")) for a in r["annotations"]] for r in gold_export] == [
        [("pos", None)], [("neg", None)]]
    assert gold_export[0]["annotations"][0]["explanations"] == [
        {"kind": "natural_language", "text": "the word great"}]
    annotators_export = _export(owner, pid)  # the default: the annotators' work, no gold
    assert [sorted((a["label"], a["annotator"]) for a in r["annotations"]) for r in annotators_export] == [
        [("neg", "bob"), ("pos", "ann")], [("pos", "ann"), ("pos", "bob")]]
    all_export = _export(owner, pid, layer="all")
    assert [sorted((a["label"], a["annotator"]) for a in r["annotations"]) for r in all_export] == [
        [("neg", "bob"), ("pos", "ann"), ("pos", "gold")], [("neg", "gold"), ("pos", "ann"), ("pos", "bob")]]
    assert [[a["label"] for a in r["annotations"]] for r in _export(owner, pid, annotator=bob.user_id)] == [
        ["neg"], ["pos"]]
    result = CliRunner().invoke(main, ["export", str(pid), "--format", "jsonl", "--layer", "gold", "-o",
                                       str(tmp_path / "gold.jsonl")],
                                env={"LEANLIFE_DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
                                     "LEANLIFE_DATA_DIR": str(tmp_path / "data"), "LEANLIFE_SECRET_KEY": "test"})
    assert result.exit_code == 0, result.output
    assert [json.loads(line) for line in (tmp_path / "gold.jsonl").read_text().splitlines()] == gold_export

    # Replacing and deleting gold; a curated document with an empty gold layer trains as "nothing".
    r = owner.put(f"/api/v1/projects/{pid}/gold/{own.get_json()['id']}", json={"label": "pos"})
    assert (r.status_code, r.get_json()["label"]) == (200, "pos"), r.get_json()
    assert owner.delete(f"/api/v1/projects/{pid}/gold/{own.get_json()['id']}").status_code == 204
    assert owner.get(f"/api/v1/projects/{pid}/documents/{agreed}/curation").get_json()["gold"] == []
    assert _trained(app, pid)[agreed] == []
    r = owner.patch(f"/api/v1/projects/{pid}/documents/{agreed}/curation", json={"state": "in review"})
    assert r.get_json()["state"] == "in review"
    assert _trained(app, pid)[agreed] == [("document", "pos", None, None, [])], "back to the majority"


def test_accepting_a_relation_brings_its_entities_into_gold(app, make_caller):
    owner, ann, bob, pid = _team(make_caller, "re", (("PER", "span"), ("LOC", "span"),
                                                     ("born_in", "relation"), ("lives_in", "relation")))
    doc = add_document(owner, pid, "Alice was born in Paris .")["id"]
    relations = {}
    for caller, label in ((ann, "born_in"), (bob, "lives_in")):
        subject = _annotate(caller, pid, doc, label="PER", start=0, end=5)
        obj = _annotate(caller, pid, doc, label="LOC", start=18, end=23)
        relations[label] = _annotate(caller, pid, doc, label=label, subject=subject["id"], object=obj["id"])
    view = owner.get(f"/api/v1/projects/{pid}/documents/{doc}/curation").get_json()
    assert view["disagreements"] == [{"item": {"kind": "relation", "subject": {"start": 0, "end": 5},
                                               "object": {"start": 18, "end": 23}},
                                      "answers": [{"user_id": ann.user_id, "labels": ["born_in"]},
                                                  {"user_id": bob.user_id, "labels": ["lives_in"]}]}]
    r = owner.post(f"/api/v1/projects/{pid}/documents/{doc}/gold", json={"accept": relations["born_in"]["id"]})
    assert r.status_code == 201, r.get_json()
    gold = owner.get(f"/api/v1/projects/{pid}/documents/{doc}/curation").get_json()["gold"]
    spans = {g["id"]: (g["label"], g["start"], g["end"]) for g in gold if g["kind"] == "span"}
    assert sorted(spans.values()) == [("LOC", 18, 23), ("PER", 0, 5)]
    relation = next(g for g in gold if g["kind"] == "relation")
    assert (spans[relation["subject"]], spans[relation["object"]]) == (("PER", 0, 5), ("LOC", 18, 23))
    # An annotator deleting their span leaves gold whole.
    assert ann.delete(f"/api/v1/projects/{pid}/annotations/{relations['born_in']['subject']}").status_code == 204
    assert len(owner.get(f"/api/v1/projects/{pid}/documents/{doc}/curation").get_json()["gold"]) == 3
    # The owner's own gold relation on bob's entities reuses the gold copies.
    r = owner.post(f"/api/v1/projects/{pid}/documents/{doc}/gold",
                   json={"label": "lives_in", "subject": relations["lives_in"]["subject"],
                         "object": relations["lives_in"]["object"]})
    assert r.status_code == 201, r.get_json()
    assert (r.get_json()["subject"], r.get_json()["object"]) == (relation["subject"], relation["object"])
    assert owner.patch(f"/api/v1/projects/{pid}/documents/{doc}/curation",
                       json={"state": "curated"}).status_code == 200
    example = _trained(app, pid, ("span",))[doc]
    assert sorted(a[:4] for a in example) == [("relation", "born_in", None, None),
                                              ("relation", "lives_in", None, None),
                                              ("span", "LOC", 18, 23), ("span", "PER", 0, 5)]


def test_annotators_cannot_curate(make_caller):
    owner, ann, _bob, pid = _team(make_caller, "sa", (("pos", "document"),))
    doc = add_document(owner, pid, "Great film")["id"]
    mine = _annotate(ann, pid, doc, label="pos")
    gold = owner.post(f"/api/v1/projects/{pid}/documents/{doc}/gold", json={"accept": mine["id"]}).get_json()
    for method, path, body in [
            ("GET", f"/documents/{doc}/curation", None),
            ("PATCH", f"/documents/{doc}/curation", {"state": "curated"}),
            ("POST", f"/documents/{doc}/gold", {"accept": mine["id"]}),
            ("POST", f"/documents/{doc}/gold", {"label": "pos"}),
            ("PUT", f"/gold/{gold['id']}", {"label": "pos"}),
            ("DELETE", f"/gold/{gold['id']}", None),
            ("PUT", f"/annotations/{gold['id']}", {"label": "pos"}),
            ("DELETE", f"/annotations/{gold['id']}", None),
            ("POST", "/exports", {"format": "jsonl", "layer": "gold"}),
            ("POST", "/exports", {"format": "jsonl", "layer": "all"})]:
        r = ann.request(method, f"/api/v1/projects/{pid}{path}", json=body)
        assert r.status_code == 403, (method, path, r.get_json())
    assert len(owner.get(f"/api/v1/projects/{pid}/documents/{doc}/curation").get_json()["gold"]) == 1
    outsider = make_caller("eve")
    assert outsider.get(f"/api/v1/projects/{pid}/documents/{doc}/curation").status_code == 404


def test_gold_is_no_annotator_for_the_queue(make_caller):
    owner, ann, _bob, pid = _team(make_caller, "sa", (("pos", "document"),))
    doc = add_document(owner, pid, "Great film")["id"]
    assert owner.post(f"/api/v1/projects/{pid}/documents/{doc}/gold", json={"label": "pos"}).status_code == 201
    queued = ann.get(f"/api/v1/projects/{pid}/queue").get_json()["items"]
    assert [item["document_id"] for item in queued] == [doc]


def test_bad_curation_input_is_422_naming_the_field(make_caller):
    owner, ann, _bob, pid = _team(make_caller, "sa", (("pos", "document"), ("neg", "document")))
    doc, other = (add_document(owner, pid, text)["id"] for text in ("Great film", "Dull film"))
    mine = _annotate(ann, pid, doc, label="pos")
    elsewhere = _annotate(ann, pid, other, label="neg")
    gold = owner.post(f"/api/v1/projects/{pid}/documents/{doc}/gold", json={"accept": mine["id"]}).get_json()

    def field(response) -> str:
        assert response.status_code == 422, response.get_json()
        return response.get_json()["error"]["details"]["field"]

    base = f"/api/v1/projects/{pid}"
    assert field(owner.patch(f"{base}/documents/{doc}/curation", json={"state": "done"})) == "state"
    assert field(owner.patch(f"{base}/documents/{doc}/curation", json={})) == "state"
    assert field(owner.post(f"{base}/documents/{doc}/gold", json={"accept": "one"})) == "accept"
    r = owner.post(f"{base}/documents/{doc}/gold", json={"accept": elsewhere["id"]})
    assert field(r) == "accept" and f"document {doc}" in r.get_json()["error"]["message"]
    assert field(owner.post(f"{base}/documents/{doc}/gold", json={"accept": gold["id"]})) == "accept"
    assert field(owner.post(f"{base}/documents/{doc}/gold", json={"accept": mine["id"], "label": "x"})) == "label"
    assert field(owner.post(f"{base}/documents/{doc}/gold", json={"label": "nope"})) == "label"
    assert field(owner.post(f"{base}/exports", json={"format": "jsonl", "layer": "best"})) == "layer"
    assert field(owner.get(f"{base}/documents?review=done")) == "review"
    assert field(owner.post(f"{base}/exports", json={"format": "jsonl", "layer": "gold",
                                                     "annotator": ann.user_id})) == "annotator"
    # One label per document in a single-label project holds in the gold layer too.
    r = owner.post(f"{base}/documents/{doc}/gold", json={"label": "neg"})
    assert r.status_code == 409 and r.get_json()["error"]["details"]["annotation_id"] == gold["id"]
    assert owner.put(f"{base}/gold/{mine['id']}", json={"label": "neg"}).status_code == 404
    assert owner.get(f"{base}/documents/999999/curation").status_code == 404


def test_the_migration_makes_old_rows_annotators_work_and_unreviewed(empty_database, tmp_path):
    app = app_with_one_old_sa_annotation(empty_database, tmp_path / "data", "0010")
    upgrade(app, "0011")
    with app.app_context():
        assert db.session.execute(db.text("SELECT review_state FROM documents")).scalar_one() == "annotated"
        assert db.session.execute(db.text("SELECT gold FROM annotations")).scalar_one() in (False, 0)
        db.engine.dispose()
