"""Imports and exports through the REST API: uploads become jobs with progress, finished
exports download as a stream, errors name the file, line and field."""

from __future__ import annotations

import io
import json
import time

from tests.conftest import create_project


def wait_for(caller, project_id: int, job: dict, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while job["state"] in ("queued", "running"):
        assert time.monotonic() < deadline, f"job {job['id']} still {job['state']}"
        time.sleep(0.05)
        job = caller.get(f"/api/v1/projects/{project_id}/jobs/{job['id']}").get_json()
    return job


def upload(caller, project_id: int, name: str, text: str, **form):
    return caller.post(f"/api/v1/projects/{project_id}/imports",
                       data={"file": (io.BytesIO(text.encode()), name), **form},
                       content_type="multipart/form-data")


JSONL = "".join(json.dumps(r) + "\n" for r in [
    {"text": "Great film", "label": "pos", "explanation": "The word great"},
    {"text": "Dull film", "label": "neg", "annotator": "owner"}])


def test_upload_imports_in_a_job_and_export_downloads(make_caller):
    owner = make_caller("owner")
    project = create_project(owner, "sa", "natural_language")
    pid = project["id"]
    response = upload(owner, pid, "reviews.jsonl", JSONL)
    assert response.status_code == 202, response.get_json()
    job = wait_for(owner, pid, response.get_json())
    assert job["state"] == "finished", job
    assert (job["kind"], job["progress"]) == ("import", 1.0)
    assert {k: job["result"][k] for k in ("format", "documents", "annotations", "labels_created")} == \
        {"format": "jsonl", "documents": 2, "annotations": 2, "labels_created": ["pos", "neg"]}
    documents = owner.get(f"/api/v1/projects/{pid}/documents").get_json()["items"]
    assert [d["text"] for d in documents] == ["Great film", "Dull film"]

    response = owner.post(f"/api/v1/projects/{pid}/exports", json={"format": "csv"})
    assert response.status_code == 202, response.get_json()
    job = wait_for(owner, pid, response.get_json())
    assert job["state"] == "finished", job
    download = owner.get(f"/api/v1/projects/{pid}/exports/{job['id']}/file")
    assert download.status_code == 200
    assert download.mimetype == "text/csv"
    assert download.get_data(as_text=True).splitlines() == [
        "document,text,label,explanation,annotator", "1,Great film,pos,The word great,", "2,Dull film,neg,,owner"]

    mine = owner.post(f"/api/v1/projects/{pid}/exports", json={"format": "jsonl", "annotator": owner.user_id})
    job = wait_for(owner, pid, mine.get_json())
    lines = owner.get(f"/api/v1/projects/{pid}/exports/{job['id']}/file").get_data(as_text=True).splitlines()
    assert [len(json.loads(line)["annotations"]) for line in lines] == [0, 1]


def test_a_bad_upload_fails_its_job_naming_file_line_and_field_and_writes_nothing(make_caller):
    owner = make_caller("owner")
    pid = create_project(owner, "ner")["id"]
    bad = '{"text": "Ann", "annotations": [{"label": "PER", "start": 0, "end": 3}]}\n{"text": ""}\n'
    job = wait_for(owner, pid, upload(owner, pid, "people.jsonl", bad).get_json())
    assert job["state"] == "failed"
    assert "people.jsonl, line 2: text: must be a non-empty string" in job["error"]
    assert owner.get(f"/api/v1/projects/{pid}/documents").get_json()["items"] == []
    assert owner.get(f"/api/v1/projects/{pid}/labels").get_json()["items"] == []


def test_requests_are_checked_before_a_job_starts(make_caller):
    owner, annotator = make_caller("owner"), make_caller("annie")
    pid = create_project(owner, "ner")["id"]
    assert owner.post(f"/api/v1/projects/{pid}/members",
                      json={"username": "annie", "role": "annotator"}).status_code in (200, 201)
    assert upload(annotator, pid, "a.txt", "text\n").status_code == 403
    r = upload(owner, pid, "a.txt", "text\n", format="semeval2010")
    assert (r.status_code, r.get_json()["error"]["details"]["field"]) == (422, "format")
    r = upload(owner, pid, "a.txt", "text\n", duplicates="maybe")
    assert (r.status_code, r.get_json()["error"]["details"]["field"]) == (422, "duplicates")
    r = owner.post(f"/api/v1/projects/{pid}/imports", data={}, content_type="multipart/form-data")
    assert (r.status_code, r.get_json()["error"]["details"]["field"]) == (422, "file")
    r = annotator.post(f"/api/v1/projects/{pid}/exports", json={"format": "conll", "annotator": owner.user_id})
    assert r.status_code == 403
    job = wait_for(owner, pid, owner.post(f"/api/v1/projects/{pid}/exports", json={"format": "conll"}).get_json())
    assert annotator.get(f"/api/v1/projects/{pid}/exports/{job['id']}/file").status_code == 404


def test_a_relation_project_is_made_from_an_ner_project(make_caller):
    owner = make_caller("owner")
    ner = create_project(owner, "ner", "trigger")["id"]
    data = json.dumps({"text": "Ann founded Acme", "annotations": [
        {"label": "PER", "start": 0, "end": 3, "explanations": [{"kind": "trigger", "spans": [[4, 11]]}]},
        {"label": "ORG", "start": 12, "end": 16}]}) + "\n"
    assert wait_for(owner, ner, upload(owner, ner, "a.jsonl", data).get_json())["state"] == "finished"
    response = owner.post(f"/api/v1/projects/{ner}/relation-project", json={"name": "Founders"})
    assert response.status_code == 202, response.get_json()
    job = wait_for(owner, ner, response.get_json())
    assert job["state"] == "finished", job
    created = owner.get(f"/api/v1/projects/{job['result']['project_id']}").get_json()
    assert (created["name"], created["task"], created["role"]) == ("Founders", "re", "owner")
    documents = owner.get(f"/api/v1/projects/{created['id']}/documents").get_json()["items"]
    detail = owner.get(f"/api/v1/projects/{created['id']}/documents/{documents[0]['id']}?annotator=all").get_json()
    assert [(a["label"], a["start"], a["end"], a["explanations"]) for a in detail["annotations"]] == \
        [("PER", 0, 3, []), ("ORG", 12, 16, [])]


def test_a_derived_project_is_made_for_a_task_that_derives_from_the_projects_task(make_caller):
    owner = make_caller("owner")
    ner = create_project(owner, "ner", "trigger")["id"]
    data = json.dumps({"text": "Ann founded Acme", "annotations": [
        {"label": "PER", "start": 0, "end": 3, "explanations": [{"kind": "trigger", "spans": [[4, 11]]}]}]}) + "\n"
    assert wait_for(owner, ner, upload(owner, ner, "a.jsonl", data).get_json())["state"] == "finished"
    response = owner.post(f"/api/v1/projects/{ner}/derived-project", json={"task": "re", "name": " Founders "})
    assert response.status_code == 202, response.get_json()
    job = wait_for(owner, ner, response.get_json())
    assert job["state"] == "finished", job
    created = owner.get(f"/api/v1/projects/{job['result']['project_id']}").get_json()
    assert (created["name"], created["task"], created["explanation_kind"], created["role"]) == \
        ("Founders", "re", "natural_language", "owner")
    documents = owner.get(f"/api/v1/projects/{created['id']}/documents").get_json()["items"]
    detail = owner.get(f"/api/v1/projects/{created['id']}/documents/{documents[0]['id']}?annotator=all").get_json()
    assert [(a["label"], a["start"], a["end"], a["explanations"]) for a in detail["annotations"]] == \
        [("PER", 0, 3, [])]


def test_a_derived_project_needs_a_task_made_from_the_projects_task(make_caller):
    owner = make_caller("owner")
    ner, sa = create_project(owner, "ner")["id"], create_project(owner, "sa")["id"]
    for pid, body in ((ner, {"task": "pos-tagging", "name": "x"}),  # no such task
                      (ner, {"task": "sa", "name": "x"}),  # installed, made from no other task
                      (sa, {"task": "re", "name": "x"}),  # made from NER projects, not SA ones
                      (ner, {"name": "x"})):
        r = owner.post(f"/api/v1/projects/{pid}/derived-project", json=body)
        assert (r.status_code, r.get_json()["error"]["details"]["field"]) == (422, "task"), \
            (body, r.get_json())
    r = owner.post(f"/api/v1/projects/{sa}/relation-project", json={"name": "x"})
    assert (r.status_code, r.get_json()["error"]["details"]["field"]) == (422, "project")
    assert "derived-project" in r.get_json()["error"]["message"]

def test_cli_import_and_export(app, make_caller, tmp_path):
    from click.testing import CliRunner

    from leanlife_server.cli import main

    owner = make_caller("owner")
    pid = create_project(owner, "ner")["id"]
    source = tmp_path / "people.conll"
    source.write_text("Ann B-PER\nsaid O\n\nBob B-PER\n", encoding="utf-8")
    env = {"LEANLIFE_DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
           "LEANLIFE_DATA_DIR": str(tmp_path / "data"), "LEANLIFE_SECRET_KEY": "test"}
    runner = CliRunner()
    result = runner.invoke(main, ["import", str(pid), str(source)], env=env)
    assert result.exit_code == 0, result.output
    assert "imported 2 documents, 2 annotations, 0 explanations (conll)" in result.output
    result = runner.invoke(main, ["export", "ner project", "--format", "conll", "-o", str(tmp_path / "out.conll")], env=env)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out.conll").read_text(encoding="utf-8") == "Ann B-PER\nsaid O\n\nBob B-PER\n\n"
    bad = tmp_path / "bad.conll"
    bad.write_text("Ann B-PER\nsaid\n", encoding="utf-8")
    result = runner.invoke(main, ["import", str(pid), str(bad), "--format", "conll"], env=env)
    assert result.exit_code == 1
    assert "nothing was imported: bad.conll, line 2: tag: needs a token and a tag" in result.output
