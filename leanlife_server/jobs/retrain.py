"""The retraining job: dataset -> train -> evaluate -> store a version -> recommendations
and queue scores for every unlabeled document (copies of one text demoted) -> activate ->
tell everyone."""

from __future__ import annotations

import time
from typing import Any, Hashable, Mapping, Sequence

from flask import current_app

from leanlife_server import realtime
from leanlife_server.active.duplicates import duplicate_key
from leanlife_server.active.queue import push_queues
from leanlife_server.active.scoring import strategy_for
from leanlife_server.db import db
from leanlife_server.db.models import Job, Project
from leanlife_server.jobs import set_progress
from leanlife_server.jobs.dataset import build_dataset, split_heldout, unlabeled_chunks
from leanlife_server.jobs.device import resolve_device
from leanlife_server.jobs.model_store import activate, store_version, version_json
from leanlife_server.jobs.predictions import check_predictions, demote_duplicate_scores, store_recommendations
from leanlife_server.plugin_api import DocumentPrediction, Example, Model, TaskDefinition, load_object

TARGET = "leanlife_server.jobs.retrain:run"
KIND = "train"
# Share of the job's progress bar that training takes; predicting the rest.
TRAIN_SHARE = 0.8
PROGRESS_EVERY_SECONDS = 0.25


class ProgressReporter:
    """The model's progress callback: stores and emits at most every 0.25 s (and at the end)."""

    def __init__(self, job_id: int, low: float, high: float):
        self.job_id, self.low, self.high = job_id, low, high
        self.last = 0.0

    def __call__(self, fraction: float, details: Mapping[str, Any]) -> None:
        now = time.monotonic()
        if fraction < 1.0 and now - self.last < PROGRESS_EVERY_SECONDS:
            return
        self.last = now
        set_progress(self.job_id, self.low + (self.high - self.low) * fraction,
                     stage="training", details=dict(details))


def _span_key(annotation) -> tuple:
    return annotation.kind, annotation.label, annotation.start, annotation.end


def micro_f1(gold: Sequence[Example], predicted: Sequence[DocumentPrediction]) -> dict[str, float]:
    """Exact-match micro P/R/F1 over (kind, label, start, end): for tasks without ``evaluate``."""
    true_positive = gold_count = predicted_count = 0
    for example, prediction in zip(gold, predicted):
        expected = {_span_key(a) for a in example.annotations}
        found = {_span_key(a) for a in prediction.annotations}
        true_positive += len(expected & found)
        gold_count += len(expected)
        predicted_count += len(found)
    precision = true_positive / predicted_count if predicted_count else 0.0
    recall = true_positive / gold_count if gold_count else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def evaluate(task: TaskDefinition, model: Model, model_name: str, labels: Mapping[str, str],
             heldout: Sequence[Example]) -> dict[str, float]:
    if not heldout:
        return {}
    inputs = [Example(e.document_id, e.text, tuple(a for a in e.annotations if a.kind in task.input_kinds))
              for e in heldout]
    predictions = model.predict(inputs)
    check_predictions(model_name, heldout, predictions, labels)
    return dict((task.evaluate or micro_f1)(heldout, predictions))


def _predict_unlabeled(job: Job, project: Project, task: TaskDefinition, model: Model, version_id: int,
                       labels: Mapping[str, str], total: int) -> dict[int, Hashable]:
    """Recommendations and queue scores for every unlabeled document; returns each scored
    document's ``duplicate_key``, for demoting copies once all are scored."""
    scorer = strategy_for(project)
    done = 0
    keys: dict[int, Hashable] = {}
    for chunk in unlabeled_chunks(project.id, task.input_kinds):
        keys.update((e.document_id, duplicate_key(e, task.input_kinds)) for e in chunk)
        predictions = model.predict(chunk)
        check_predictions(project.model, chunk, predictions, labels)
        documents = store_recommendations(version_id, predictions, scorer)
        realtime.emit("recommendations", {"project_id": project.id, "model_version_id": version_id,
                                          "documents": documents}, realtime.project_room(project.id))
        done += len(chunk)
        set_progress(job.id, TRAIN_SHARE + (1 - TRAIN_SHARE) * done / max(total, 1),
                     stage="predicting", predicted=done)
    return keys


def run(job_id: int) -> None:
    job = db.session.get(Job, job_id)
    project = db.session.get(Project, job.project_id)
    plugins = current_app.extensions["leanlife"]
    definition = plugins.models.get(project.model) if project.model else None
    if definition is None:
        raise ValueError(f"project {project.id} has no model (or model {project.model!r} is not "
                         f"installed); set one with PATCH .../settings {{\"model\": ...}}")
    task = plugins.tasks.get(project.task)
    data = build_dataset(project, task.input_kinds)
    if not data.labeled:
        raise ValueError("there are no labeled documents to train on yet")
    split = split_heldout(data)
    counts = {"labeled": len(data.labeled), "train": len(split.train.labeled),
              "heldout": len(split.heldout), "unlabeled": len(data.unlabeled),
              "annotations": sum(len(e.annotations) for e in data.labeled)}
    device = resolve_device(job.device or project.device)
    config = {**definition.default_config, **project.model_config}
    db.session.commit()  # no transaction stays open while the model trains
    set_progress(job_id, 0.0, stage="training", device=device, data_counts=counts)
    model = load_object(definition.factory)(config, dict(data.labels), device)
    train_metrics = model.train(split.train, ProgressReporter(job_id, 0.0, TRAIN_SHARE))
    metrics = {"train": dict(train_metrics or {}),
               "heldout": evaluate(task, model, definition.name, data.labels, split.heldout)}
    version = store_version(project, definition.name, model, config, data.labels, metrics, counts)
    keys = _predict_unlabeled(job, project, task, model, version.id, data.labels, len(data.unlabeled))
    demote_duplicate_scores(version.id, keys, [duplicate_key(e, task.input_kinds) for e in data.labeled])
    version = activate(project.id, version.id)
    job = db.session.get(Job, job_id)
    job.model_version_id = version.id
    job.result = {**job.result, "stage": "done", "model_version_id": version.id, "metrics": metrics}
    db.session.commit()
    realtime.emit("model", {"project_id": project.id, "version": version_json(version)},
                  realtime.project_room(project.id))
    push_queues(project)
    plugins.manager.hook.leanlife_model_trained(
        project={"id": project.id, "task": project.task}, version=version_json(version))
