"""Hostile input never makes a 500: ids no database can hold, lone surrogates, JSON nested
thousands deep, NaN, integers past 64 bits, unknown fields, wrong methods and concurrent
duplicates each get a 4xx that names the problem (or, for a repeated "finished", success).

The sweeps walk every route of the app's URL map, so a new endpoint is covered without
being listed here. Which routes read a JSON body they find out the way a client would: those
answer 415 to a text/plain body.
"""

from __future__ import annotations

import io
import json
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Iterator

import pytest
from flask import Flask, has_request_context, request
from flask_sqlalchemy.session import Session
from sqlalchemy import event

from leanlife_server.api.payload import MAX_DEPTH
from leanlife_server.db import db
from leanlife_server.db.lookup import max_row_id
from leanlife_server.db.models import DocumentCompletion, Job, Label, Membership, ModelVersion
from leanlife_server.jobs import ACTIVE_STATES
from tests.conftest import Caller, add_document, create_project
from tests.test_jobs_support import wait_until
from tests.test_validation import row_counts

# Past PostgreSQL's 32-bit ids, SQLite's 64-bit ones, and far past both.
HUGE_IDS = (2**31, 2**63 - 1, 2**63, 2**64, 10**30)
LONE = "\ud800"
CONVERTER = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")
WRITE_METHODS = ("POST", "PUT", "PATCH")
# Every field name any endpoint reads, for the per-field sweeps.
FIELD_NAMES = (
    "name", "task", "explanation_kind", "multi_label", "annotators_see_others", "model",
    "retrain_policy", "description", "model_config", "query_strategy", "confidence_threshold",
    "device", "kind", "color", "shortcut", "username", "role", "password", "is_admin", "text",
    "meta", "documents", "label", "start", "end", "subject", "object", "explanations", "source",
    "document_id", "texts", "document_ids", "format", "annotator", "finished_only",
    "include_recommendations", "show_recommendations", "min_recommendation_confidence",
    "show_others_annotations",
)


@pytest.fixture
def world(app, make_caller) -> dict:
    """An admin who owns an NER project (trigger explanations) with a label, a document, an
    annotation and a second member: a real id for every kind of path parameter."""
    app.config["PROPAGATE_EXCEPTIONS"] = False  # a failure answers 500, so a sweep lists them all
    admin = make_caller("admin", admin=True)
    member = make_caller("member")
    project = create_project(admin, "ner", "trigger", labels=(("PER", "span"), ("LOC", "span")))
    pid = project["id"]
    document = add_document(admin, pid, "Mr. Smith met Ana in Paris.")
    annotation = admin.post(f"/api/v1/projects/{pid}/documents/{document['id']}/annotations",
                            json={"label": "PER", "start": 4, "end": 9}).get_json()
    # The annotation retrains the dictionary recommender: let that job end, so that row
    # counts taken later do not change under the test.
    wait_until(lambda: _jobs_settled(app), 60, "the dictionary's retraining")
    assert admin.post(f"/api/v1/projects/{pid}/members",
                      json={"username": "member", "role": "annotator"}).status_code == 201
    labels = admin.get(f"/api/v1/projects/{pid}/labels").get_json()["items"]
    tokens = admin.get("/api/v1/auth/tokens").get_json()["items"]
    ids = {"project_id": pid, "document_id": document["id"], "annotation_id": annotation["id"],
           "label_id": labels[0]["id"], "user_id": member.user_id, "token_id": tokens[0]["id"],
           "version_id": 1, "job_id": 1}
    return {"app": app, "admin": admin, "ids": ids}


def _jobs_settled(app: Flask) -> bool:
    with app.app_context():
        return not db.session.scalar(db.select(db.func.count(Job.id)).where(Job.state.in_(ACTIVE_STATES)))


def routes(app: Flask, methods: tuple[str, ...] | None = None) -> Iterator[tuple[str, str, str, list]]:
    """(endpoint, method, rule, [(converter, name), ...]) for every route and method."""
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            if methods is None or method in methods:
                yield rule.endpoint, method, rule.rule, CONVERTER.findall(rule.rule)


def json_routes(world) -> set[str]:
    """Endpoints that read a JSON body (routes without one ignore a body: the sweeps check
    them only for 5xx)."""
    found = set()
    for endpoint, method, rule, _ in routes(world["app"], WRITE_METHODS):
        response = world["admin"].request(method, fill(rule, world["ids"]), data="{}",
                                          content_type="text/plain")
        if response.status_code == 415:
            found.add(endpoint)
    assert len(found) >= 20, f"too few routes read JSON: {sorted(found)}"
    return found


