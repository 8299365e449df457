"""Who may call what: every /api/v1 endpoint x {anonymous, outsider, annotator, owner, admin},
plus the rules the matrix cannot show on its own (visibility of others' annotations, nobody
overwrites another's annotation, token revocation, cookie sessions with CSRF)."""

from __future__ import annotations

import io
import itertools
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Callable

import pytest
from flask import Flask

from leanlife_server.auth import issue_token
from leanlife_server.db import db
from leanlife_server.db.models import (
    ANNOTATOR,
    Annotation,
    Document,
    Job,
    Label,
    Membership,
    ModelVersion,
    Project,
    User,
)
from leanlife_server.jobs import ACTIVE_STATES, FINISHED, create_job
from leanlife_server.pipeline.model_store import activate, store_version
from leanlife_server.plugin_api import SPAN, AnnotationData, Dataset, Example
from tests import test_jobs_toy_models
from tests.conftest import PASSWORD, Caller, add_document, create_project
from tests.test_jobs_support import wait_until

ROLES = ("anonymous", "outsider", "annotator", "owner", "admin")
TEXT = "Anna met Bob in Paris."


@dataclass
class Target:
    """What one request addresses: the URL's variables and the JSON body (or a multipart form)."""

    values: dict[str, int] = field(default_factory=dict)
    json: Any = None
    form: dict[str, Any] | None = None

    def body(self) -> dict[str, Any]:
        if self.form is not None:
            return {"data": self.form, "content_type": "multipart/form-data"}
        return {"json": self.json}


@pytest.fixture
def app(make_app):
    """With the toy models, so the matrix can train and predict with a real (tiny) model."""
    return make_app(extra_plugins=[test_jobs_toy_models])


