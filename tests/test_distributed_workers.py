"""A server and a worker as two machines would run them: each its own data dir and working
dir, sharing only the database, Redis and S3-compatible object storage (SeaweedFS). Every
file one of them writes and the other reads goes through the bucket.

The two processes run as the same user, so a file mode could not stop the worker from
reading the server's data dir. What the test shows instead: no row or job names a path
(only store keys); each side's scratch copy is deleted before the other side needs the file
(an upload is removed from the server's disk before its import is queued; a trained model,
results and exports from the worker's before the job finishes); each process keeps only its
own cache of what it fetched; and neither data dir holds an artifact folder.
"""

from __future__ import annotations

import io
import json
import uuid
import zipfile

import pytest

from leanlife_server import extract
from leanlife_server.db import db
from leanlife_server.db.models import Job, ModelVersion
from tests import test_jobs_toy_models
from tests.seaweedfs import SeaweedFS, seaweedfs  # noqa: F401  (a fixture used below)
from tests.test_jobs_redis import annotate, sa_project
from tests.test_jobs_support import redis_prefix  # noqa: F401  (a fixture used below)
from tests.test_jobs_support import REDIS_URL, Api, process_env, start_server, start_worker, wait_until

ARTIFACT_FOLDERS = {"models", "results", "transfers", "archives"}


@pytest.fixture
def app(make_app):
    return make_app(extra_plugins=[test_jobs_toy_models])


def finished(api: Api, project_id: int, response) -> dict:
    assert response.status_code == 202, response.text
    job_id = response.json()["id"]
    job = wait_until(lambda: (j := api.get(f"/api/v1/projects/{project_id}/jobs/{job_id}").json())
                     ["state"] in ("finished", "failed") and j, timeout=120, what=f"job {job_id}")
    assert job["state"] == "finished", job
    return job


def test_a_server_and_a_worker_share_files_only_through_the_bucket(
        app, make_caller, database_url, tmp_path, redis_prefix, seaweedfs):  # noqa: F811
    bucket = f"e2e-{uuid.uuid4().hex[:12]}"
    machines = {name: tmp_path / name for name in ("server", "worker")}
    envs = {}
    for name, root in machines.items():
        (root / "cwd").mkdir(parents=True)
        envs[name] = {**process_env(tmp_path, {
            "database_url": database_url, "data_dir": root / "data", "secret_key": "test-secret",
            "redis_url": REDIS_URL, "redis_prefix": redis_prefix, **seaweedfs.settings(bucket)}),
            **SeaweedFS.credentials()}
    server, url = start_server(envs["server"], tmp_path, cwd=machines["server"] / "cwd")
    worker = start_worker(envs["worker"], tmp_path, cwd=machines["worker"] / "cwd")
    try:
        api = Api(url, make_caller("owner").token)
        project = sa_project(api, 12, {"mode": "manual"}, strategy="random")
        pid = project["id"]
        base = f"/api/v1/projects/{pid}"
        for index in (0, 8, 1, 9):
            annotate(api, project, index)

        trained = finished(api, pid, api.post(f"{base}/model/train"))
        version_id = trained["result"]["model_version_id"]
        online = api.post(f"{base}/model/predict", json={"texts": ["I loved it", "dreadful"]})
        assert online.status_code == 200 and online.json()["model_version_id"] == version_id, online.text

        batch = finished(api, pid, api.post(f"{base}/model/predictions", json={"texts": ["great", "bad", "ok"]}))
        results = api.get(f"{base}/model/predictions/{batch['id']}")
        assert results.status_code == 200, results.text
        assert [json.loads(line)["index"] for line in results.text.splitlines()] == [0, 1, 2]

        archive = api.get(f"{base}/model/versions/{version_id}/archive")
        assert archive.status_code == 200, archive.text
        assert extract.MANIFEST in zipfile.ZipFile(io.BytesIO(archive.content)).namelist()

        export = finished(api, pid, api.post(f"{base}/exports", json={"format": "jsonl"}))
        exported = api.get(f"{base}/exports/{export['id']}/file")
        assert exported.status_code == 200 and len(exported.text.splitlines()) == 12, exported.text

        upload = {"file": ("more.txt", io.BytesIO(b"an imported review\nanother one\n"))}
        imported = finished(api, pid, api.post(f"{base}/imports", files=upload))
        assert imported["result"]["documents"] == 2, imported
        texts = [d["text"] for d in api.get(f"{base}/documents?limit=100").json()["items"]]
        assert "an imported review" in texts and len(texts) == 14
    finally:
        worker.kill()
        server.kill()

    objects = seaweedfs.objects(bucket)
    assert f"artifacts/results/predict-{batch['id']}.jsonl" in objects, objects
    assert f"artifacts/transfers/export-{export['id']}" in objects, objects
    assert not [key for key in objects if "/transfers/import-" in key], "the upload went with its import"
    with app.app_context():
        key = db.session.get(ModelVersion, version_id).artifact_path
        assert f"artifacts/{key}" in objects and key.startswith(f"models/project-{pid}/")
        recorded = json.dumps([[j.params, j.result] for j in db.session.scalars(db.select(Job))])
        recorded += json.dumps(list(db.session.scalars(db.select(ModelVersion.artifact_path))))
    assert str(tmp_path) not in recorded, "rows name store keys, never a machine's paths"
    for name, root in machines.items():
        data = root / "data"
        assert not ARTIFACT_FOLDERS & {p.name for p in data.iterdir()}, (name, list(data.iterdir()))
        assert list((data / "tmp").iterdir()) == [], f"{name}: scratch copies are deleted"
        assert [p.name for p in (data / "cache" / "models").iterdir()] == [f"version-{version_id}"], \
            f"{name} fetched the version from the bucket into its own cache"
        assert list((root / "cwd").iterdir()) == [], f"{name} wrote nothing in its working dir"
