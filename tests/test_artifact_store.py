"""The artifact store (leanlife_server/storage.py) on its two backends, a data dir of an
earlier release (absolute paths become keys), health, and the retention of model versions."""

from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path

import pytest
import sqlalchemy as sa

from leanlife_server import extract
from leanlife_server.app import create_app
from leanlife_server.db import db
from leanlife_server.db.migrate import upgrade
from leanlife_server.db.models import ModelVersion
from leanlife_server.storage import LocalStore, MissingArtifact, S3Store, open_store
from tests.seaweedfs import SeaweedFS, seaweedfs  # noqa: F401  (a fixture used below)
from tests.test_jobs_support import sentiment_project
from tests.test_model_api import app, label, train  # noqa: F401 (app: with the toy models)

BIG = 12 * 1024 * 1024  # above boto3's 8 MiB multipart threshold


@pytest.fixture
def s3_credentials(monkeypatch, seaweedfs):  # noqa: F811
    for name, value in SeaweedFS.credentials().items():
        monkeypatch.setenv(name, value)
    return seaweedfs


@pytest.fixture(params=["local", "s3"])
def any_store(request, tmp_path):
    if request.param == "local":
        return LocalStore(tmp_path / "store")
    found = request.getfixturevalue("s3_credentials")
    bucket = f"unit-{request.node.name.split('[')[0][-20:].replace('_', '-')}".lower()
    return open_store(f"s3://{bucket}/some/prefix", tmp_path, found.endpoint_url)


def test_put_open_get_list_and_delete_on_each_backend(any_store, tmp_path):
    big = tmp_path / "big.bin"
    with big.open("wb") as out:
        for i in range(BIG // 65536):
            out.write(bytes([i % 251]) * 65536)
    any_store.put_file("results/big.bin", big)
    (tmp_path / "small.txt").write_text("hello")
    any_store.put_file("results/small.txt", tmp_path / "small.txt")
    any_store.put_file("other/x.txt", tmp_path / "small.txt")
    assert any_store.exists("results/big.bin") and not any_store.exists("results/none")
    assert sorted(any_store.keys("results/")) == ["results/big.bin", "results/small.txt"]
    assert list(any_store.keys("results/sm")) == ["results/small.txt"]
    with any_store.open("results/big.bin") as stream:  # read in chunks, as a download does
        first = stream.read(65536)
        assert first == bytes([0]) * 65536
    any_store.get_to_file("results/big.bin", tmp_path / "copy" / "big.bin")
    assert (tmp_path / "copy" / "big.bin").read_bytes() == big.read_bytes()
    any_store.delete("results/big.bin")
    any_store.delete("results/big.bin")  # absent: nothing happens
    assert not any_store.exists("results/big.bin")
    with pytest.raises(MissingArtifact):
        any_store.open("results/big.bin")
    with pytest.raises(MissingArtifact):
        any_store.get_to_file("results/big.bin", tmp_path / "again")
    assert not (tmp_path / "again").exists()
    with pytest.raises(ValueError, match="without '..'"):
        any_store.put_file("../escape", tmp_path / "small.txt")
    any_store.check()


def test_a_missing_bucket_is_created_and_keys_sit_under_the_prefix(s3_credentials, tmp_path):
    assert "fresh-bucket" not in [b["Name"] for b in s3_credentials.client().list_buckets()["Buckets"]]
    store = open_store("s3://fresh-bucket/deep/prefix", tmp_path, s3_credentials.endpoint_url)
    assert isinstance(store, S3Store)
    (tmp_path / "a").write_text("a")
    store.put_file("models/a.zip", tmp_path / "a")
    assert s3_credentials.objects("fresh-bucket") == ["deep/prefix/models/a.zip"]
    assert list(store.keys("models/")) == ["models/a.zip"]


def test_a_bad_storage_url_stops_the_start(tmp_path):
    with pytest.raises(ValueError, match="LEANLIFE_STORAGE_URL='ftp://x'"):
        create_app({"data_dir": tmp_path, "storage_url": "ftp://x", "secret_key": "k"})
    with pytest.raises(ValueError, match="name the bucket"):
        create_app({"data_dir": tmp_path, "storage_url": "s3:///prefix", "secret_key": "k"})


def test_health_checks_the_configured_store(make_app, s3_credentials):
    from leanlife_server.health import details
    from tests.test_jobs_support import free_port

    for settings, expected in (({}, "ok"), (s3_credentials.settings("health"), "ok"),
                               ({**s3_credentials.settings("health"),
                                 "s3_endpoint_url": f"http://127.0.0.1:{free_port()}"}, "not writable: s3://health")):
        with make_app(settings).app_context():
            found = details()
        assert found["storage"].startswith(expected), (settings, found)
        assert (found["status"] == "ok") == (expected == "ok"), found


def versions_of(owner, project) -> list[dict]:
    return owner.get(f"/api/v1/projects/{project['id']}/model/versions").get_json()["items"]


def stored_versions(app, project) -> list[str]:
    return sorted(p.name for p in (app.config["LEANLIFE"].data_dir / "models" / f"project-{project['id']}").iterdir())


def keys_of(app, version_ids) -> list[str]:
    with app.app_context():
        return sorted(Path(db.session.get(ModelVersion, i).artifact_path).name for i in version_ids)


def test_retention_keeps_the_active_version_and_the_newest_ones(app, make_caller):  # noqa: F811
    owner = make_caller("owner")
    project = sentiment_project(owner, documents=10)
    settings = f"/api/v1/projects/{project['id']}/settings"
    label(owner, project, range(6))
    assert owner.patch(settings, json={}).get_json()["versions_kept"] == 10, "the default"
    for bad in (-1, 1.5, "3"):
        response = owner.patch(settings, json={"versions_kept": bad})
        assert response.status_code == 422 and "versions_kept" in response.get_data(as_text=True), bad
    ids = [train(owner, project)["result"]["model_version_id"] for _ in range(4)]
    assert [v["id"] for v in versions_of(owner, project)] == ids[::-1], "all four kept under the default"
    assert owner.patch(settings, json={"versions_kept": 2}).get_json()["versions_kept"] == 2
    assert [v["id"] for v in versions_of(owner, project)] == ids[:1:-1], "a lower number applies at once"
    assert stored_versions(app, project) == keys_of(app, ids[2:]), "their files left the store"
    ids.append(train(owner, project)["result"]["model_version_id"])
    assert [v["id"] for v in versions_of(owner, project)] == [ids[4], ids[3]]
    # Roll back to the older one, then keep none besides the active one.
    assert owner.post(f"/api/v1/projects/{project['id']}/model/versions/{ids[3]}/activate").status_code == 200
    assert owner.patch(settings, json={"versions_kept": 0}).status_code == 200
    assert [(v["id"], v["is_active"]) for v in versions_of(owner, project)] == [(ids[3], True)]
    assert stored_versions(app, project) == keys_of(app, ids[3:4])
    # A copy another process cached of a version deleted since goes when a version is fetched.
    cache = app.config["LEANLIFE"].data_dir / "cache" / "models"
    (cache / f"version-{ids[0]}").mkdir(parents=True)
    predicted = owner.post(f"/api/v1/projects/{project['id']}/model/predict", json={"text": "great"})
    assert predicted.status_code == 200 and predicted.get_json()["model_version_id"] == ids[3]
    assert [p.name for p in cache.iterdir()] == [f"version-{ids[3]}"]


def test_the_migration_turns_absolute_paths_into_keys(empty_database, tmp_path):
    app = create_app({"database_url": empty_database, "data_dir": tmp_path / "data", "secret_key": "k"})
    upgrade(app, "0009")
    with app.app_context(), db.engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO projects (id, name, description, task, explanation_kind, multi_label, "
                             "annotators_see_others, model_config, retrain_policy, created_at) VALUES "
                             "(3, 'p', '', 'sa', 'none', false, false, '{}', '{}', CURRENT_TIMESTAMP)"))
        for version, path in ((7, "/old/data/models/project-3/version-7"), (8, None)):
            conn.execute(sa.text("INSERT INTO model_versions (id, project_id, number, model, config, metrics, "
                                 "data_counts, is_active, artifact_path, created_at) VALUES (:id, 3, :id, 'm', "
                                 "'{}', '{}', '{}', false, :path, CURRENT_TIMESTAMP)"), {"id": version, "path": path})
    upgrade(app)
    with app.app_context():
        rows = db.session.execute(sa.text("SELECT id, artifact_path FROM model_versions ORDER BY id")).all()
        assert [tuple(r) for r in rows] == [(7, "models/project-3/version-7"), (8, None)]
        assert db.session.scalar(sa.text("SELECT versions_kept FROM projects")) == 10
        db.session.remove()
        db.engine.dispose()


