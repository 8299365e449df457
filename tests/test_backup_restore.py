"""Backup and restore as docs/deploy.md tells an admin: a small installation (a user, a
project with documents and annotations, a trained toy model version, a browser session) is
backed up with `leanlife backup` while it serves, changed, stopped, wiped (database, data dir
and bucket) and restored with `leanlife restore` + `leanlife db upgrade`; the data, the
model (online prediction and its archive) and the session are back, and the change made
after the backup is not. Once on SQLite with the default store (the data dir) and once on
PostgreSQL with the artifacts in S3-compatible object storage (SeaweedFS)."""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
import uuid
import zipfile
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from leanlife_server import extract
from tests.conftest import PASSWORD, _postgres_admin, _private_postgres_database
from tests.seaweedfs import SeaweedFS, seaweedfs  # noqa: F401  (a fixture used below)
from tests.test_jobs_redis import annotate, sa_project
from tests.test_jobs_support import REPO, Api, process_env, start_server, wait_until

GUIDE = REPO / "docs" / "deploy.md"
# The lines the guide gives for each step, run here as they are written (with $BACKUP set).
BACKUP = ['leanlife backup "$BACKUP"']
RESTORE = ['leanlife restore "$BACKUP"', "leanlife db upgrade"]


def shell_lines() -> set[str]:
    blocks = re.findall(r"^```sh\n(.*?)^```", GUIDE.read_text(), re.DOTALL | re.MULTILINE)
    return {line.strip() for block in blocks for line in block.splitlines()}


