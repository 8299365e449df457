"""Model versions are numbered per project (1, 2, ...) beside their global id; the
migration numbers the versions a database already has."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command

from leanlife_server.app import create_app
from leanlife_server.db import db
from leanlife_server.db.migrate import alembic_config, upgrade
from tests.test_jobs_support import sentiment_project
from tests.test_model_api import app, label, train  # noqa: F401 (app: with the toy models)


def test_each_project_counts_its_own_versions(make_caller):
    owner = make_caller("owner")
    first, second = sentiment_project(owner, documents=8), sentiment_project(owner, documents=8)
    for project in (first, second):
        label(owner, project, range(8))
    ids = [train(owner, first)["model_version_id"], train(owner, second)["model_version_id"],
           train(owner, second)["model_version_id"]]
    versions = owner.get(f"/api/v1/projects/{second['id']}/model/versions").get_json()["items"]
    assert [(v["id"], v["number"]) for v in versions] == [(ids[2], 2), (ids[1], 1)]
    one = owner.get(f"/api/v1/projects/{first['id']}/model/versions/{ids[0]}").get_json()
    assert (one["id"], one["number"]) == (ids[0], 1)


def test_the_migration_numbers_existing_versions_per_project(empty_database, tmp_path):
    app = create_app({"database_url": empty_database, "data_dir": tmp_path / "data"})
    upgrade(app, "0007")
    with app.app_context(), db.engine.begin() as conn:
        for project in (1, 2):
            conn.execute(sa.text("INSERT INTO projects (id, name, description, task, explanation_kind, "
                                 "multi_label, annotators_see_others, model_config, retrain_policy, created_at) "
                                 "VALUES (:id, 'p', '', 'sa', 'none', false, false, '{}', '{}', CURRENT_TIMESTAMP)"),
                         {"id": project})
        for version, project in enumerate([1, 2, 1, 2, 2], start=1):
            conn.execute(sa.text("INSERT INTO model_versions (id, project_id, model, config, metrics, "
                                 "data_counts, is_active, created_at) VALUES (:id, :project, 'm', '{}', "
                                 "'{}', '{}', false, CURRENT_TIMESTAMP)"), {"id": version, "project": project})
    upgrade(app)
    with app.app_context():
        rows = db.session.execute(sa.text("SELECT id, number FROM model_versions ORDER BY id")).all()
        assert [tuple(r) for r in rows] == [(1, 1), (2, 1), (3, 2), (4, 2), (5, 3)]
        db.session.rollback()  # end the read, or PostgreSQL's ALTER TABLE waits for it
        with db.engine.begin() as conn:
            command.downgrade(alembic_config(conn), "0007")
        assert db.session.scalar(sa.text("SELECT count(*) FROM model_versions")) == 5
        db.session.remove()
        db.engine.dispose()
