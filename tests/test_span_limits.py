"""Bounds on what one save asks the server to check: trigger spans (and explanations) per
annotation, annotations per annotator and document, and span checks in O(n log n)."""

from __future__ import annotations

import json
import random

import pytest

from leanlife_ner import NER
from leanlife_server.auth import create_user, issue_token
from leanlife_server.db import db
from leanlife_server.plugin_api import EXPLANATION_TRIGGER, SPAN, DocumentContext, Span, check_disjoint
from tests.conftest import PASSWORD, Caller, add_document, create_project
from tests.test_import_export_api import upload, wait_for

TEXT = "Mr. Smith said that Ana met him in Paris on Monday."  # "Smith" is [4, 9)


@pytest.fixture
def limited_app(make_app):
    return make_app({"max_spans_per_annotation": 4, "max_annotations_per_document": 3})


@pytest.fixture
def caller(limited_app):
    """Like conftest's ``make_caller``, on the app with small limits."""
    def build(username: str) -> Caller:
        with limited_app.app_context():
            user = create_user(username, PASSWORD)
            _, token = issue_token(user, "tests")
            db.session.commit()
            return Caller(limited_app.test_client(), token, user.id)
    return build


def _spans(*offsets: int) -> list[dict]:
    return [{"start": o, "end": o + 1} for o in offsets]


def _entity_with_triggers(*triggers: list[dict]) -> dict:
    return {"label": "PER", "start": 4, "end": 9,
            "explanations": [{"kind": "trigger", "spans": spans} for spans in triggers]}


def _error(response) -> dict:
    return response.get_json()["error"]


def test_trigger_spans_per_annotation_are_capped(caller):
    owner = caller("owner")
    project = create_project(owner, "ner", "trigger", labels=(("PER", "span"),))
    doc = add_document(owner, project["id"], TEXT)
    url = f"/api/v1/projects/{project['id']}/documents/{doc['id']}/annotations"

    at_limit = owner.post(url, json=_entity_with_triggers(_spans(10, 12, 14, 16)))
    assert at_limit.status_code == 201, at_limit.get_json()
    for payload in (_entity_with_triggers(_spans(10, 12, 14, 16, 20)),
                    # the limit counts all trigger explanations of the annotation together
                    _entity_with_triggers(_spans(10, 12, 14), _spans(20, 22))):
        r = owner.post(url, json=payload)
        assert r.status_code == 422
        assert _error(r)["details"]["field"] == "explanations"
        assert "5 trigger spans" in _error(r)["message"]
        assert "LEANLIFE_MAX_SPANS_PER_ANNOTATION" in _error(r)["message"]
    # A replacement is held to the same limit.
    r = owner.put(f"/api/v1/projects/{project['id']}/annotations/{at_limit.get_json()['id']}",
                  json=_entity_with_triggers(_spans(10, 12, 14, 16, 20)))
    assert r.status_code == 422 and "LEANLIFE_MAX_SPANS_PER_ANNOTATION" in _error(r)["message"]


def test_natural_language_explanations_per_annotation_are_capped(caller):
    owner = caller("owner")
    project = create_project(owner, "sa", "natural_language", labels=(("pos", "document"),))
    doc = add_document(owner, project["id"], "A terrific film.")
    url = f"/api/v1/projects/{project['id']}/documents/{doc['id']}/annotations"
    explanations = [{"kind": "natural_language", "text": f"reason {i}"} for i in range(5)]
    r = owner.post(url, json={"label": "pos", "explanations": explanations})
    assert r.status_code == 422 and _error(r)["details"]["field"] == "explanations"
    assert "5 explanations" in _error(r)["message"]
    assert owner.post(url, json={"label": "pos", "explanations": explanations[:4]}).status_code == 201


def test_annotations_per_annotator_and_document_are_capped(caller):
    owner, alice = caller("owner"), caller("alice")
    project = create_project(owner, "ner", labels=(("PER", "span"),))
    pid = project["id"]
    assert owner.post(f"/api/v1/projects/{pid}/members",
                      json={"username": "alice", "role": "annotator"}).status_code == 201
    doc, other = add_document(owner, pid, TEXT), add_document(owner, pid, TEXT)
    url = f"/api/v1/projects/{pid}/documents/{doc['id']}/annotations"
    made = [owner.post(url, json={"label": "PER", "start": s, "end": s + 3}) for s in (0, 4, 10)]
    assert [r.status_code for r in made] == [201, 201, 201]

    r = owner.post(url, json={"label": "PER", "start": 20, "end": 23})
    assert r.status_code == 422 and _error(r)["details"]["field"] == "document_id"
    assert "3 annotations" in _error(r)["message"]
    assert "LEANLIFE_MAX_ANNOTATIONS_PER_DOCUMENT" in _error(r)["message"]
    # The limit is per annotator and per document: nobody else is blocked.
    assert alice.post(url, json={"label": "PER", "start": 20, "end": 23}).status_code == 201
    assert owner.post(f"/api/v1/projects/{pid}/documents/{other['id']}/annotations",
                      json={"label": "PER", "start": 20, "end": 23}).status_code == 201
    # Deleting one makes room again.
    assert owner.delete(f"/api/v1/projects/{pid}/annotations/{made[0].get_json()['id']}").status_code == 204
    assert owner.post(url, json={"label": "PER", "start": 20, "end": 23}).status_code == 201