@dataclass
class World:
    """One project (owner + annotator, a label, a document, an annotation by the annotator),
    a non-member, an admin, and helpers that make fresh rows for requests that consume them."""

    app: Flask
    callers: dict[str, Caller]
    project_id: int
    label_id: int
    document_id: int
    serial: itertools.count = field(default_factory=lambda: itertools.count(1))
    _trained_version_id: int | None = None

    def user_id(self, role: str) -> int:
        return self.callers[role].user_id

    def unique(self, prefix: str) -> str:
        return f"{prefix}{next(self.serial)}"

    def _insert(self, row: Any) -> int:
        with self.app.app_context():
            db.session.add(row)
            db.session.commit()
            return row.id

    def in_project(self, **values: int) -> dict[str, int]:
        return {"project_id": self.project_id, **values}

    def new_label(self) -> int:
        return self._insert(Label(project_id=self.project_id, name=self.unique("L"), kind="span",
                                  color="#888888"))

    def new_document(self) -> int:
        return self._insert(Document(project_id=self.project_id, text=TEXT, meta={}))

    def new_annotation(self, role: str = "annotator", document_id: int | None = None) -> int:
        return self._insert(Annotation(project_id=self.project_id, document_id=document_id or self.document_id,
                                       user_id=self.user_id(role), label_id=self.label_id,
                                       kind="span", start=0, end=4, source="manual"))

    def new_gold(self) -> int:
        """A gold annotation (api/curation.py) on a fresh document, so no write duplicates it."""
        return self._insert(Annotation(project_id=self.project_id, document_id=self.new_document(),
                                       user_id=None, gold=True, label_id=self.label_id,
                                       kind="span", start=0, end=4, source="manual"))

    def new_user(self) -> User:
        """A user who never logs in, so no password hashing is needed."""
        user = User(username=self.unique("spare"), password_hash="!", is_admin=False)
        self._insert(user)
        return user

    def new_member(self) -> int:
        user = self.new_user()
        self._insert(Membership(project_id=self.project_id, user_id=user.id, role=ANNOTATOR,
                                settings={}))
        return user.id

    def new_project(self) -> int:
        project = create_project(self.callers["owner"])
        self._insert(Membership(project_id=project["id"], user_id=self.user_id("annotator"),
                                role=ANNOTATOR, settings={}))
        return project["id"]

    def new_token(self, role: str) -> int:
        with self.app.app_context():
            row, _ = issue_token(db.session.get(User, self.user_id(role)), "matrix")
            db.session.commit()
            return row.id

    def new_model_version(self) -> int:
        return self._insert(ModelVersion(project_id=self.project_id, model="triggerner.v1", config={},
                                         metrics={}, data_counts={}, is_active=False))

    def new_job(self) -> int:
        with self.app.app_context():
            job = create_job(self.project_id, "train")
            job.state = FINISHED  # no runner has it; wait_for_jobs waits for the ones that run
            db.session.commit()
            return job.id

    def new_trainable_project(self) -> int:
        """A fresh project per request, so one owner's training job never makes the next one 429."""
        project_id = self.new_project()
        r = self.callers["owner"].patch(f"/api/v1/projects/{project_id}/settings",
                                        json={"model": "toy.tagger.v1"})
        assert r.status_code == 200, r.get_json()
        return project_id

    def trained_version(self) -> int:
        """The project's active version, made on first use: a toy tagger really trained on the
        project's text."""
        if self._trained_version_id is not None:
            return self._trained_version_id
        labels = {"PER": SPAN}
        people = tuple(AnnotationData(SPAN, "PER", start=s, end=e) for s, e in ((0, 4), (9, 12)))
        model = test_jobs_toy_models.make_tagger({}, labels, "cpu")
        model.train(Dataset("ner", labels, "none", [Example(self.document_id, TEXT, people)]),
                    lambda fraction, details: None)
        with self.app.app_context():
            row = store_version(db.session.get(Project, self.project_id), "toy.tagger.v1", model, {},
                                labels, {}, {"labeled": 1})
            self._trained_version_id = activate(self.project_id, row.id).id
        return self._trained_version_id

    def in_trained_project(self, **values: int) -> dict[str, int]:
        self.trained_version()
        return self.in_project(**values)

    def finished_job(self, role: str, path: str, body: dict) -> int:
        caller = self.callers[role]
        r = caller.post(f"/api/v1/projects/{self.project_id}/{path}", json=body)
        assert r.status_code == 202, r.get_json()
        job_url = f"/api/v1/projects/{self.project_id}/jobs/{r.get_json()['id']}"
        job = wait_until(lambda: (j := caller.get(job_url).get_json())["state"] not in ACTIVE_STATES and j,
                         30, f"job {job_url}")
        assert job["state"] == FINISHED, job
        return job["id"]

    @cached_property
    def finished_prediction_job(self) -> int:
        self.trained_version()
        return self.finished_job("owner", "model/predictions", {"texts": [TEXT]})

    @cached_property
    def finished_export_of_the_annotator(self) -> int:
        return self.finished_job("annotator", "exports", {"format": "jsonl"})

    @cached_property
    def explainable_document(self) -> tuple[int, int]:
        """(project, document) of a sentiment project that collects natural-language explanations."""
        owner = self.callers["owner"]
        project = create_project(owner, "sa", "natural_language", labels=(("positive", "document"),))
        self._insert(Membership(project_id=project["id"], user_id=self.user_id("annotator"),
                                role=ANNOTATOR, settings={}))
        return project["id"], add_document(owner, project["id"], "A terrific little place.")["id"]

    def wait_for_jobs(self) -> None:
        """Requests started background jobs: let them end before the tables are emptied."""
        def settled() -> bool:
            with self.app.app_context():
                return db.session.scalar(db.select(db.func.count(Job.id))
                                         .where(Job.state.in_(ACTIVE_STATES))) == 0
        wait_until(settled, 60, "the jobs the matrix started to end")


def credentials(world: World, role: str) -> Target:
    if role == "anonymous":
        return Target(json={"username": "nobody", "password": "wrong password"})
    return Target(json={"username": role, "password": PASSWORD})


MEMBERS_ONLY = (401, 404, 200, 200, 200)
MEMBERS_START = (401, 404, 202, 202, 202)
OWNERS_ONLY = (401, 404, 403, 200, 200)
OWNERS_START = (401, 404, 403, 202, 202)
OWNERS_CREATE = (401, 404, 403, 201, 201)
OWNERS_DELETE = (401, 404, 403, 204, 204)
SIGNED_IN = (401, 200, 200, 200, 200)
EVERYONE = (200, 200, 200, 200, 200)

