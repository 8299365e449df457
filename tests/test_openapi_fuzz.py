"""The OpenAPI document is valid OpenAPI 3.1, names every route, and tells the truth:
schemathesis sends each operation bodies and ids generated from it (valid ones, and invalid
ones that the schema forbids) and every answer must be 2xx/4xx, never 5xx, must match the
documented schema (error answers the shared Error shape), and every invalid body must be
refused with a 4xx.

The fuzzing user owns a project with a label, a document and an annotation; half of the
generated cases use those real ids so that the handlers run past their 404s. Operations
that would end the fuzzing user's own token or session are left out; deletions run last.
"""

from __future__ import annotations

import hypothesis
import hypothesis.errors
import hypothesis.strategies as st
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from leanlife_server.api.openapi import build_openapi
from leanlife_server.api.shapes import view_operation
from leanlife_server.db import db
from leanlife_server.db.models import Job
from leanlife_server.jobs import ACTIVE_STATES
from tests.conftest import add_document, create_project
from tests.test_jobs_support import wait_until

OPENAPI_PATH = "/api/v1/openapi.json"
# They would revoke the fuzzing token, end its sessions or change its password.
LEFT_OUT = {"auth.revoke_token", "auth.logout", "auth.logout_everywhere", "auth.change_password"}
PROJECT_DELETION = "DELETE /api/v1/projects/{project_id}"
# Bounded so that both databases take about a minute each on a busy two-core machine.
EXAMPLES_PER_OPERATION = 6
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


@pytest.fixture
def fuzz_world(app, make_caller) -> dict:
    app.config["PROPAGATE_EXCEPTIONS"] = False  # a bug answers 500, which the checks report
    fuzzer = make_caller("fuzzer")
    other = make_caller("other")
    project = create_project(fuzzer, "ner", "trigger", labels=(("PER", "span"), ("LOC", "span")))
    pid = project["id"]
    document = add_document(fuzzer, pid, "Mr. Smith met Ana in Paris.")
    annotation = fuzzer.post(f"/api/v1/projects/{pid}/documents/{document['id']}/annotations",
                             json={"label": "PER", "start": 4, "end": 9}).get_json()
    assert fuzzer.post(f"/api/v1/projects/{pid}/members",
                       json={"username": "other", "role": "annotator"}).status_code == 201
    labels = fuzzer.get(f"/api/v1/projects/{pid}/labels").get_json()["items"]
    ids = {"project_id": pid, "document_id": document["id"], "annotation_id": annotation["id"],
           "label_id": labels[1]["id"], "user_id": other.user_id}
    return {"app": app, "fuzzer": fuzzer, "ids": ids}


def test_the_document_is_valid_openapi_and_names_every_route(app):
    schema = schemathesis.openapi.from_wsgi(OPENAPI_PATH, app)
    schema.validate()  # against the OpenAPI 3.1 meta-schema
    with app.app_context():
        document = build_openapi(app)
    undeclared, missing = [], []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1"):
            continue
        path = rule.rule.replace("<int:", "{").replace("<", "{").replace(">", "}")
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            if method.lower() not in document["paths"].get(path, {}):
                missing.append(f"{method} {path}")
        declared = view_operation(app.view_functions[rule.endpoint])
        if declared is None or not declared.answers:
            undeclared.append(rule.endpoint)
    assert not missing, missing
    assert not undeclared, f"views without @operation(answers=...): {sorted(set(undeclared))}"
    for path, methods in document["paths"].items():
        for method, op in methods.items():
            success = {status: answer for status, answer in op["responses"].items() if status.startswith("2")}
            assert success, f"{method.upper()} {path} documents no success answer"
            for status, answer in success.items():
                schemas = [c.get("schema") for c in answer.get("content", {}).values()]
                assert status == "204" or (schemas and all(schemas)), (method, path, status, answer)
            assert op["responses"]["default"]["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/Error"}


def test_every_request_body_is_closed(app):
    """Unknown fields are refused everywhere (422), so every body says additionalProperties: false."""
    with app.app_context():
        document = build_openapi(app)
    open_bodies = []
    for path, methods in document["paths"].items():
        for method, op in methods.items():
            for content in op.get("requestBody", {}).get("content", {}).values():
                schema = content["schema"]
                for shape in schema.get("oneOf", [schema]):
                    if shape.get("additionalProperties") is not False:
                        open_bodies.append(f"{method.upper()} {path}")
    assert not open_bodies, open_bodies


def _fuzz(operation, world: dict, mode: GenerationMode) -> list[str]:
    """Runs bounded examples of one operation; returns the failures found."""
    failures: list[str] = []
    headers = {"Authorization": f"Bearer {world['fuzzer'].token}"}
    checks = CHECKS + ([negative_data_rejection] if mode == GenerationMode.NEGATIVE else [])
    names = {p["name"] for p in operation.definition.raw.get("parameters", []) if p["in"] == "path"}
    real = {name: world["ids"][name] for name in names if name in world["ids"]}
    # Fixed components are never made invalid: with real ids, a negative case has a wrong body.
    strategy = st.one_of(operation.as_strategy(generation_mode=mode, headers=headers),
                         operation.as_strategy(generation_mode=mode, headers=headers, path_parameters=real))

    @hypothesis.given(case=strategy)
    @hypothesis.settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
                         derandomize=True, phases=[Phase.explicit, Phase.generate],
                         suppress_health_check=list(HealthCheck))
    def run(case):
        response = case.call()
        try:
            case.validate_response(response, checks=checks)
        except (Failure, FailureGroup) as exc:  # the failing checks, with the request that made them
            if len(failures) < 3:
                failures.append(f"{operation.label} [{mode.value}]: {exc}"[:3000])

    try:
        run()
    except hypothesis.errors.Unsatisfiable:
        # Nothing to make invalid (no body, no parameters that could be wrong).
        assert mode == GenerationMode.NEGATIVE, operation.label
    return failures


def test_fuzzed_requests_get_documented_answers_and_never_a_server_error(fuzz_world):
    app = fuzz_world["app"]
    schema = schemathesis.openapi.from_wsgi(OPENAPI_PATH, app)
    operations = [result.ok() for result in schema.get_all_operations()]
    operations = [op for op in operations if op.definition.raw.get("operationId") not in LEFT_OUT]
    # Deletions last, the project's the very last, so that the other operations still find
    # the real project and rows.
    operations.sort(key=lambda op: (op.method.upper() == "DELETE", op.label == PROJECT_DELETION))
    assert len(operations) > 40
    failures: list[str] = []
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            failures += _fuzz(operation, fuzz_world, mode)
    _wait_for_jobs(app)  # trains, imports and exports it started, before the tables are emptied
    assert not failures, "\n\n".join(failures)


def _wait_for_jobs(app) -> None:
    def settled() -> bool:
        with app.app_context():
            return not db.session.scalar(db.select(db.func.count(Job.id)).where(Job.state.in_(ACTIVE_STATES)))
    wait_until(settled, 60, "the jobs the fuzzing started to end")


def test_a_pattern_ends_where_json_schema_says_it_ends(make_caller):
    """The documented pattern ^(?:cpu|...)$ refuses "cpu\\n" in JSON Schema; so does the server
    (Python's $ alone would match before the newline)."""
    owner = make_caller("owner")
    project = create_project(owner, "ner")
    url = f"/api/v1/projects/{project['id']}/settings"
    response = owner.patch(url, json={"device": "cpu\n"})
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["error"]["details"]["field"] == "device"
    assert owner.patch(url, json={"device": "cuda:1"}).get_json()["device"] == "cuda:1"
