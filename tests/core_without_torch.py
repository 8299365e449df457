"""Run by tests/test_packaging.py in an interpreter whose site-packages lack torch,
transformers and the model plugins' distributions: the core and its light plugins must serve
annotation there.

    LEANLIFE_DATABASE_URL=... LEANLIFE_DATA_DIR=... python tests/core_without_torch.py

Prints one JSON line with what it saw; exits non-zero on the first failed step."""

import importlib.util
import json
import os
import sys

from leanlife_server.app import create_app
from leanlife_server.auth import create_user, issue_token
from leanlife_server.db import db
from leanlife_server.pipeline.device import resolve_device
from leanlife_server.plugin_api import load_object

ABSENT = ("torch", "transformers")


def check(response, status: int) -> dict:
    if response.status_code != status:
        sys.exit(f"{response.request.method} {response.request.path}: expected {status}, got "
                 f"{response.status_code}: {response.get_data(as_text=True)}")
    return response.get_json()


def main() -> None:
    app = create_app({"database_url": os.environ["LEANLIFE_DATABASE_URL"],
                      "data_dir": os.environ["LEANLIFE_DATA_DIR"], "secret_key": "test-secret"})
    with app.app_context():
        user = create_user("owner", "correct horse battery", is_admin=True)
        _, token = issue_token(user, "packaging test")
        db.session.commit()
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}

    health = check(client.get("/api/v1/health"), 200)
    plugins = check(client.get("/api/v1/plugins", headers=headers), 200)
    project = check(client.post("/api/v1/projects", headers=headers, json={
        "name": "no torch", "task": "ner", "explanation_kind": "trigger"}), 201)
    base = f"/api/v1/projects/{project['id']}"
    check(client.post(f"{base}/labels", headers=headers, json={"name": "PER", "kind": "span"}), 201)
    document = check(client.post(f"{base}/documents", headers=headers,
                                 json={"text": "Mr. Smith said hello."}), 201)
    check(client.post(f"{base}/documents/{document['id']}/annotations", headers=headers, json={
        "label": "PER", "start": 4, "end": 9,
        "explanations": [{"kind": "trigger", "spans": [{"start": 0, "end": 3}]}]}), 201)
    saved = check(client.get(f"{base}/documents/{document['id']}", headers=headers), 200)
    train = client.post(f"{base}/model/train", headers=headers)
    # Every query strategy and format the light plugins register imports (modAL tries torch).
    registered = app.extensions["leanlife"]
    paths = [d.factory for d in registered.query_strategies] + \
        [path for d in registered.formats for path in (d.importer, d.exporter, d.sniff) if path]
    print(json.dumps({
        "health": health,
        "plugins": plugins,
        "project_model": project["settings"]["model"],
        "annotations": [(a["label"], a["start"], a["end"]) for a in saved["annotations"]],
        "train": [train.status_code, train.get_json()],
        # A job asking for a GPU where torch is absent runs on the CPU (and no model needs one).
        "cuda_resolves_to": resolve_device("cuda"),
        "loaded": {path: callable(load_object(path)) for path in paths},
        # Really not installed here (and so never imported).
        "absent": [name for name in ABSENT
                   if name not in sys.modules and importlib.util.find_spec(name) is None],
    }))


if __name__ == "__main__":
    main()