def run_documented(lines: list[str], env: dict[str, str], cwd: Path) -> str:
    missing = [line for line in lines if line not in shell_lines()]
    assert not missing, f"docs/deploy.md no longer shows {missing}: update the guide or this test"
    # The installed `leanlife` script, as an admin runs it.
    env = {**env, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"}
    done = subprocess.run(["bash", "-euc", "\n".join(lines)], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{lines} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def login(url: str) -> requests.Session:
    browser = requests.Session()
    r = browser.post(f"{url}/api/v1/auth/login", json={"username": "owner", "password": PASSWORD}, timeout=10)
    assert r.status_code == 200, r.text
    return browser


def snapshot(api: Api, pid: int) -> dict:
    base = f"/api/v1/projects/{pid}"
    documents = api.get(f"{base}/documents?limit=100").json()["items"]
    prediction = api.post(f"{base}/model/predict", json={"texts": ["I loved it", "dreadful"]})
    assert prediction.status_code == 200, prediction.text
    versions = api.get(f"{base}/model/versions").json()
    return {"documents": sorted(d["text"] for d in documents),
            "prediction": prediction.json(), "versions": versions}


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_backup_wipe_restore_brings_back_data_model_and_sessions(backend, tmp_path, request):
    data_dir, cwd = tmp_path / "data", tmp_path / "cwd"
    cwd.mkdir()
    settings: dict = {"data_dir": data_dir}  # SQLite: the default database in the data dir
    extra_env: dict = {}
    if backend == "postgres":
        database = _private_postgres_database("_backup")
        request.addfinalizer(lambda: _postgres_admin(database, f'DROP DATABASE IF EXISTS "{database.database}" WITH (FORCE)'))
        store: SeaweedFS = request.getfixturevalue("seaweedfs")
        bucket = f"backup-{uuid.uuid4().hex[:12]}"
        settings.update(database_url=database.render_as_string(hide_password=False),
                        secret_key="backup-test-secret", **store.settings(bucket))
        extra_env = SeaweedFS.credentials()
    env = {**process_env(tmp_path, settings), **extra_env, "BACKUP": str(tmp_path / "backups" / "one")}
    leanlife = [sys.executable, "-c", "from leanlife_server.cli import main; main()"]
    created = subprocess.run([*leanlife, "createuser", "--admin", "owner"], input=PASSWORD + "\n",
                             env=env, cwd=cwd, capture_output=True, text=True, timeout=120)
    assert created.returncode == 0, created.stderr

    server, url = start_server(env, tmp_path, cwd=cwd)
    try:
        token = requests.post(f"{url}/api/v1/auth/token", json={
            "username": "owner", "password": PASSWORD, "name": "backup test"}, timeout=10).json()["token"]
        api = Api(url, token)
        project = sa_project(api, 12, {"mode": "manual"}, strategy="random")
        pid = project["id"]
        for index in (0, 8, 1, 9):
            annotate(api, project, index)
        job = api.post(f"/api/v1/projects/{pid}/model/train").json()
        trained = wait_until(lambda: (j := api.get(f"/api/v1/projects/{pid}/jobs/{job['id']}").json())
                             ["state"] in ("finished", "failed") and j, 120, "the training")
        assert trained["state"] == "finished", trained
        version_id = trained["result"]["model_version_id"]
        browser = login(url)
        before = snapshot(api, pid)
        assert before["prediction"]["model_version_id"] == version_id

        # Online: the server keeps serving during the backup.
        printed = run_documented(BACKUP, env, cwd)
        assert "and 1 artifacts" in printed, printed  # the model version
        # A change after the backup, which the restore must not bring back.
        assert api.post(f"/api/v1/projects/{pid}/documents", json={"text": "written after the backup"}).status_code == 201
    finally:
        server.kill()

    # The disaster: the database, the data dir and the bucket are gone.
    shutil.rmtree(data_dir)
    if backend == "postgres":
        _postgres_admin(database, f'DROP DATABASE "{database.database}" WITH (FORCE)')
        _postgres_admin(database, f'CREATE DATABASE "{database.database}"')  # createdb, empty
        client = store.client()
        for key in store.objects(bucket):
            client.delete_object(Bucket=bucket, Key=key)
        client.delete_bucket(Bucket=bucket)

    run_documented(RESTORE, env, cwd)
    # A restore never overwrites a database that has tables.
    again = subprocess.run([*leanlife, "restore", env["BACKUP"]], env=env, cwd=cwd,
                           capture_output=True, text=True, timeout=120)
    assert again.returncode != 0 and ("not empty" in again.stderr or "already holds" in again.stderr), again.stderr

    server, url = start_server(env, tmp_path, cwd=cwd)
    try:
        api = Api(url, token)  # the API token is in the restored database
        after = snapshot(api, pid)
        assert after == before, "the documents, annotations, model versions and predictions are back"
        assert "written after the backup" not in after["documents"]
        archive = api.get(f"/api/v1/projects/{pid}/model/versions/{version_id}/archive")
        assert archive.status_code == 200, archive.text
        assert extract.MANIFEST in zipfile.ZipFile(io.BytesIO(archive.content)).namelist()
        # The browser session: its row is in the database, its cookie signed with the secret key
        # (SQLite run: generated in the data dir, so it must come back from the backup).
        me = browser.get(f"{url}/api/v1/auth/me", timeout=10)
        assert me.status_code == 200 and me.json()["user"]["username"] == "owner", me.text
    finally:
        server.kill()
    if backend == "postgres":
        assert any(key.startswith("artifacts/models/") for key in store.objects(bucket))
    engine = sa.create_engine(settings.get("database_url") or f"sqlite:///{data_dir / 'leanlife.sqlite3'}")
    try:
        with engine.connect() as connection:
            assert connection.execute(sa.text("SELECT count(*) FROM annotations")).scalar() == 4
    finally:
        engine.dispose()


UNITS = REPO / "deploy" / "systemd"


def test_the_guide_shows_the_systemd_units_and_systemd_accepts_them(tmp_path):
    guide = GUIDE.read_text()
    blocks = re.findall(r"^```ini\n(.*?)^```", guide, re.DOTALL | re.MULTILINE)
    files = sorted(UNITS.iterdir())
    assert sorted(blocks) == sorted(f.read_text() for f in files), \
        f"docs/deploy.md's ini blocks differ from {UNITS}: copy them over"
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.fail("systemd-analyze is missing (Debian: apt-get install systemd)", pytrace=False)
    # The installed `leanlife` stands in for /opt/leanlife/venv/bin/leanlife, which
    # systemd-analyze requires to exist.
    for unit in files:
        text = unit.read_text().replace("/opt/leanlife/venv/bin/leanlife", str(Path(sys.executable).parent / "leanlife"))
        (tmp_path / unit.name).write_text(text)
    names = [f"./{n.replace('@.', '@8001.') if 'web' in n else n.replace('@.', '@0.')}"
             for n in sorted(f.name for f in files)]
    done = subprocess.run([analyze, "verify", "--man=no", *names], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and not done.stderr.strip(), f"systemd-analyze verify:\n{done.stdout}{done.stderr}"