def fill(rule: str, values: dict) -> str:
    """The rule with the world's ids in; other parameters (file names) get a plain word."""
    def value(match: re.Match) -> str:
        converter, name = match.groups()
        if converter != "int" and name not in values:
            return "x"
        assert name in values, f"{rule}: add a value for <{name}> to the world fixture"
        return str(values[name])
    return CONVERTER.sub(value, rule)


def assert_no_500(failures: list[str]) -> None:
    assert not failures, f"{len(failures)} answers were 5xx or wrong:\n" + "\n".join(failures[:40])


def send_raw(caller: Caller, method: str, path: str, raw: str | bytes):
    return caller.request(method, path, data=raw, content_type="application/json")


# Ids -----------------------------------------------------------------------------------------

def test_ids_no_database_can_hold_answer_404_on_every_route(world):
    admin, ids = world["admin"], world["ids"]
    failures, tried = [], 0
    for endpoint, method, rule, params in routes(world["app"]):
        int_params = [name for converter, name in params if converter == "int"]
        for huge_param in int_params:
            for huge in HUGE_IDS:
                path = fill(rule, {**ids, huge_param: huge})
                response = admin.request(method, path, json={} if method in WRITE_METHODS else None)
                tried += 1
                if response.status_code != 404:
                    failures.append(f"{method} {path} -> {response.status_code} {response.get_data()[:200]!r}")
    assert tried > 100, "the sweep found too few routes with ids"
    assert_no_500(failures)


@pytest.mark.parametrize("document_id", [2**31 - 1, 2**31, 2**63 - 1])
def test_ids_in_bodies_past_the_id_columns_are_not_found(world, document_id):
    admin, pid = world["admin"], world["ids"]["project_id"]
    response = admin.post(f"/api/v1/projects/{pid}/explanations/parse",
                          json={"text": "because", "document_id": document_id, "label": "PER"})
    assert response.status_code == 404, response.get_json()
    assert response.get_json()["error"]["message"] == f"document {document_id} not found"


@pytest.mark.parametrize("annotator", ["one past the id columns", 0, -5])
def test_user_ids_in_export_filters_are_checked(world, annotator):
    admin, pid = world["admin"], world["ids"]["project_id"]
    if isinstance(annotator, str):
        with world["app"].app_context():
            annotator = max_row_id() + 1
    response = admin.post(f"/api/v1/projects/{pid}/exports", json={"format": "jsonl", "annotator": annotator})
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["error"]["details"]["field"] == "annotator"


@pytest.mark.parametrize("name", ["cursor", "annotator"])
def test_id_query_parameters_past_64_bits_are_422(world, name):
    admin, pid = world["admin"], world["ids"]["project_id"]
    response = admin.get(f"/api/v1/projects/{pid}/documents?status=annotated&{name}={2**64}")
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["error"]["details"]["field"] == name


def test_query_parameters_never_make_a_500(world):
    admin, ids = world["admin"], world["ids"]
    query = "&".join(f"{name}={value}" for name, value in [
        ("cursor", 2**64), ("annotator", 2**64), ("limit", 2**64), ("status", "%ED%A0%80"),
        ("count", "true")])
    failures = []
    for endpoint, method, rule, params in routes(world["app"], ("GET",)):
        path = f"{fill(rule, ids)}?{query}"
        response = admin.get(path)
        if response.status_code >= 500:
            failures.append(f"GET {path} -> {response.status_code}")
    assert_no_500(failures)


@pytest.mark.parametrize("body, field", [
    ({"document_ids": [1, 2**64]}, "document_ids[1]"),
    ({"device": "cpu", "document_ids": [-(2**63) - 1]}, "document_ids[0]"),
    ({"document_ids": [1, 0]}, "document_ids[1]"),
    ({"document_ids": [True]}, "document_ids[0]"),
])
def test_ids_in_bodies_no_id_column_holds_are_422_naming_them(world, body, field):
    admin, pid = world["admin"], world["ids"]["project_id"]
    with world["app"].app_context():  # a trained version, so the ids are what is checked
        db.session.add(ModelVersion(project_id=pid, model="bilstm_crf.v1", is_active=True))
        db.session.commit()
    response = admin.post(f"/api/v1/projects/{pid}/model/predictions", json=body)
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["error"]["details"]["field"] == field


