"""The batch prediction job: the active model over chosen documents or uploaded texts,
written as JSON lines (one prediction a line) into a scratch file, then into the artifact
store for download (the worker that ran it may be on another machine)."""

from __future__ import annotations

import json
import shutil
from typing import Iterator, Sequence

from flask import current_app

from leanlife_server.db import db
from leanlife_server.db.models import Document, Job, ModelVersion, Project
from leanlife_server.db.staging import published
from leanlife_server.jobs import set_progress
from leanlife_server.pipeline.dataset import examples_for
from leanlife_server.pipeline.device import resolve_device
from leanlife_server.pipeline.model_store import load_version
from leanlife_server.pipeline.predictions import check_predictions, prediction_json
from leanlife_server.plugin_api import Example
from leanlife_server.storage import scratch_dir, store

TARGET = "leanlife_server.pipeline.batch_predict:run"
KIND = "predict"
CHUNK = 256


def results_key(job_id: int) -> str:
    return f"results/predict-{job_id}.jsonl"


def _examples(job: Job, input_kinds: Sequence[str]) -> Iterator[list[Example]]:
    texts = job.params.get("texts")
    if texts is not None:
        for i in range(0, len(texts), CHUNK):
            yield [Example(None, text) for text in texts[i:i + CHUNK]]
        return
    ids = job.params["document_ids"]
    for i in range(0, len(ids), CHUNK):
        rows = db.session.execute(db.select(Document.id, Document.text).where(
            Document.project_id == job.project_id, Document.id.in_(ids[i:i + CHUNK]),
            published(Document.import_id))
            .order_by(Document.id)).all()
        yield examples_for(rows, input_kinds)


def run(job_id: int) -> None:
    job = db.session.get(Job, job_id)
    version = db.session.get(ModelVersion, job.params["model_version_id"])
    if version is None:  # deleted by the project's retention while the job waited
        raise ValueError(f"model version {job.params['model_version_id']} was deleted (the project keeps "
                         f"only its newest versions) before this job ran; start the prediction again")
    loaded = load_version(version, resolve_device(job.device))
    project = db.session.get(Project, job.project_id)
    input_kinds = current_app.extensions["leanlife"].tasks.get(project.task).input_kinds
    total = len(job.params.get("texts") or job.params.get("document_ids") or [])
    work = scratch_dir()
    done = 0
    try:
        with (work / "predictions.jsonl").open("w") as out:
            for chunk in _examples(job, input_kinds):
                predictions = loaded.model.predict(chunk)
                check_predictions(version.model, chunk, predictions, loaded.labels)
                for index, prediction in enumerate(predictions, start=done):
                    out.write(json.dumps({"index": index, **prediction_json(prediction)}) + "\n")
                done += len(chunk)
                set_progress(job_id, done / max(total, 1), predicted=done)
        store().put_file(results_key(job_id), work / "predictions.jsonl")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    set_progress(job_id, 1.0, predicted=done, count=done,
                 download=f"/api/v1/projects/{job.project_id}/model/predictions/{job_id}")
