from tests.conftest import add_document, create_project


def test_ner_annotation_with_trigger_round_trips(make_caller):
    owner = make_caller("owner")
    project = create_project(owner, "ner", "trigger", labels=(("PER", "span"),))
    doc = add_document(owner, project["id"], "Mr. Smith said hello.")
    r = owner.post(f"/api/v1/projects/{project['id']}/documents/{doc['id']}/annotations",
                   json={"label": "PER", "start": 4, "end": 9,
                         "explanations": [{"kind": "trigger", "spans": [{"start": 0, "end": 3},
                                                                        {"start": 10, "end": 14}]}]})
    assert r.status_code == 201, r.get_json()
    r = owner.get(f"/api/v1/projects/{project['id']}/documents/{doc['id']}")
    ann = r.get_json()["annotations"][0]
    assert (ann["label"], ann["start"], ann["end"]) == ("PER", 4, 9)
    assert ann["explanations"][0]["spans"] == [{"start": 0, "end": 3}, {"start": 10, "end": 14}]