def test_every_number_in_a_body_fits_64_bits(world):
    """Free-form JSON (a document's meta) too: nothing reaches storage that JSON readers
    elsewhere (JavaScript, PostgreSQL's jsonb) would round or refuse."""
    admin, pid = world["admin"], world["ids"]["project_id"]
    response = admin.post(f"/api/v1/projects/{pid}/documents", json={"text": "a", "meta": {"n": [2**64]}})
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["error"]["details"]["field"] == "meta.n[0]"


def test_integer_literals_too_long_to_convert_are_422(world):
    admin, pid = world["admin"], world["ids"]["project_id"]
    response = send_raw(admin, "POST", f"/api/v1/projects/{pid}/exports",
                        '{"format": "jsonl", "annotator": 1' + "0" * 5000 + "}")
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["error"]["details"]["field"] == "annotator"


@pytest.mark.parametrize("device", ["cuda:" + "1" * 30, "cpu\n"])
def test_devices_that_do_not_fit_are_422(world, device):
    admin, pid = world["admin"], world["ids"]["project_id"]
    response = admin.patch(f"/api/v1/projects/{pid}/settings", json={"device": device})
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["error"]["details"]["field"] == "device"


def test_a_value_too_long_for_its_column_is_422_not_500(app, make_caller):
    """The net under every check: PostgreSQL refuses a string past its column's length
    (SQLite stores it). No endpoint is known to let one through, so a route of this test
    writes one."""
    app.config["PROPAGATE_EXCEPTIONS"] = False

    @app.post("/api/v1/test-overlong-label/<int:project_id>")
    def overlong_label(project_id: int):
        db.session.add(Label(project_id=project_id, name="L" * 500, kind="span", color="#000000"))
        db.session.commit()
        return "", 201

    owner = make_caller("owner")
    project = create_project(owner)
    response = owner.post(f"/api/v1/test-overlong-label/{project['id']}")
    with app.app_context():
        dialect = db.engine.dialect.name
    if dialect == "postgresql":
        assert response.status_code == 422, response.get_data()
        assert "does not fit" in response.get_json()["error"]["message"]
    else:
        assert response.status_code == 201


# Text that is not Unicode ---------------------------------------------------------------------

def test_a_lone_surrogate_in_any_field_of_any_body_is_422_naming_it(world):
    admin, ids = world["admin"], world["ids"]
    failures, named, reads_json = [], 0, json_routes(world)
    # Routes without a JSON body first: they may act (mark a document finished), so the
    # rows are counted after them.
    for reads_body in (False, True):
        before = row_counts(world["app"])
        for endpoint, method, rule, _ in routes(world["app"], WRITE_METHODS):
            if (endpoint in reads_json) != reads_body:
                continue
            path = fill(rule, ids)
            for name in FIELD_NAMES:
                response = admin.request(method, path, json={name: f"ok{LONE}"})
                error = (response.get_json(silent=True) or {}).get("error", {})
                ok = (response.status_code == 422 and error["details"].get("field") == name
                      if reads_body else response.status_code < 500)
                named += ok and reads_body
                if not ok:
                    failures.append(f"{method} {path} {name}: {response.status_code} {error}")
    assert named > 500
    assert_no_500(failures)
    assert row_counts(world["app"]) == before, "a refused request wrote rows"


@pytest.mark.parametrize("raw, field", [
    ('{"name": "PER\\ud800"}', "name"),
    ('{"name": "PER", "color": "#\\udfff00000"}', "color"),
    ('{"name": "\\ud83d\\ude00", "shortcut": "\\udc00"}', "shortcut"),  # a valid pair, then a lone half
    (b'{"name": "PER\xed\xa0\x80"}', "name"),  # the surrogate encoded as UTF-8 bytes
    ('{"name\\ud800": "PER"}', "name\\ud800"),
])
def test_lone_surrogates_in_labels(world, raw, field):
    admin, pid = world["admin"], world["ids"]["project_id"]
    before = row_counts(world["app"])
    response = send_raw(admin, "POST", f"/api/v1/projects/{pid}/labels", raw)
    assert response.status_code == 422, response.get_json()
    error = response.get_json()["error"]
    assert error["details"]["field"] == field and "surrogate" in error["message"], error
    assert row_counts(world["app"]) == before


