"""The retraining loop with in-process jobs (the embedded default): policy, deduplication,
back-pressure, atomic versions, recommendations and scores, heartbeats."""

from __future__ import annotations

from datetime import timedelta

import pluggy
import pytest

from leanlife_server.db import db
from leanlife_server.db.models import Job, ModelVersion, Recommendation, UncertaintyScore, utcnow
from tests import test_jobs_toy_models
from tests.test_jobs_support import gold_label, sentiment_project, wait_until

hookimpl = pluggy.HookimplMarker("leanlife")


class TrainedHook:
    def __init__(self):
        self.calls = []

    @hookimpl
    def leanlife_model_trained(self, project, version):
        self.calls.append((project, version))


@pytest.fixture
def hook():
    return TrainedHook()


@pytest.fixture
def app(make_app, hook):
    return make_app(extra_plugins=[test_jobs_toy_models, hook])


def annotate(caller, project, document_id):
    text = caller.get(f"/api/v1/projects/{project['id']}/documents/{document_id}").get_json()["text"]
    r = caller.post(f"/api/v1/projects/{project['id']}/documents/{document_id}/annotations",
                    json={"label": gold_label(text)})
    assert r.status_code == 201, r.get_json()


def jobs_of(app, project_id):
    with app.app_context():
        return [(j.id, j.state, j.error) for j in db.session.scalars(
            db.select(Job).where(Job.project_id == project_id, Job.kind == "train").order_by(Job.id))]


def settled(app, project_id):
    jobs = jobs_of(app, project_id)
    return jobs if jobs and all(state in ("finished", "failed") for _, state, _ in jobs) else None


def test_policy_every_n_trains_scores_and_calls_the_hook(app, hook, make_caller):
    owner = make_caller("owner")
    project = sentiment_project(owner, documents=30, policy={"mode": "every_n", "n": 6})
    # Documents 0-7 hold positive reviews and 8-15 negative ones: label three of each.
    labeled = [project["documents"][i] for i in (0, 8, 1, 9, 2, 10)]
    for document_id in labeled[:5]:
        annotate(owner, project, document_id)
    assert jobs_of(app, project["id"]) == []
    annotate(owner, project, labeled[5])
    [(job_id, state, error)] = wait_until(lambda: settled(app, project["id"]), what="training")
    assert state == "finished", error
    job = owner.get(f"/api/v1/projects/{project['id']}/jobs/{job_id}").get_json()
    version_id = job["result"]["model_version_id"]
    with app.app_context():
        version = db.session.get(ModelVersion, version_id)
        assert version.is_active
        assert version.data_counts["labeled"] == 6 and version.data_counts["unlabeled"] == 24
        scored = db.session.scalar(db.select(db.func.count(UncertaintyScore.id))
                                   .where(UncertaintyScore.model_version_id == version_id))
        recommended = db.session.scalars(db.select(Recommendation).where(
            Recommendation.model_version_id == version_id)).all()
    assert scored == 24 and len(recommended) == 24
    texts = {d: owner.get(f"/api/v1/projects/{project['id']}/documents/{d}").get_json()["text"]
             for d in project["documents"] if d not in labeled}
    correct = sum(r.payload["label"] == gold_label(texts[r.document_id]) for r in recommended)
    assert correct >= 18, f"the model got {correct}/24 right"
    assert [(p["id"], v["id"]) for p, v in hook.calls] == [(project["id"], version_id)]


def test_manual_training_answers_429_while_a_job_waits(app, make_caller):
    owner = make_caller("owner")
    project = sentiment_project(owner, documents=12, config={"epochs": 4, "seconds_per_epoch": 0.25})
    for document_id in project["documents"][:4]:
        annotate(owner, project, document_id)
    assert jobs_of(app, project["id"]) == [], "the manual policy never trains by itself"
    train = f"/api/v1/projects/{project['id']}/model/train"
    first = owner.post(train)
    assert first.status_code == 202, first.get_json()
    wait_until(lambda: jobs_of(app, project["id"])[0][1] == "running", what="the first job to run")
    second = owner.post(train)
    assert second.status_code == 202
    third = owner.post(train)
    assert third.status_code == 429
    assert third.get_json()["error"]["details"]["job_id"] == second.get_json()["id"]
    jobs = wait_until(lambda: settled(app, project["id"]), what="both jobs")
    assert [state for _, state, _ in jobs] == ["finished", "finished"]