# (endpoint, method) -> (expected statuses in ROLES order, target of the request)
MATRIX: dict[tuple[str, str], tuple[tuple[int, ...], Callable[[World, str], Target]]] = {
    ("meta_api.health", "GET"): (EVERYONE, lambda w, r: Target()),
    ("meta_api.openapi", "GET"): (EVERYONE, lambda w, r: Target()),
    ("meta_api.list_plugins", "GET"): (SIGNED_IN, lambda w, r: Target()),
    ("auth_api.create_token", "POST"): ((401, 201, 201, 201, 201), credentials),
    ("auth_api.login", "POST"): ((401, 200, 200, 200, 200), credentials),
    ("auth_api.logout", "POST"): ((204,) * 5, lambda w, r: Target()),
    ("auth_api.logout_everywhere", "POST"): (SIGNED_IN, lambda w, r: Target()),
    # The same password again: later rows still log in with it (and tokens survive a change).
    ("auth_api.change_password", "POST"): (
        SIGNED_IN, lambda w, r: Target(json={"current_password": PASSWORD, "new_password": PASSWORD})),
    ("auth_api.me", "GET"): (SIGNED_IN, lambda w, r: Target()),
    ("auth_api.list_tokens", "GET"): (SIGNED_IN, lambda w, r: Target()),
    # Always the annotator's token: only its holder may revoke it, even an admin may not.
    ("auth_api.revoke_token", "DELETE"): (
        (401, 404, 204, 404, 404), lambda w, r: Target({"token_id": w.new_token("annotator")})),
    ("users_api.list_users", "GET"): ((401, 403, 403, 403, 200), lambda w, r: Target()),
    ("users_api.create_user", "POST"): (
        (401, 403, 403, 403, 201),
        lambda w, r: Target(json={"username": w.unique("new"), "password": "long enough"})),
    ("projects_api.list_projects", "GET"): (SIGNED_IN, lambda w, r: Target()),
    ("projects_api.create_project", "POST"): (
        (401, 201, 201, 201, 201), lambda w, r: Target(json={"name": "mine", "task": "sa"})),
    ("projects_api.get_project", "GET"): (MEMBERS_ONLY, lambda w, r: Target(w.in_project())),
    ("agreement_api.get_agreement", "GET"): (OWNERS_ONLY, lambda w, r: Target(w.in_project())),
    ("projects_api.update_project", "PATCH"): (
        OWNERS_ONLY, lambda w, r: Target(w.in_project(), {"description": f"by {r}"})),
    ("projects_api.delete_project", "DELETE"): (
        OWNERS_DELETE, lambda w, r: Target({"project_id": w.new_project()})),
    ("projects_api.get_settings", "GET"): (MEMBERS_ONLY, lambda w, r: Target(w.in_project())),
    ("projects_api.update_settings", "PATCH"): (
        OWNERS_ONLY,
        lambda w, r: Target(w.in_project(), {"retrain_policy": {"mode": "every_n", "n": 5}})),
    ("labels_api.list_labels", "GET"): (MEMBERS_ONLY, lambda w, r: Target(w.in_project())),
    ("labels_api.create_label", "POST"): (
        OWNERS_CREATE, lambda w, r: Target(w.in_project(), {"name": w.unique("NEW"), "kind": "span"})),
    ("labels_api.update_label", "PATCH"): (
        OWNERS_ONLY, lambda w, r: Target(w.in_project(label_id=w.label_id), {"color": "#112233"})),
    ("labels_api.delete_label", "DELETE"): (
        OWNERS_DELETE, lambda w, r: Target(w.in_project(label_id=w.new_label()))),
    ("members_api.list_members", "GET"): (MEMBERS_ONLY, lambda w, r: Target(w.in_project())),
    ("members_api.add_member", "POST"): (
        OWNERS_CREATE,
        lambda w, r: Target(w.in_project(), {"username": w.new_user().username, "role": "annotator"})),
    ("members_api.update_member", "PATCH"): (
        OWNERS_ONLY,
        lambda w, r: Target(w.in_project(user_id=w.user_id("annotator")), {"role": "annotator"})),
    ("members_api.remove_member", "DELETE"): (
        OWNERS_DELETE, lambda w, r: Target(w.in_project(user_id=w.new_member()))),
    ("members_api.get_my_settings", "GET"): (MEMBERS_ONLY, lambda w, r: Target(w.in_project())),
    # A site admin who is not a member has no per-member settings to change.
    ("members_api.update_my_settings", "PATCH"): (
        (401, 404, 200, 200, 403),
        lambda w, r: Target(w.in_project(), {"show_recommendations": False})),
    ("documents_api.list_documents", "GET"): (MEMBERS_ONLY, lambda w, r: Target(w.in_project())),
    ("documents_api.add_documents", "POST"): (
        OWNERS_CREATE, lambda w, r: Target(w.in_project(), {"text": TEXT})),
    ("documents_api.get_document_with_annotations", "GET"): (
        MEMBERS_ONLY, lambda w, r: Target(w.in_project(document_id=w.document_id))),
    ("documents_api.delete_document", "DELETE"): (
        OWNERS_DELETE, lambda w, r: Target(w.in_project(document_id=w.new_document()))),
    ("documents_api.finish_document", "PUT"): (
        (401, 404, 204, 204, 204), lambda w, r: Target(w.in_project(document_id=w.document_id))),
    ("documents_api.unfinish_document", "DELETE"): (
        (401, 404, 204, 204, 204), lambda w, r: Target(w.in_project(document_id=w.document_id))),
    ("documents_api.skip_document", "PUT"): (
        (401, 404, 204, 204, 204), lambda w, r: Target(w.in_project(document_id=w.document_id))),
    ("documents_api.unskip_document", "DELETE"): (
        (401, 404, 204, 204, 204), lambda w, r: Target(w.in_project(document_id=w.document_id))),
    ("annotations_api.list_annotations", "GET"): (
        MEMBERS_ONLY, lambda w, r: Target(w.in_project(document_id=w.document_id))),
    ("annotations_api.create_annotation", "POST"): (
        (401, 404, 201, 201, 201),
        lambda w, r: Target(w.in_project(document_id=w.document_id),
                            {"label": "PER", "start": 9, "end": 12})),
    # The target is the annotator's own annotation: owners and admins see it but may not change it.
    ("annotations_api.replace_annotation", "PUT"): (
        (401, 404, 200, 403, 403),
        # On a fresh document: on the shared one, the span the POST row saved would make it a
        # duplicate or an overlap of that (409).
        lambda w, r: Target(w.in_project(annotation_id=w.new_annotation(document_id=w.new_document())),
                            {"label": "PER", "start": 9, "end": 11})),
    ("annotations_api.delete_annotation", "DELETE"): (
        (401, 404, 204, 403, 403), lambda w, r: Target(w.in_project(annotation_id=w.new_annotation()))),
    ("curation_api.get_curation", "GET"): (
        OWNERS_ONLY, lambda w, r: Target(w.in_project(document_id=w.document_id))),
    ("curation_api.set_review_state", "PATCH"): (
        OWNERS_ONLY, lambda w, r: Target(w.in_project(document_id=w.document_id), {"state": "in review"})),
    ("curation_api.create_gold", "POST"): (
        OWNERS_CREATE, lambda w, r: Target(w.in_project(document_id=w.new_document()),
                                           {"label": "PER", "start": 0, "end": 4})),
    ("curation_api.replace_gold", "PUT"): (
        OWNERS_ONLY, lambda w, r: Target(w.in_project(annotation_id=w.new_gold()),
                                         {"label": "PER", "start": 9, "end": 12})),
    ("curation_api.delete_gold", "DELETE"): (
        OWNERS_DELETE, lambda w, r: Target(w.in_project(annotation_id=w.new_gold()))),
    ("explanations_api.parse_explanation", "POST"): (
        MEMBERS_ONLY,
        lambda w, r: Target({"project_id": w.explainable_document[0]},
                            {"text": "The word 'terrific' appears", "label": "positive",
                             "document_id": w.explainable_document[1]})),
    ("jobs_api.get_job", "GET"): (MEMBERS_ONLY, lambda w, r: Target(w.in_project(job_id=w.new_job()))),
    ("models_api.model_status", "GET"): (MEMBERS_ONLY, lambda w, r: Target(w.in_project())),
    ("models_api.list_versions", "GET"): (MEMBERS_ONLY, lambda w, r: Target(w.in_project())),
    ("models_api.get_version", "GET"): (
        MEMBERS_ONLY, lambda w, r: Target(w.in_project(version_id=w.new_model_version()))),
    ("models_api.document_recommendations", "GET"): (
        MEMBERS_ONLY, lambda w, r: Target(w.in_project(document_id=w.document_id))),
    ("models_api.train", "POST"): (
        OWNERS_START, lambda w, r: Target({"project_id": w.new_trainable_project()})),
    ("models_api.activate_version", "POST"): (
        OWNERS_ONLY, lambda w, r: Target(w.in_project(version_id=w.trained_version()))),
    ("models_api.download_archive", "GET"): (
        MEMBERS_ONLY, lambda w, r: Target(w.in_project(version_id=w.trained_version()))),
    ("models_api.predict_online", "POST"): (
        MEMBERS_ONLY, lambda w, r: Target(w.in_trained_project(), {"text": TEXT})),
    ("models_api.predict_batch", "POST"): (
        MEMBERS_START, lambda w, r: Target(w.in_trained_project(), {"texts": [TEXT]})),
    ("models_api.download_predictions", "GET"): (
        MEMBERS_ONLY, lambda w, r: Target(w.in_project(job_id=w.finished_prediction_job))),
    ("queue_api.ranked_queue", "GET"): (MEMBERS_ONLY, lambda w, r: Target(w.in_project())),
    # Earlier rows left several unannotated documents, so each member is leased one.
    ("queue_api.next_in_queue", "GET"): (MEMBERS_ONLY, lambda w, r: Target(w.in_project())),
    ("queue_api.release_lease", "DELETE"): (
        (401, 404, 204, 204, 204), lambda w, r: Target(w.in_project(document_id=w.document_id))),
    ("transfers_api.start_import", "POST"): (
        OWNERS_START,
        lambda w, r: Target(w.in_project(), form={"file": (io.BytesIO(b'{"text": "Ann smiled."}\n'),
                                                           "more.jsonl")})),
    # Members export; an annotator who may not see others' work gets only their own.
    ("transfers_api.start_export", "POST"): (
        MEMBERS_START, lambda w, r: Target(w.in_project(), {"format": "jsonl"})),
    # The annotator's export: theirs to download, and the owners' (who see everyone's work).
    ("transfers_api.download_export", "GET"): (
        MEMBERS_ONLY, lambda w, r: Target(w.in_project(job_id=w.finished_export_of_the_annotator))),
    ("transfers_api.derive_relation_project", "POST"): (
        OWNERS_START, lambda w, r: Target(w.in_project(), {"name": w.unique("relations")})),
    ("transfers_api.derive_project", "POST"): (
        OWNERS_START, lambda w, r: Target(w.in_project(), {"task": "re", "name": w.unique("derived")})),
}