@pytest.mark.parametrize("path_suffix, body, field", [
    ("/documents", {"documents": [{"text": "fine"}, {"text": f"bad {LONE}"}]}, "documents[1].text"),
    ("/documents", {"text": "fine", "meta": {"source": ["a", {"deep": LONE}]}}, "meta.source[1].deep"),
    ("/documents/{document_id}/annotations",
     {"label": "LOC", "start": 21, "end": 26, "explanations": [{"kind": "trigger", "spans": [
         {"start": 0, "end": 3}], "note": LONE}]}, "explanations[0].note"),
])
def test_lone_surrogates_in_nested_fields_are_named_by_path(world, path_suffix, body, field):
    admin, ids = world["admin"], world["ids"]
    response = admin.post(f"/api/v1/projects/{ids['project_id']}" + path_suffix.format(**ids), json=body)
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["error"]["details"]["field"] == field


# JSON that is too deep, or not JSON ------------------------------------------------------------

@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 5000])
def test_deeply_nested_json_is_400_on_every_route(world, depth):
    admin, ids = world["admin"], world["ids"]
    raws = ["[" * depth + "]" * depth, '{"a":' * depth + "1" + "}" * depth,
            '{"meta": ' + "[" * depth + "]" * depth + "}"]
    failures, reads_json = [], json_routes(world)
    for endpoint, method, rule, _ in routes(world["app"], WRITE_METHODS):
        path = fill(rule, ids)
        for raw in raws:
            response = send_raw(admin, method, path, raw)
            error = (response.get_json(silent=True) or {}).get("error", {})
            expected = endpoint not in reads_json or (
                response.status_code == 400 and error.get("code") == "nesting_too_deep")
            if response.status_code >= 500 or not expected:
                failures.append(f"{method} {path} depth {depth}: {response.status_code} {error}")
    assert_no_500(failures)


def test_nesting_up_to_the_limit_is_stored(world):
    admin, pid = world["admin"], world["ids"]["project_id"]
    meta: dict = {}
    for _ in range(MAX_DEPTH - 2):  # the body and "meta" are two levels of the limit
        meta = {"a": meta}
    response = admin.post(f"/api/v1/projects/{pid}/documents", json={"text": "deep meta", "meta": meta})
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["meta"] == meta


@pytest.mark.parametrize("raw, status, field", [
    ('{"min_recommendation_confidence": NaN}', 400, "body"),
    ('{"min_recommendation_confidence": -Infinity}', 400, "body"),
    ('{"min_recommendation_confidence": 1e400}', 422, "min_recommendation_confidence"),
])
def test_numbers_json_cannot_carry_are_refused(world, raw, status, field):
    admin, pid = world["admin"], world["ids"]["project_id"]
    response = send_raw(admin, "PATCH", f"/api/v1/projects/{pid}/me/settings", raw)
    assert response.status_code == status, response.get_json()
    assert response.get_json()["error"]["details"]["field"] == field
    settings = admin.get(f"/api/v1/projects/{pid}/me/settings").get_json()
    assert settings["min_recommendation_confidence"] == 0.0


# Unknown fields ---------------------------------------------------------------------------------

def test_every_json_body_refuses_a_field_it_does_not_know(world):
    """One rule for every endpoint: a route that reads JSON names the unknown field."""
    admin, ids = world["admin"], world["ids"]
    json_routes_found = json_routes(world)
    before = row_counts(world["app"])
    failures, checked = [], 0
    for endpoint, method, rule, _ in routes(world["app"], WRITE_METHODS):
        if endpoint not in json_routes_found:
            continue
        path = fill(rule, ids)
        response = admin.request(method, path, json={"surely_not_a_field": 1})
        error = (response.get_json(silent=True) or {}).get("error", {})
        checked += 1
        if response.status_code != 422 or error["details"].get("field") != "surely_not_a_field":
            failures.append(f"{endpoint} {method} {path}: {response.status_code} {error}")
    assert checked >= 20
    assert_no_500(failures)
    assert row_counts(world["app"]) == before