def test_annotations_during_a_run_cause_exactly_one_follow_up(app, make_caller):
    owner = make_caller("owner")
    project = sentiment_project(owner, documents=20, policy={"mode": "every_n", "n": 1},
                                config={"epochs": 4, "seconds_per_epoch": 0.25})
    annotate(owner, project, project["documents"][0])
    wait_until(lambda: jobs_of(app, project["id"])[0][1] == "running", what="the first run")
    for document_id in project["documents"][1:6]:
        annotate(owner, project, document_id)
    states = [state for _, state, _ in jobs_of(app, project["id"])]
    assert states == ["running", "queued"]
    jobs = wait_until(lambda: settled(app, project["id"]), what="the follow-up")
    assert [state for _, state, _ in jobs] == ["finished", "finished"]
    with app.app_context():
        latest = db.session.scalars(db.select(ModelVersion).order_by(ModelVersion.id.desc())).first()
        assert latest.is_active and latest.data_counts["labeled"] == 6, "the follow-up saw every annotation"


def test_a_crash_while_saving_keeps_the_previous_version(app, make_caller, tmp_path):
    owner = make_caller("owner")
    project = sentiment_project(owner, documents=10)
    for document_id in project["documents"][:4]:
        annotate(owner, project, document_id)
    assert owner.post(f"/api/v1/projects/{project['id']}/model/train").status_code == 202
    wait_until(lambda: settled(app, project["id"]), what="the first version")
    owner.patch(f"/api/v1/projects/{project['id']}/settings", json={"model_config": {"crash_in_save": True}})
    assert owner.post(f"/api/v1/projects/{project['id']}/model/train").status_code == 202
    jobs = wait_until(lambda: len(jobs_of(app, project["id"])) == 2 and settled(app, project["id"]),
                      what="the crashing job")
    assert jobs[1][1] == "failed" and "No space left on device" in jobs[1][2]
    versions = owner.get(f"/api/v1/projects/{project['id']}/model/versions").get_json()["items"]
    assert len(versions) == 1 and versions[0]["is_active"]
    with app.app_context():
        kept = db.session.get(ModelVersion, versions[0]["id"]).artifact_path
    data = tmp_path / "data"
    models_dir = data / "models" / f"project-{project['id']}"
    assert [p.relative_to(data).as_posix() for p in models_dir.iterdir()] == [kept]
    assert list((data / "tmp").iterdir()) == [], "the failed version's scratch folder is gone"


def test_a_job_whose_heartbeat_stopped_reads_as_failed_and_frees_the_project(app, make_caller):
    app.config["LEANLIFE"].job_heartbeat_timeout = 2
    owner = make_caller("owner")
    project = sentiment_project(owner, documents=6, policy={"mode": "every_n", "n": 1})
    with app.app_context():
        # What a worker that died mid-run leaves behind: a running row nobody updates.
        orphan = Job(project_id=project["id"], kind="train", params={}, state="running", result={},
                     started_at=utcnow() - timedelta(seconds=10), heartbeat_at=utcnow() - timedelta(seconds=10))
        db.session.add(orphan)
        db.session.commit()
        orphan_id = orphan.id
    job = owner.get(f"/api/v1/projects/{project['id']}/jobs/{orphan_id}").get_json()
    assert job["state"] == "failed" and "heartbeat" in job["error"]
    annotate(owner, project, project["documents"][0])
    jobs = wait_until(lambda: len(jobs_of(app, project["id"])) == 2 and settled(app, project["id"]),
                      what="the next trigger's run")
    assert jobs[1][1] == "finished", jobs