def api_routes(app: Flask) -> set[tuple[str, str]]:
    return {(rule.endpoint, method) for rule in app.url_map.iter_rules()
            if rule.rule.startswith("/api/v1") for method in rule.methods - {"HEAD", "OPTIONS"}}


def build_world(app: Flask, make_caller) -> World:
    callers = {role: make_caller(role, admin=role == "admin") for role in ROLES if role != "anonymous"}
    callers["anonymous"] = make_caller(None)
    owner = callers["owner"]
    project = create_project(owner, "ner", labels=(("PER", "span"),))
    r = owner.post(f"/api/v1/projects/{project['id']}/members",
                   json={"username": "annotator", "role": "annotator"})
    assert r.status_code == 201, r.get_json()
    label_id = owner.get(f"/api/v1/projects/{project['id']}/labels").get_json()["items"][0]["id"]
    document = add_document(owner, project["id"], TEXT)
    return World(app, callers, project["id"], label_id, document["id"])


def test_every_endpoint_answers_every_role_as_the_matrix_says(app, make_caller):
    routes = api_routes(app)
    wrong = [f"{method} {endpoint}: no authorization matrix row"
             for endpoint, method in sorted(routes - MATRIX.keys())]
    wrong += [f"{method} {endpoint}: a matrix row for an endpoint that no longer exists"
              for endpoint, method in sorted(MATRIX.keys() - routes)]

    world = build_world(app, make_caller)
    adapter = app.url_map.bind("localhost")
    for endpoint, method in sorted(MATRIX.keys() & routes):
        expected, target_of = MATRIX[endpoint, method]
        for role, status in zip(ROLES, expected, strict=True):
            target = target_of(world, role)
            path = adapter.build(endpoint, target.values, method=method)
            # A fresh client per request, so a cookie set by one request cannot leak into the next.
            caller = Caller(app.test_client(), world.callers[role].token)
            response = caller.request(method, path, **target.body())
            if response.status_code != status:
                wrong.append(f"{method} {path} as {role}: expected {status}, got "
                             f"{response.status_code} {response.get_data(as_text=True)[:200]}")
            elif status >= 400:
                error = response.get_json()["error"]
                assert error["code"] and error["message"], (method, path, role, error)
    world.wait_for_jobs()
    assert not wrong, "\n".join(wrong)


