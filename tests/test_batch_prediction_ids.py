"""Batch prediction over ``document_ids`` refuses ids that are not the project's documents,
listing them, instead of quietly predicting fewer."""

from __future__ import annotations

from leanlife_server.db import db
from leanlife_server.db.models import Job
from tests.test_jobs_support import sentiment_project
from tests.test_model_api import app, label, train  # noqa: F401 (app: with the toy models)


def test_ids_of_another_project_are_listed(make_caller):
    owner = make_caller("owner")
    project, other = sentiment_project(owner, documents=8), sentiment_project(owner, documents=3)
    label(owner, project, range(8))
    train(owner, project)
    url = f"/api/v1/projects/{project['id']}/model/predictions"
    foreign = other["documents"][:2]
    r = owner.post(url, json={"document_ids": project["documents"][:2] + foreign + [999_999]})
    assert r.status_code == 422, r.get_json()
    error = r.get_json()["error"]
    assert error["details"]["field"] == "document_ids"
    assert error["details"]["missing"] == foreign + [999_999] and error["details"]["missing_count"] == 3
    assert str(foreign[0]) in error["message"]
    with owner.client.application.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(Job)
                                 .where(Job.kind == "predict")) == 0, "no job was started"
    assert owner.post(url, json={"document_ids": project["documents"][:2]}).status_code == 202