@pytest.mark.parametrize("body, field", [
    ({"retrain_polcy": {"mode": "every_n", "n": 5}}, "retrain_polcy"),
    ({"overlapp": 2}, "overlapp"),
    ({"device": "cpu", "overlapp": 2}, "overlapp"),
    ({"retrain_policy": {"mode": "every_n", "n": 5, "every": 3}}, "retrain_policy.every"),
])
def test_settings_typos_are_422_and_change_nothing(world, body, field):
    admin, pid = world["admin"], world["ids"]["project_id"]
    url = f"/api/v1/projects/{pid}/settings"
    before = admin.get(url).get_json()
    response = admin.patch(url, json=body)
    assert response.status_code == 422, response.get_json()
    error = response.get_json()["error"]
    assert error["details"]["field"] == field and field in error["message"], error
    assert "retrain_policy" in error["message"] or "." in field  # it lists what is accepted
    assert admin.get(url).get_json() == before


def test_settings_the_ui_sends_are_accepted(world):
    """The console keeps n and seconds when the mode changes; both are known fields."""
    admin, pid = world["admin"], world["ids"]["project_id"]
    response = admin.patch(f"/api/v1/projects/{pid}/settings", json={
        "model": None, "retrain_policy": {"mode": "every_t", "n": 10, "seconds": 300},
        "confidence_threshold": None, "device": None})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["retrain_policy"] == {"mode": "every_t", "seconds": 300}


@pytest.mark.parametrize("key, value", [("n", 10**12), ("seconds", 2**62)])
def test_retraining_schedules_stay_within_date_arithmetic(world, key, value):
    admin, pid = world["admin"], world["ids"]["project_id"]
    mode = "every_n" if key == "n" else "every_t"
    response = admin.patch(f"/api/v1/projects/{pid}/settings",
                           json={"retrain_policy": {"mode": mode, key: value}})
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["error"]["details"]["field"] == f"retrain_policy.{key}"


@pytest.mark.parametrize("path_suffix, body, field", [
    ("/documents", {"documents": [{"text": "a"}], "text": "b"}, "text"),
    ("/documents", {"documents": [{"text": "a"}, {"txt": "b"}]}, "documents[1].txt"),
    ("/documents/{document_id}/annotations", {"label": "LOC", "start": 21, "end": 26, "subject": 1},
     "subject"),
    ("/documents/{document_id}/annotations", {"label": "LOC", "start": 21, "end": 26, "explanations": [
        {"kind": "trigger", "spans": [{"start": 0, "end": 3}], "text": "Mr."}]}, "explanations[0].text"),
    ("/documents/{document_id}/annotations", {"label": "LOC", "start": 21, "end": 26, "explanations": [
        {"kind": "trigger", "spans": [{"start": 0, "end": 3, "label": "x"}]}]},
     "explanations[0].spans[0].label"),
])
def test_nested_unknown_fields_are_named_by_path(world, path_suffix, body, field):
    admin, ids = world["admin"], world["ids"]
    before = row_counts(world["app"])
    response = admin.post(f"/api/v1/projects/{ids['project_id']}" + path_suffix.format(**ids), json=body)
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["error"]["details"]["field"] == field
    assert row_counts(world["app"]) == before


def test_annotation_payloads_the_ui_sends_are_accepted(world):
    """What the annotate view's undo sends back: the serialised annotation minus ids."""
    admin, ids = world["admin"], world["ids"]
    response = admin.post(f"/api/v1/projects/{ids['project_id']}/documents/{ids['document_id']}/annotations",
                          json={"label": "LOC", "source": "manual", "start": 21, "end": 26,
                                "explanations": [{"kind": "trigger", "spans": [{"start": 18, "end": 20}]}]})
    assert response.status_code == 201, response.get_json()


def test_an_upload_refuses_form_fields_it_does_not_know(world):
    admin, pid = world["admin"], world["ids"]["project_id"]
    response = admin.post(f"/api/v1/projects/{pid}/imports", content_type="multipart/form-data",
                          data={"file": (io.BytesIO(b'{"text": "a"}\n'), "a.jsonl"), "fromat": "jsonl"})
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["error"]["details"]["field"] == "fromat"


# Methods ----------------------------------------------------------------------------------------

def test_405_answers_carry_allow(world):
    admin, ids, app = world["admin"], world["ids"], world["app"]
    adapter = app.url_map.bind("localhost")
    seen = 0
    for rule in {r.rule for r in app.url_map.iter_rules() if r.rule.startswith("/api/")}:
        path = fill(rule, ids)
        allowed = set(adapter.allowed_methods(path))
        for method in {"GET", "POST", "PUT", "PATCH", "DELETE"} - allowed:
            response = admin.request(method, path)
            assert response.status_code == 405, (method, path, response.status_code)
            assert set(response.headers["Allow"].split(", ")) == allowed, (method, path)
            assert response.get_json()["error"]["code"] == "method_not_allowed"
            seen += 1
    assert seen > 50


