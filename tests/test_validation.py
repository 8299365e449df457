"""Bad input: every validation rule answers a clear error naming the field, and writes nothing."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from flask import Flask

from leanlife_server.db import db
from tests.conftest import Caller, add_document, create_project

TEXT = "Mr. Smith met Ana in Paris."  # Smith [4, 9), Ana [14, 17), Paris [21, 26)
COMBINING = "Cafe\u0301 Rene\u0301"  # "é" written as "e" + a combining acute accent


def row_counts(app: Flask) -> dict[str, int]:
    with app.app_context():
        return {table.name: db.session.scalar(sa.select(sa.func.count()).select_from(table))
                for table in db.metadata.sorted_tables}


def assert_rejected(caller: Caller, method: str, path: str, status: int, field: str | None,
                    code: str = "validation_error", **request) -> dict:
    """Send a bad request; check the error envelope, the field it names, and that no row changed."""
    app = caller.client.application
    before = row_counts(app)
    response = caller.request(method, path, **request)
    body = response.get_json()
    assert response.status_code == status, body
    error = body["error"]
    assert error["code"] == code and error["message"], error
    if field is not None:
        assert error["details"]["field"] == field, error
        assert field in error["message"] or field == "body", error
    assert row_counts(app) == before, f"{method} {path} wrote rows although it was refused"
    return error


@pytest.fixture
def owner(make_caller) -> Caller:
    return make_caller("owner")


def annotations_url(project: dict, document: dict) -> str:
    return f"/api/v1/projects/{project['id']}/documents/{document['id']}/annotations"


def test_entity_offsets_must_lie_inside_the_text(owner):
    project = create_project(owner, "ner", labels=(("PER", "span"),))
    doc = add_document(owner, project["id"], TEXT)
    for span, field in [
        ({"start": -1, "end": 3}, "span"),
        ({"start": 20, "end": len(TEXT) + 1}, "span"),
        ({"start": 9, "end": 4}, "span"),
        ({"start": 4, "end": 4}, "span"),
        ({"start": "4", "end": 9}, "start"),
        ({"start": 4}, "end"),
        ({"start": True, "end": 9}, "start"),
    ]:
        assert_rejected(owner, "POST", annotations_url(project, doc), 422, field,
                        json={"label": "PER", **span})


def test_offsets_do_not_split_a_character_from_its_combining_mark(owner):
    project = create_project(owner, "ner", labels=(("PER", "span"),))
    doc = add_document(owner, project["id"], COMBINING)
    url = annotations_url(project, doc)
    assert_rejected(owner, "POST", url, 422, "span.end", json={"label": "PER", "start": 0, "end": 4})
    assert_rejected(owner, "POST", url, 422, "span.start", json={"label": "PER", "start": 4, "end": 6})
    # Whole characters are fine: "Café" is [0, 5).
    assert owner.post(url, json={"label": "PER", "start": 0, "end": 5}).status_code == 201


def test_unknown_label_and_label_of_the_wrong_kind(owner):
    project = create_project(owner, "re", labels=(("PER", "span"), ("works_for", "relation")))
    doc = add_document(owner, project["id"], TEXT)
    url = annotations_url(project, doc)
    error = assert_rejected(owner, "POST", url, 422, "label", json={"label": "ORG", "start": 4, "end": 9})
    assert "unknown label 'ORG'" in error["message"]
    assert_rejected(owner, "POST", url, 422, "label", json={"start": 4, "end": 9})
    # An entity with a relation label.
    error = assert_rejected(owner, "POST", url, 422, "label",
                            json={"label": "works_for", "start": 4, "end": 9})
    assert "relation label" in error["message"]
    # A relation with an entity label.
    smith = owner.post(url, json={"label": "PER", "start": 4, "end": 9}).get_json()
    ana = owner.post(url, json={"label": "PER", "start": 14, "end": 17}).get_json()
    assert_rejected(owner, "POST", url, 422, "label",
                    json={"label": "PER", "subject": smith["id"], "object": ana["id"]})


def test_a_label_kind_must_fit_the_task(owner):
    project = create_project(owner, "ner")
    assert_rejected(owner, "POST", f"/api/v1/projects/{project['id']}/labels", 422, "kind",
                    json={"name": "positive", "kind": "document"})
    sa_project = create_project(owner, "sa", labels=(("positive", "document"),))
    doc = add_document(owner, sa_project["id"], TEXT)
    assert_rejected(owner, "POST", annotations_url(sa_project, doc), 422, "start",
                    json={"label": "positive", "start": 0, "end": 3})


def test_a_relation_links_visible_entities_of_the_same_document(make_caller):
    owner, alice = make_caller("owner"), make_caller("alice")
    project = create_project(owner, "re", labels=(("PER", "span"), ("knows", "relation")))
    owner.post(f"/api/v1/projects/{project['id']}/members", json={"username": "alice", "role": "annotator"})
    doc = add_document(owner, project["id"], TEXT)
    other_doc = add_document(owner, project["id"], "Ana knows Smith.")
    url = annotations_url(project, doc)
    smith = alice.post(url, json={"label": "PER", "start": 4, "end": 9}).get_json()
    ana = alice.post(url, json={"label": "PER", "start": 14, "end": 17}).get_json()
    elsewhere = alice.post(annotations_url(project, other_doc),
                           json={"label": "PER", "start": 0, "end": 3}).get_json()
    owners_entity = owner.post(url, json={"label": "PER", "start": 21, "end": 26}).get_json()

    def relation(subject, obj):
        return {"label": "knows", "subject": subject, "object": obj}

    assert_rejected(alice, "POST", url, 422, "object", json=relation(smith["id"], elsewhere["id"]))
    assert_rejected(alice, "POST", url, 422, "subject", json=relation(999_999, ana["id"]))
    assert_rejected(alice, "POST", url, 422, "object", json=relation(smith["id"], smith["id"]))
    # The owner's entity exists on this document but alice may not see it.
    assert_rejected(alice, "POST", url, 422, "object", json=relation(smith["id"], owners_entity["id"]))
    assert_rejected(alice, "POST", url, 422, "subject", json={"label": "knows", "object": ana["id"]})
    assert alice.post(url, json=relation(smith["id"], ana["id"])).status_code == 201


def test_trigger_spans_lie_inside_the_text_and_off_the_entity(owner):
    project = create_project(owner, "ner", "trigger", labels=(("PER", "span"),))
    doc = add_document(owner, project["id"], TEXT)
    for spans, field in [
        ([{"start": 0, "end": 40}], "explanations[0].spans[0]"),
        ([{"start": -2, "end": 1}], "explanations[0].spans[0]"),
        ([{"start": 6, "end": 12}], "explanations[0].spans[0]"),  # overlaps the entity [4, 9)
        ([{"start": 0, "end": 3}, {"start": 1, "end": 2}], "explanations[0].spans[1]"),
        ([], "explanations[0].spans"),
        ([{"start": 0}], "explanations[0].spans[0].end"),
    ]:
        assert_rejected(owner, "POST", annotations_url(project, doc), 422, field,
                        json={"label": "PER", "start": 4, "end": 9,
                              "explanations": [{"kind": "trigger", "spans": spans}]})
    assert owner.post(annotations_url(project, doc), json={
        "label": "PER", "start": 4, "end": 9,
        "explanations": [{"kind": "trigger", "spans": [{"start": 0, "end": 3}, {"start": 10, "end": 13}]}],
    }).status_code == 201


def test_explanation_kind_fits_the_project(owner):
    # The project's explanation kind must be one its task collects.
    assert_rejected(owner, "POST", "/api/v1/projects", 422, "explanation_kind",
                    json={"name": "p", "task": "ner", "explanation_kind": "natural_language"})
    assert_rejected(owner, "POST", "/api/v1/projects", 422, "task",
                    json={"name": "p", "task": "summarisation"})

    silent = create_project(owner, "ner", "none", labels=(("PER", "span"),))
    doc = add_document(owner, silent["id"], TEXT)
    assert_rejected(owner, "POST", annotations_url(silent, doc), 422, "explanations",
                    json={"label": "PER", "start": 4, "end": 9,
                          "explanations": [{"kind": "trigger", "spans": [{"start": 0, "end": 3}]}]})

    sentiment = create_project(owner, "sa", "natural_language", labels=(("positive", "document"),))
    doc = add_document(owner, sentiment["id"], TEXT)
    url = annotations_url(sentiment, doc)
    assert_rejected(owner, "POST", url, 422, "explanations[0].kind",
                    json={"label": "positive",
                          "explanations": [{"kind": "trigger", "spans": [{"start": 0, "end": 3}]}]})
    assert_rejected(owner, "POST", url, 422, "explanations[0].text",
                    json={"label": "positive", "explanations": [{"text": "   "}]})
    assert_rejected(owner, "POST", url, 422, "explanations",
                    json={"label": "positive", "explanations": "because"})


def test_malformed_json_names_the_line(owner):
    error = assert_rejected(owner, "POST", "/api/v1/projects", 400, "body", code="malformed_json",
                            data='{"name": "p",\n "task": ner}', content_type="application/json")
    assert (error["details"]["line"], error["details"]["column"]) == (2, 10)
    assert "line 2" in error["message"]
    assert_rejected(owner, "POST", "/api/v1/projects", 400, "body", code="malformed_json",
                    data=b'{"name": "\xff"}', content_type="application/json")
    assert_rejected(owner, "POST", "/api/v1/projects", 422, "body", json=["not", "an", "object"])


def test_a_body_that_is_not_json_is_unsupported(owner):
    assert_rejected(owner, "POST", "/api/v1/projects", 415, "body", code="unsupported_media_type",
                    data="name=p&task=ner", content_type="application/x-www-form-urlencoded")


@pytest.fixture
def app(make_app, request):
    """The conftest app, with settings from ``parametrize("app", [{...}], indirect=True)``."""
    return make_app(getattr(request, "param", None))


@pytest.mark.parametrize("app", [{"max_document_chars": 20}], indirect=True)
def test_oversize_text_is_refused_with_a_configurable_limit(owner):
    project = create_project(owner, "ner")
    url = f"/api/v1/projects/{project['id']}/documents"
    error = assert_rejected(owner, "POST", url, 422, "text", json={"text": "x" * 21})
    assert "limit is 20" in error["message"]
    # A batch is all or nothing: the first document is not kept when the second is too long.
    assert_rejected(owner, "POST", url, 422, "documents[1].text",
                    json={"documents": [{"text": "short"}, {"text": "y" * 21}]})
    assert_rejected(owner, "POST", url, 422, "text", json={"text": ""})
    assert owner.post(url, json={"text": "x" * 20}).status_code == 201


@pytest.mark.parametrize("app", [{"max_request_bytes": 2000}], indirect=True)
def test_oversize_request_is_refused(owner):
    project = create_project(owner, "ner")
    error = assert_rejected(owner, "POST", f"/api/v1/projects/{project['id']}/documents", 413, None,
                            code="request_entity_too_large", data=json.dumps({"text": "x" * 5000}),
                            content_type="application/json")
    assert error["message"]


def test_bad_project_settings_change_nothing(owner):
    project = create_project(owner, "ner")
    url = f"/api/v1/projects/{project['id']}/settings"
    before = owner.get(url).get_json()
    for change, field in [
        ({"retrain_policy": {"mode": "hourly"}}, "retrain_policy.mode"),
        ({"retrain_policy": {"mode": "every_n", "n": 0}}, "retrain_policy.n"),
        ({"retrain_policy": {"mode": "every_n"}}, "retrain_policy.n"),
        ({"retrain_policy": {"mode": "every_t", "seconds": "60"}}, "retrain_policy.seconds"),
        ({"retrain_policy": "manual"}, "retrain_policy"),
        ({"model": "no_such_model.v1"}, "model"),
        ({"query_strategy": "no_such_strategy"}, "query_strategy"),
        ({"confidence_threshold": 1.5}, "confidence_threshold"),
        ({"confidence_threshold": True}, "confidence_threshold"),
        ({"device": "tpu"}, "device"),
        # A valid change in the same request is not applied either.
        ({"retrain_policy": {"mode": "every_n", "n": 3}, "device": "cuda:x"}, "device"),
    ]:
        assert_rejected(owner, "PATCH", url, 422, field, json=change)
        assert owner.get(url).get_json() == before, change
    assert owner.patch(url, json={"device": "cuda:1", "confidence_threshold": 0.9}).status_code == 200
