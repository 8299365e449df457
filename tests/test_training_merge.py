"""Training takes the majority of several annotators per item, drops ties and keeps a lone
annotator's work (team annotation issue, item 4): hand-made fixtures for the merge rule, and
the dataset a retraining builds, through the API, on SQLite and PostgreSQL."""

from __future__ import annotations

from leanlife_server.db import db
from leanlife_server.db.models import Project
from leanlife_server.pipeline.dataset import build_dataset
from leanlife_server.pipeline.merge import majority, with_inputs
from leanlife_server.plugin_api import DOCUMENT, RELATION, SPAN, AnnotationData
from tests.conftest import add_document, create_project


def doc_label(id_: int, label: str) -> AnnotationData:
    return AnnotationData(DOCUMENT, label, id=id_)


def span(id_: int, label: str, start: int, end: int) -> AnnotationData:
    return AnnotationData(SPAN, label, start=start, end=end, id=id_)


def labels(annotations) -> list:
    return [(a.kind, a.label, a.start, a.end) for a in annotations]


def by_id(work) -> dict:
    return {a.id: a for annotations in work.values() for a in annotations}


def test_document_labels_two_against_one_win_and_a_tie_is_dropped():
    work = {"ann": [doc_label(1, "pos")], "bob": [doc_label(2, "neg")], "cat": [doc_label(3, "pos")]}
    assert labels(majority(work, by_id(work))) == [(DOCUMENT, "pos", None, None)]
    tie = {"ann": [doc_label(1, "pos")], "bob": [doc_label(2, "neg")]}
    assert majority(tie, by_id(tie)) is None, "no majority on the only item: the document is left out"
    single = {"ann": [doc_label(7, "neu")]}
    assert majority(single, by_id(single)) == [doc_label(7, "neu")]
    # Finishing without a label votes "nothing": one label against two finished, nothing wins.
    finished = {"ann": [doc_label(1, "pos")], "bob": [], "cat": []}
    assert majority(finished, by_id(finished)) == []


def test_spans_need_the_same_offsets_and_label_from_most_annotators():
    work = {
        "ann": [span(1, "PER", 0, 5), span(2, "LOC", 18, 23), span(3, "LOC", 30, 35)],
        "bob": [span(4, "PER", 0, 5), span(5, "ORG", 18, 23), span(6, "LOC", 30, 34)],
        "cat": [span(7, "PER", 0, 4), span(8, "LOC", 18, 23)],
    }
    # [0,5) PER: 2 of 3 (cat's [0,4) is another item); [18,23): LOC 2, ORG 1;
    # [30,35) and [30,34): one annotator each against two who marked nothing there.
    assert labels(majority(work, by_id(work))) == [(SPAN, "PER", 0, 5), (SPAN, "LOC", 18, 23)]
    tie = {"ann": [span(1, "PER", 0, 5), span(2, "LOC", 18, 23)], "bob": [span(3, "PER", 0, 5)]}
    assert labels(majority(tie, by_id(tie))) == [(SPAN, "PER", 0, 5)], "the tied span alone is dropped"


def test_relations_are_compared_on_their_entity_pair_by_offsets():
    # Each annotator drew the entities separately (other ids, same offsets).
    entities = {who: [span(10 * k + 1, "PER", 0, 5), span(10 * k + 2, "LOC", 18, 23)]
                for k, who in enumerate(("ann", "bob", "cat"), start=1)}

    def relation(id_, who, label):
        subject, obj = entities[who]
        return AnnotationData(RELATION, label, subject_id=subject.id, object_id=obj.id, id=id_)

    work = {"ann": [relation(100, "ann", "born_in")], "bob": [relation(101, "bob", "lives_in")],
            "cat": [relation(102, "cat", "born_in")]}
    known = {a.id: a for annotations in entities.values() for a in annotations}
    kept = majority(work, known)
    assert [(a.label, a.subject_id, a.object_id) for a in kept] == [("born_in", 11, 12)]
    # The example carries one copy of each entity, and the relation points at those copies.
    example = with_inputs(kept, [a for annotations in entities.values() for a in annotations])
    assert [(a.kind, a.label, a.id) for a in example] == [(SPAN, "PER", 11), (SPAN, "LOC", 12),
                                                          (RELATION, "born_in", 100)]
    cat_first = {"cat": work["cat"], "ann": work["ann"]}
    kept = majority(cat_first, known)
    merged = with_inputs(kept, entities["cat"] + entities["ann"])
    relation_kept = merged[-1]
    assert {relation_kept.subject_id, relation_kept.object_id} <= {a.id for a in merged if a.kind == SPAN}


def test_the_training_dataset_takes_the_majority_drops_ties_and_keeps_single_work(app, make_caller):
    owner, *team = (make_caller(n) for n in ("owner", "ann", "bob", "cat"))
    project = create_project(owner, "sa", labels=(("pos", "document"), ("neg", "document")))
    pid = project["id"]
    for name in ("ann", "bob", "cat"):
        assert owner.post(f"/api/v1/projects/{pid}/members",
                          json={"username": name, "role": "annotator"}).status_code == 201
    majority_doc, tie_doc, single_doc, untouched = (add_document(owner, pid, f"review {i}")["id"] for i in range(4))
    votes = {majority_doc: ("pos", "neg", "pos"), tie_doc: ("pos", "neg", None), single_doc: (None, None, "neg")}
    for document, labels_given in votes.items():
        for caller, label in zip(team, labels_given):
            if label is not None:
                r = caller.post(f"/api/v1/projects/{pid}/documents/{document}/annotations", json={"label": label})
                assert r.status_code == 201, r.get_json()
    with app.app_context():
        data = build_dataset(db.session.get(Project, pid))
    assert {e.document_id: [a.label for a in e.annotations] for e in data.labeled} == {
        majority_doc: ["pos"], single_doc: ["neg"]}
    assert [e.document_id for e in data.unlabeled] == [untouched]

    # Finishing the tied document without a label makes a three-way tie (pos, neg, nothing).
    assert team[2].put(f"/api/v1/projects/{pid}/documents/{tie_doc}/finished").status_code == 204
    with app.app_context():
        assert tie_doc not in [e.document_id for e in build_dataset(db.session.get(Project, pid)).labeled]
    # A third opinion breaks the tie.
    assert team[2].post(f"/api/v1/projects/{pid}/documents/{tie_doc}/annotations",
                        json={"label": "neg"}).status_code == 201
    with app.app_context():
        data = build_dataset(db.session.get(Project, pid))
    assert {e.document_id: [a.label for a in e.annotations] for e in data.labeled} == {
        majority_doc: ["pos"], tie_doc: ["neg"], single_doc: ["neg"]}
