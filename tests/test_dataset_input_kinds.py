"""RE's entity spans are model input, not labels: a document with imported entities and no
relation is still unlabeled, is predicted on with its entities, and stays in the queue."""

from leanlife_server.active.queue import queue_items
from leanlife_server.db import db
from leanlife_server.db.models import Annotation, Label, Project
from leanlife_server.pipeline.dataset import build_dataset
from tests.conftest import add_document, create_project

TEXT = "Alice was born in Paris ."


def _imported_entities(app, project_id: int, document_id: int) -> tuple[int, int]:
    with app.app_context():
        person = db.session.scalar(db.select(Label.id).where(Label.project_id == project_id, Label.name == "PER"))
        place = db.session.scalar(db.select(Label.id).where(Label.project_id == project_id, Label.name == "LOC"))
        rows = [Annotation(project_id=project_id, document_id=document_id, user_id=None, label_id=person,
                           kind="span", start=0, end=5, source="import"),
                Annotation(project_id=project_id, document_id=document_id, user_id=None, label_id=place,
                           kind="span", start=18, end=23, source="import")]
        db.session.add_all(rows)
        db.session.commit()
        return rows[0].id, rows[1].id


def test_relation_dataset_keeps_entities_as_input(app, make_caller):
    owner = make_caller("owner")
    project = create_project(owner, "re", "natural_language",
                             labels=(("born_in", "relation"), ("PER", "span"), ("LOC", "span")))
    labeled = add_document(owner, project["id"], TEXT)
    unlabeled = add_document(owner, project["id"], TEXT)
    subject, obj = _imported_entities(app, project["id"], labeled["id"])
    _imported_entities(app, project["id"], unlabeled["id"])
    r = owner.post(f"/api/v1/projects/{project['id']}/documents/{labeled['id']}/annotations",
                   json={"label": "born_in", "subject": subject, "object": obj,
                         "explanations": [{"text": "the phrase 'was born in' links SUBJ and OBJ"}]})
    assert r.status_code == 201, r.get_json()

    with app.app_context():
        project_row = db.session.get(Project, project["id"])
        data = build_dataset(project_row, ("span",))
        assert [e.document_id for e in data.labeled] == [labeled["id"]]
        kinds = sorted(a.kind for a in data.labeled[0].annotations)
        assert kinds == ["relation", "span", "span"]
        relation = next(a for a in data.labeled[0].annotations if a.kind == "relation")
        entity_ids = {a.id for a in data.labeled[0].annotations if a.kind == "span"}
        assert {relation.subject_id, relation.object_id} == entity_ids

        assert [e.document_id for e in data.unlabeled] == [unlabeled["id"]]
        assert sorted((a.start, a.end) for a in data.unlabeled[0].annotations) == [(0, 5), (18, 23)]

        queued = [item["document_id"] for item in queue_items(project_row, owner.user_id, 10)]
        assert queued == [unlabeled["id"]]


def test_the_dataset_carries_every_part_of_an_annotation(app, make_caller):
    """Read as plain rows, not ORM objects (minutes at 400,000 annotations): each explanation,
    its trigger spans in text order, the label's name and the attributes survive."""
    owner = make_caller("owner")
    project = create_project(owner, "ner", "trigger", labels=(("PER", "span"), ("LOC", "span")))
    text = "Mr. Alice Smith said she lives in Paris ."
    document = add_document(owner, project["id"], text)
    url = f"/api/v1/projects/{project['id']}/documents/{document['id']}/annotations"
    person = owner.post(url, json={"label": "PER", "start": 4, "end": 15, "explanations": [
        {"spans": [{"start": 16, "end": 20}, {"start": 0, "end": 3}]}, {"spans": [{"start": 21, "end": 24}]}]})
    place = owner.post(url, json={"label": "LOC", "start": 34, "end": 39,
                                  "explanations": [{"spans": [{"start": 25, "end": 33}]}]})
    assert person.status_code == place.status_code == 201, (person.get_json(), place.get_json())

    with app.app_context():
        data = build_dataset(db.session.get(Project, project["id"]))
    (example,) = data.labeled
    found = [(a.label, a.start, a.end, [[(s.start, s.end) for s in e.spans] for e in a.explanations])
             for a in example.annotations]
    assert found == [("PER", 4, 15, [[(0, 3), (16, 20)], [(21, 24)]]), ("LOC", 34, 39, [[(25, 33)]])]
    assert [a.id for a in example.annotations] == [person.get_json()["id"], place.get_json()["id"]]