def test_an_import_is_held_to_both_limits(caller):
    owner = caller("owner")
    pid = create_project(owner, "ner", "trigger", labels=(("PER", "span"),))["id"]
    too_many = [{"label": "PER", "start": s, "end": s + 3} for s in (0, 4, 10, 20)]
    job = wait_for(owner, pid, upload(owner, pid, "many.jsonl",
                                      json.dumps({"text": TEXT, "annotations": too_many}) + "\n").get_json())
    assert job["state"] == "failed"
    assert "many.jsonl, line 1: annotations: 4 annotations by the import" in job["error"]
    assert "LEANLIFE_MAX_ANNOTATIONS_PER_DOCUMENT" in job["error"]

    wide = {"label": "PER", "start": 4, "end": 9,
            "explanations": [{"kind": "trigger", "spans": _spans(10, 12, 14, 16, 20)}]}
    job = wait_for(owner, pid, upload(owner, pid, "wide.jsonl",
                                      json.dumps({"text": TEXT, "annotations": [wide]}) + "\n").get_json())
    assert job["state"] == "failed" and "LEANLIFE_MAX_SPANS_PER_ANNOTATION" in job["error"]
    assert owner.get(f"/api/v1/projects/{pid}/documents").get_json()["items"] == []


def test_overlapping_and_repeated_trigger_spans_are_found_in_any_order(make_caller):
    owner = make_caller("owner")
    project = create_project(owner, "ner", "trigger", labels=(("PER", "span"),))
    text = "x " * 500 + "Smith"
    doc = add_document(owner, project["id"], text)
    url = f"/api/v1/projects/{project['id']}/documents/{doc['id']}/annotations"
    spans = _spans(*range(0, 1000, 2))
    random.Random(7).shuffle(spans)
    entity = {"label": "PER", "start": 1000, "end": 1005}

    repeated = spans + [dict(spans[3])]
    r = owner.post(url, json={**entity, "explanations": [{"kind": "trigger", "spans": repeated}]})
    assert r.status_code == 422 and _error(r)["details"]["field"] == "explanations[0].spans[500]"
    assert "repeats explanations[0].spans[3]" in _error(r)["message"]

    overlapping = list(spans)
    overlapping.insert(0, {"start": spans[250]["start"], "end": spans[250]["start"] + 3})
    r = owner.post(url, json={**entity, "explanations": [{"kind": "trigger", "spans": overlapping}]})
    assert r.status_code == 422 and _error(r)["details"]["field"] == "explanations[0].spans[251]"
    assert "overlaps explanations[0].spans[0]" in _error(r)["message"]

    r = owner.post(url, json={**entity, "explanations": [{"kind": "trigger", "spans": spans}]})
    assert r.status_code == 201, r.get_json()
    stored = r.get_json()["explanations"][0]["spans"]
    assert [s["start"] for s in stored] == list(range(0, 1000, 2))


def test_twenty_thousand_trigger_spans_validate():
    count = 20_000
    text = "x " * count + "Smith"
    spans = _spans(*range(0, 2 * count, 2))
    random.Random(count).shuffle(spans)
    payload = {"label": "PER", "start": 2 * count, "end": 2 * count + 5,
               "explanations": [{"kind": "trigger", "spans": spans}]}
    doc = DocumentContext(text=text, labels={"PER": SPAN}, explanation_kind=EXPLANATION_TRIGGER,
                          max_spans_per_annotation=count)
    parsed = NER.parse_annotation(payload, doc)
    assert [s.start for s in parsed.explanations[0].spans] == list(range(0, 2 * count, 2))


class CountingSpan(Span):
    """A span that counts how often its offsets are read: the work a check does, without a
    clock (the pairwise check read them about n² times: 15 s for 20,000 spans)."""

    reads = 0

    def __getattribute__(self, name):
        if name in ("start", "end"):
            CountingSpan.reads += 1
        return super().__getattribute__(name)


def test_the_overlap_check_reads_each_span_a_bounded_number_of_times():
    """O(n log n) comparisons of keys built once per span: reads grow linearly in n."""
    for count in (1_000, 20_000):
        spans = [CountingSpan(2 * i, 2 * i + 1) for i in range(count)]
        random.Random(count).shuffle(spans)
        CountingSpan.reads = 0
        assert len(check_disjoint(spans, "spans")) == count
        assert CountingSpan.reads <= 8 * count, f"{count} spans: {CountingSpan.reads} offset reads"
