"""An annotator cannot save the same annotation twice on a document: the API answers 409
naming the existing one; an import keeps one copy and counts the others."""

from __future__ import annotations

import json

import sqlalchemy as sa

from leanlife_server.db import db
from leanlife_server.db.models import Annotation
from leanlife_server.formats.importer import import_file
from tests.conftest import add_document, create_project
from tests.formats_helpers import new_project

TEXT = "Ann founded Acme."  # Ann [0, 3), Acme [12, 16)


def test_the_same_relation_twice_is_refused_naming_the_first(make_caller):
    owner, alice = make_caller("owner"), make_caller("alice")
    project = create_project(owner, "re", "natural_language", labels=(("PER", "span"), ("ORG", "span"),
                                                   ("founder_of", "relation")))
    owner.post(f"/api/v1/projects/{project['id']}/members", json={"username": "alice", "role": "annotator"})
    document = add_document(owner, project["id"], TEXT)
    url = f"/api/v1/projects/{project['id']}/documents/{document['id']}/annotations"
    ann = alice.post(url, json={"label": "PER", "start": 0, "end": 3}).get_json()
    acme = alice.post(url, json={"label": "ORG", "start": 12, "end": 16}).get_json()
    relation = {"label": "founder_of", "subject": ann["id"], "object": acme["id"]}
    first = alice.post(url, json=relation)
    assert first.status_code == 201, first.get_json()

    # Differing only in its explanation is still the same relation.
    again = alice.post(url, json={**relation, "explanations": [{"text": "the word founded"}]})
    assert again.status_code == 409, again.get_json()
    assert again.get_json()["error"]["details"]["annotation_id"] == first.get_json()["id"]
    # The same entity twice, too.
    twice = alice.post(url, json={"label": "PER", "start": 0, "end": 3})
    assert twice.status_code == 409 and twice.get_json()["error"]["details"]["annotation_id"] == ann["id"]
    assert len(alice.get(url).get_json()["items"]) == 3

    # Anything that differs is another annotation: the reversed relation, another annotator's copy.
    assert alice.post(url, json={"label": "founder_of", "subject": acme["id"],
                                 "object": ann["id"]}).status_code == 201
    owners_ann = owner.post(url, json={"label": "PER", "start": 0, "end": 3})
    assert owners_ann.status_code == 201, owners_ann.get_json()

    # A PUT that would turn one annotation into a copy of another is refused the same way.
    other = alice.post(url, json={"label": "ORG", "start": 0, "end": 3}).get_json()
    moved = alice.put(f"/api/v1/projects/{project['id']}/annotations/{other['id']}",
                      json={"label": "PER", "start": 0, "end": 3})
    assert moved.status_code == 409 and moved.get_json()["error"]["details"]["annotation_id"] == ann["id"]
    # Re-saving an annotation as it is stays allowed.
    same = alice.put(f"/api/v1/projects/{project['id']}/annotations/{ann['id']}",
                     json={"label": "PER", "start": 0, "end": 3})
    assert same.status_code == 200, same.get_json()


def test_an_import_keeps_one_copy_of_a_repeated_annotation(app, tmp_path):
    record = {"text": TEXT, "annotations": [
        {"label": "PER", "start": 0, "end": 3}, {"label": "ORG", "start": 12, "end": 16},
        {"label": "PER", "start": 0, "end": 3},  # the first entity again
        {"label": "founder_of", "subject": 0, "object": 1},
        {"label": "founder_of", "subject": 2, "object": 1},  # the same relation, through the copy
        {"label": "founder_of", "subject": 1, "object": 0}]}  # reversed: another relation
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")
    with app.app_context():
        project = new_project("re")
        result = import_file(project, path)
        assert (result.annotations, result.duplicate_annotations) == (4, 2)
        rows = db.session.execute(sa.select(Annotation.kind, Annotation.start, Annotation.end,
                                            Annotation.subject_id, Annotation.object_id)
                                  .order_by(Annotation.id)).all()
        entities = {r.start: i for i, r in enumerate(rows) if r.kind == "span"}
        ids = db.session.scalars(sa.select(Annotation.id).order_by(Annotation.id)).all()
        assert sorted((r.subject_id, r.object_id) for r in rows if r.kind == "relation") == sorted(
            [(ids[entities[0]], ids[entities[12]]), (ids[entities[12]], ids[entities[0]])])