def test_a_version_folder_of_an_earlier_release_predicts_and_downloads(app, make_caller):  # noqa: F811
    """What an earlier release left in the data dir (a folder at models/project-P/version-V,
    its key after the migration) still serves."""
    from leanlife_server.pipeline.model_store import CACHE_KEY, cache_dir

    owner = make_caller("owner")
    project = sentiment_project(owner, documents=10)
    label(owner, project, range(6))
    version_id = train(owner, project)["result"]["model_version_id"]
    data = app.config["LEANLIFE"].data_dir
    legacy = f"models/project-{project['id']}/version-{version_id}"
    with app.app_context():
        row = db.session.get(ModelVersion, version_id)
        extract.unpack(data / row.artifact_path, data / legacy)
        (data / row.artifact_path).unlink()
        row.artifact_path = legacy
        db.session.commit()
    app.extensions.pop(CACHE_KEY, None)
    with app.app_context():
        shutil.rmtree(cache_dir(version_id), ignore_errors=True)
        cached = cache_dir(version_id)
    base = f"/api/v1/projects/{project['id']}/model"
    predicted = owner.post(f"{base}/predict", json={"text": "great"})
    assert predicted.status_code == 200 and predicted.get_json()["model_version_id"] == version_id
    assert not cached.exists(), "the folder serves where it is"
    archive = owner.get(f"{base}/versions/{version_id}/archive")
    assert archive.status_code == 200, archive.get_data(as_text=True)
    assert extract.MANIFEST in zipfile.ZipFile(io.BytesIO(archive.data)).namelist()
    # And a version whose files are gone answers 404, naming it.
    with app.app_context():
        db.session.get(ModelVersion, version_id).artifact_path = "models/gone.zip"
        db.session.commit()
    missing = owner.get(f"{base}/versions/{version_id}/archive")
    assert missing.status_code == 404 and f"model version {version_id}" in missing.get_json()["error"]["message"]
