"""The model API: train, versions with metrics, activate / roll back, online and batch
prediction, and an extracted archive that predicts the same in a fresh Python process."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile

import pytest

from tests import test_jobs_toy_models
from tests.test_jobs_support import REPO, gold_label, sentiment_project, wait_until


@pytest.fixture
def app(make_app):
    return make_app(extra_plugins=[test_jobs_toy_models])


def train(owner, project) -> dict:
    r = owner.post(f"/api/v1/projects/{project['id']}/model/train")
    assert r.status_code == 202, r.get_json()
    return wait_until(lambda: (j := owner.get(f"/api/v1/projects/{project['id']}/jobs/{r.get_json()['id']}")
                               .get_json())["state"] in ("finished", "failed") and j, what="training")


def label(owner, project, indexes):
    for i in indexes:
        document_id = project["documents"][i]
        text = owner.get(f"/api/v1/projects/{project['id']}/documents/{document_id}").get_json()["text"]
        assert owner.post(f"/api/v1/projects/{project['id']}/documents/{document_id}/annotations",
                          json={"label": gold_label(text)}).status_code == 201


def test_train_evaluate_version_roll_back_and_predict(make_caller):
    owner, annotator = make_caller("owner"), make_caller("annotator")
    project = sentiment_project(owner, documents=40)
    base = f"/api/v1/projects/{project['id']}/model"
    assert owner.post(f"/api/v1/projects/{project['id']}/members",
                      json={"username": "annotator", "role": "annotator"}).status_code == 201
    assert owner.post(f"{base}/predict", json={"text": "great"}).status_code == 409, "no model yet"
    assert annotator.post(f"{base}/train").status_code == 403, "only owners train"
    label(owner, project, range(0, 6))
    first = train(owner, project)
    assert first["state"] == "finished", first["error"]
    label(owner, project, range(8, 14))
    second = train(owner, project)
    versions = owner.get(f"{base}/versions").get_json()["items"]
    assert [v["id"] for v in versions] == [second["model_version_id"], first["model_version_id"]]
    newest = versions[0]
    assert newest["is_active"] and newest["data_counts"]["labeled"] == 12
    assert newest["data_counts"]["train"] + newest["data_counts"]["heldout"] == 12
    assert newest["data_counts"]["heldout"] > 0 and newest["metrics"]["heldout"], "evaluated on held-out documents"
    assert not versions[1]["metrics"]["heldout"], "six documents are too few to hold some out"

    predicted = owner.post(f"{base}/predict", json={"texts": ["what a wonderful story", "dull and awful"]})
    assert predicted.status_code == 200
    body = predicted.get_json()
    assert body["model_version_id"] == newest["id"]
    assert [p["annotations"][0]["label"] for p in body["predictions"]] == ["pos", "neg"]

    rolled = owner.post(f"{base}/versions/{first['model_version_id']}/activate")
    assert rolled.status_code == 200 and rolled.get_json()["is_active"]
    assert owner.get(base).get_json()["active_version"]["id"] == first["model_version_id"]
    after = owner.post(f"{base}/predict", json={"text": "dull and awful"}).get_json()
    assert after["model_version_id"] == first["model_version_id"], "the web process reloads on rollback"


def test_batch_prediction_job_results_download(make_caller):
    owner = make_caller("owner")
    project = sentiment_project(owner, documents=20)
    base = f"/api/v1/projects/{project['id']}/model"
    label(owner, project, (0, 8, 1, 9))
    train(owner, project)
    texts = ["a wonderful joy", "awful and dull", "great fun"] * 100
    r = owner.post(f"{base}/predictions", json={"texts": texts})
    assert r.status_code == 202, r.get_json()
    job_id = r.get_json()["id"]
    job = wait_until(lambda: (j := owner.get(f"/api/v1/projects/{project['id']}/jobs/{job_id}").get_json())
                     ["state"] == "finished" and j, what="batch prediction")
    assert job["result"]["count"] == 300
    download = owner.get(job["result"]["download"])
    rows = [json.loads(line) for line in download.get_data(as_text=True).splitlines()]
    assert [r["index"] for r in rows] == list(range(300))
    assert [r["annotations"][0]["label"] for r in rows[:3]] == ["pos", "neg", "pos"]
    by_id = owner.post(f"{base}/predictions", json={"document_ids": project["documents"][10:13]})
    job_id = by_id.get_json()["id"]
    wait_until(lambda: owner.get(f"/api/v1/projects/{project['id']}/jobs/{job_id}").get_json()["state"] == "finished",
               what="prediction by document id")
    rows = owner.get(f"{base}/predictions/{job_id}").get_data(as_text=True).splitlines()
    assert [json.loads(r)["document_id"] for r in rows] == project["documents"][10:13]
    assert owner.post(f"{base}/predictions", json={"texts": []}).status_code == 422


def test_an_extracted_archive_predicts_the_same_in_a_fresh_process(make_caller, tmp_path):
    owner = make_caller("owner")
    project = sentiment_project(owner, documents=24)
    base = f"/api/v1/projects/{project['id']}/model"
    label(owner, project, range(0, 16))
    version_id = train(owner, project)["model_version_id"]
    texts = ["a great and moving story", "boring and awful", "i loved the acting"]
    served = owner.post(f"{base}/predict", json={"texts": texts}).get_json()["predictions"]
    archive = owner.get(f"{base}/versions/{version_id}/archive")
    assert archive.status_code == 200 and archive.mimetype == "application/zip"
    names = set(zipfile.ZipFile(io.BytesIO(archive.data)).namelist())
    assert {"leanlife-model.json", "labels.json", "config.json", "MODEL_CARD.md",
            "model/weights.npz", "model/vocabulary.json"} <= names
    card = zipfile.ZipFile(io.BytesIO(archive.data)).read("MODEL_CARD.md").decode()
    assert "labeled: 16" in card and "f1" in card
    path = tmp_path / "model.zip"
    path.write_bytes(archive.data)
    # The toy models are no installed plugin, so the script names their definitions.
    script = ("import json, sys\nfrom leanlife_server.extract import load\n"
              "from tests.test_jobs_toy_models import leanlife_models\n"
              "model = load(sys.argv[1], models=leanlife_models())\n"
              "print(json.dumps([[[a.label, a.confidence] for a in p.annotations]\n"
              "                  for p in model.predict(json.loads(sys.argv[2]))]))\n"
              "assert 'flask' not in sys.modules, 'loading a model must not need the server'\n")
    fresh = subprocess.run([sys.executable, "-c", script, str(path), json.dumps(texts)], cwd=REPO,
                           capture_output=True, text=True, timeout=60)
    assert fresh.returncode == 0, fresh.stderr
    assert json.loads(fresh.stdout) == [[[a["label"], a["confidence"]] for a in p["annotations"]]
                                        for p in served]