def _annotate(caller: Caller, project_id: int, document_id: int, start: int, end: int):
    return caller.post(f"/api/v1/projects/{project_id}/documents/{document_id}/annotations",
                       json={"label": "PER", "start": start, "end": end})


def _visible_annotations(caller: Caller, project_id: int, document_id: int, query: str = ""):
    return caller.get(f"/api/v1/projects/{project_id}/documents/{document_id}/annotations{query}")


def test_annotators_see_others_annotations_only_when_the_owner_allows(make_caller):
    owner, alice, bob = make_caller("owner"), make_caller("alice"), make_caller("bob")
    project = create_project(owner, "ner", labels=(("PER", "span"),))
    pid = project["id"]
    for name in ("alice", "bob"):
        assert owner.post(f"/api/v1/projects/{pid}/members",
                          json={"username": name, "role": "annotator"}).status_code == 201
    doc = add_document(owner, pid, TEXT)
    assert _annotate(alice, pid, doc["id"], 0, 4).status_code == 201
    assert _annotate(bob, pid, doc["id"], 9, 12).status_code == 201

    # Hidden by default: own annotations only, asking for others' is refused.
    mine = _visible_annotations(alice, pid, doc["id"]).get_json()["items"]
    assert [a["user_id"] for a in mine] == [alice.user_id]
    assert _visible_annotations(alice, pid, doc["id"], f"?annotator={bob.user_id}").status_code == 403
    assert _visible_annotations(alice, pid, doc["id"], "?annotator=all").status_code == 403
    assert alice.get(f"/api/v1/projects/{pid}/documents/{doc['id']}?annotator=all").status_code == 403
    # The owner sees everyone's.
    everyone = _visible_annotations(owner, pid, doc["id"], "?annotator=all").get_json()["items"]
    assert {a["user_id"] for a in everyone} == {alice.user_id, bob.user_id}

    r = owner.patch(f"/api/v1/projects/{pid}", json={"annotators_see_others": True})
    assert r.status_code == 200 and r.get_json()["annotators_see_others"] is True
    bobs = _visible_annotations(alice, pid, doc["id"], f"?annotator={bob.user_id}").get_json()["items"]
    assert [(a["user_id"], a["start"], a["end"]) for a in bobs] == [(bob.user_id, 9, 12)]
    r = alice.get(f"/api/v1/projects/{pid}/documents/{doc['id']}?annotator=all")
    assert {a["user_id"] for a in r.get_json()["annotations"]} == {alice.user_id, bob.user_id}