# Races ------------------------------------------------------------------------------------------

@contextmanager
def commits_meet(path_pattern: str, parties: int = 2) -> Iterator[None]:
    """Requests to ``path_pattern`` wait for each other just before committing, after each has
    run its own checks: the race two double-clicks can cause, forced every time."""
    barrier = threading.Barrier(parties, timeout=20)

    def wait(_session) -> None:
        if has_request_context() and re.fullmatch(path_pattern, request.path):
            barrier.wait()

    event.listen(Session, "before_commit", wait)
    try:
        yield
    finally:
        event.remove(Session, "before_commit", wait)


def concurrently(world, requests: list[tuple[Caller, str, str, dict | None]]) -> list:
    """Send the requests at once, each from its own thread and test client."""
    app = world["app"]

    def send(item):
        caller, method, path, body = item
        own = Caller(app.test_client(), caller.token, caller.user_id)
        return own.request(method, path, json=body)

    with ThreadPoolExecutor(len(requests)) as pool:
        return list(pool.map(send, requests))


def count(app: Flask, model, **where) -> int:
    with app.app_context():
        return db.session.query(model).filter_by(**where).count()


def test_marking_a_document_finished_twice_at_once_succeeds_once(world):
    admin, ids = world["admin"], world["ids"]
    path = f"/api/v1/projects/{ids['project_id']}/documents/{ids['document_id']}/finished"
    with commits_meet(re.escape(path)):
        responses = concurrently(world, [(admin, "PUT", path, None)] * 2)
    assert [r.status_code for r in responses] == [204, 204], [r.get_data() for r in responses]
    assert count(world["app"], DocumentCompletion, document_id=ids["document_id"]) == 1


def test_the_same_label_created_twice_at_once_is_one_201_and_one_409(world):
    admin, pid = world["admin"], world["ids"]["project_id"]
    path = f"/api/v1/projects/{pid}/labels"
    with commits_meet(re.escape(path)):
        responses = concurrently(world, [(admin, "POST", path, {"name": "ORG", "kind": "span"})] * 2)
    assert sorted(r.status_code for r in responses) == [201, 409], [r.get_data() for r in responses]
    refused = next(r for r in responses if r.status_code == 409).get_json()["error"]
    assert refused["code"] == "conflict" and refused["details"]["field"] == "name", refused
    assert count(world["app"], Label, project_id=pid, name="ORG") == 1


def test_renaming_two_labels_to_one_name_at_once_is_one_200_and_one_409(world):
    admin, pid = world["admin"], world["ids"]["project_id"]
    labels = admin.get(f"/api/v1/projects/{pid}/labels").get_json()["items"]
    with commits_meet(rf"/api/v1/projects/{pid}/labels/\d+"):
        responses = concurrently(world, [(admin, "PATCH", f"/api/v1/projects/{pid}/labels/{label['id']}",
                                          {"name": "MISC"}) for label in labels[:2]])
    assert sorted(r.status_code for r in responses) == [200, 409], [r.get_data() for r in responses]
    refused = next(r for r in responses if r.status_code == 409).get_json()["error"]
    assert refused["details"]["field"] == "name", refused
    assert count(world["app"], Label, project_id=pid, name="MISC") == 1


def test_adding_one_member_twice_at_once_is_one_201_and_one_409(world, make_caller):
    """Any other unique key two requests race for answers the generic 409."""
    admin, pid = world["admin"], world["ids"]["project_id"]
    newcomer = make_caller("newcomer")
    path = f"/api/v1/projects/{pid}/members"
    with commits_meet(re.escape(path)):
        responses = concurrently(world, [(admin, "POST", path, {"username": "newcomer",
                                                                "role": "annotator"})] * 2)
    assert sorted(r.status_code for r in responses) == [201, 409], [r.get_data() for r in responses]
    assert count(world["app"], Membership, project_id=pid, user_id=newcomer.user_id) == 1


def test_an_error_body_is_always_json(world):
    """The envelope holds for the errors this file provokes, bodies that break UTF-8 included."""
    admin, pid = world["admin"], world["ids"]["project_id"]
    response = send_raw(admin, "POST", f"/api/v1/projects/{pid}/labels", b'{"name": "\xff"}')
    assert response.status_code == 400
    assert json.loads(response.get_data())["error"]["code"] == "malformed_json"