def test_one_annotator_never_overwrites_another(make_caller):
    owner, alice, bob = make_caller("owner"), make_caller("alice"), make_caller("bob")
    project = create_project(owner, "ner", labels=(("PER", "span"), ("LOC", "span")))
    pid = project["id"]
    for name in ("alice", "bob"):
        owner.post(f"/api/v1/projects/{pid}/members", json={"username": name, "role": "annotator"})
    doc = add_document(owner, pid, TEXT)
    # Both annotate the same span: two annotations, neither replaces the other.
    alices = _annotate(alice, pid, doc["id"], 0, 4).get_json()
    bobs = _annotate(bob, pid, doc["id"], 0, 4).get_json()
    assert alices["id"] != bobs["id"]

    change = {"label": "LOC", "start": 16, "end": 21}
    # Invisible to bob: it does not exist for him.
    assert bob.put(f"/api/v1/projects/{pid}/annotations/{alices['id']}", json=change).status_code == 404
    assert bob.delete(f"/api/v1/projects/{pid}/annotations/{alices['id']}").status_code == 404
    # Visible once the owner allows it, but still not his to change.
    owner.patch(f"/api/v1/projects/{pid}", json={"annotators_see_others": True})
    assert bob.put(f"/api/v1/projects/{pid}/annotations/{alices['id']}", json=change).status_code == 403
    assert bob.delete(f"/api/v1/projects/{pid}/annotations/{alices['id']}").status_code == 403
    assert owner.put(f"/api/v1/projects/{pid}/annotations/{alices['id']}", json=change).status_code == 403

    kept = _visible_annotations(alice, pid, doc["id"]).get_json()["items"]
    assert [(a["id"], a["label"], a["start"], a["end"]) for a in kept] == [(alices["id"], "PER", 0, 4)]
    # Alice changes her own; Bob's stays as it was.
    assert alice.put(f"/api/v1/projects/{pid}/annotations/{alices['id']}", json=change).status_code == 200
    bob_now = _visible_annotations(bob, pid, doc["id"]).get_json()["items"]
    assert [(a["id"], a["label"], a["start"], a["end"]) for a in bob_now] == [(bobs["id"], "PER", 0, 4)]


def test_a_revoked_token_is_refused(make_caller):
    alice, mallory = make_caller("alice"), make_caller("mallory")
    client = alice.client
    r = client.post("/api/v1/auth/token", json={"username": "alice", "password": PASSWORD, "name": "script"})
    assert r.status_code == 201
    issued = r.get_json()
    script = Caller(client, issued["token"])
    assert script.get("/api/v1/auth/me").get_json()["user"]["username"] == "alice"

    # Somebody else cannot revoke it (nor learn that it exists).
    assert mallory.delete(f"/api/v1/auth/tokens/{issued['id']}").status_code == 404
    assert script.get("/api/v1/auth/me").status_code == 200

    assert alice.delete(f"/api/v1/auth/tokens/{issued['id']}").status_code == 204
    r = script.get("/api/v1/auth/me")
    assert r.status_code == 401 and r.get_json()["error"]["code"] == "invalid_token"
    listed = {t["id"]: t for t in alice.get("/api/v1/auth/tokens").get_json()["items"]}
    assert listed[issued["id"]]["revoked"] is True and "token" not in listed[issued["id"]]
    # The token that made the request is unaffected.
    assert alice.get("/api/v1/auth/me").status_code == 200


def test_cookie_session_needs_the_csrf_header_for_writes(app, make_caller):
    make_caller("alice")
    browser = app.test_client()
    assert browser.post("/api/v1/auth/login", json={"username": "alice", "password": "wrong"}).status_code == 401
    r = browser.post("/api/v1/auth/login", json={"username": "alice", "password": PASSWORD})
    assert r.status_code == 200
    csrf = r.get_json()["csrf_token"]
    assert browser.get("/api/v1/auth/me").get_json()["user"]["username"] == "alice"

    new_project = {"name": "from the browser", "task": "ner"}
    for headers in ({}, {"X-CSRF-Token": "forged"}):
        r = browser.post("/api/v1/projects", json=new_project, headers=headers)
        assert r.status_code == 403 and r.get_json()["error"]["code"] == "csrf_failed"
    assert browser.get("/api/v1/projects").get_json()["items"] == []

    r = browser.post("/api/v1/projects", json=new_project, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 201
    assert [p["name"] for p in browser.get("/api/v1/projects").get_json()["items"]] == ["from the browser"]

    # Logging out changes the session too, so a forged page cannot do it either.
    assert browser.post("/api/v1/auth/logout").status_code == 403
    assert browser.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
    assert browser.get("/api/v1/auth/me").status_code == 401
