"""The retraining job: dataset -> for each recommender: train -> evaluate -> store a version
-> recommendations and queue scores for every unlabeled document (copies of one text
demoted) -> activate -> tell everyone: ``RecommendationsMade``, ``ModelTrained`` and
``TrainingFinished`` events through the plugin manager, whose built-in reactions push them
and rank the queues again. A training job trains every recommender of the
project; a cheap job, queued after every saved annotation, only the cheap ones
(``pipeline/recommenders.py``). Only a version that will serve pushes its recommendations."""

from __future__ import annotations

import time
from typing import Any, Hashable, Mapping, Sequence

from flask import current_app

from leanlife_server.db import db
from leanlife_server.db.models import Job, ModelVersion, Project
from leanlife_server.events import ModelTrained, RecommendationsMade, TrainingFinished, project_of
from leanlife_server.jobs import set_progress
from leanlife_server.pipeline.dataset import Split, build_dataset, split_heldout, unlabeled_chunks
from leanlife_server.pipeline.device import resolve_device
from leanlife_server.pipeline.duplicates import duplicate_key
from leanlife_server.pipeline.model_store import activate, prune_versions, store_version, version_json
from leanlife_server.pipeline.predictions import check_predictions, demote_duplicate_scores, store_recommendations
from leanlife_server.pipeline.recommenders import cheap_recommenders, is_cheap, learned_recommenders, serving_version
from leanlife_server.pipeline.scoring import strategy_for
from leanlife_server.plugin_api import (
    Dataset,
    DocumentPrediction,
    Example,
    Model,
    ModelDefinition,
    TaskDefinition,
    load_object,
)

TARGET = "leanlife_server.pipeline.retrain:run"
KIND = "train"
# Jobs that retrain only the cheap recommenders, after every saved annotation.
CHEAP_KIND = "train_cheap"
# A cheap model makes a version on every save: older ones are deleted, these newest kept.
CHEAP_VERSIONS_KEPT = 2
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


def _predict_unlabeled(job: Job, project: Project, task: TaskDefinition, model: Model, model_name: str,
                       version_id: int, labels: Mapping[str, str], total: int, push: bool,
                       progress: tuple[float, float]) -> dict[int, Hashable]:
    """Recommendations and queue scores for every unlabeled document, pushed to the project's
    room when ``push`` (the version will serve); returns each scored document's
    ``duplicate_key``, for demoting copies once all are scored."""
    scorer = strategy_for(project, cheap=is_cheap(model_name))
    plugins = current_app.extensions["leanlife"]
    low, high = progress
    done = 0
    keys: dict[int, Hashable] = {}
    for chunk in unlabeled_chunks(project.id, task.input_kinds):
        keys.update((e.document_id, duplicate_key(e, task.input_kinds)) for e in chunk)
        predictions = model.predict(chunk)
        check_predictions(model_name, chunk, predictions, labels)
        documents = store_recommendations(version_id, predictions, scorer)
        if push:
            plugins.notify(RecommendationsMade(project=project_of(project), model_version_id=version_id,
                                               model=model_name, documents=documents))
        done += len(chunk)
        set_progress(job.id, low + (high - low) * done / max(total, 1), stage="predicting",
                     predicted=done, model=model_name)
    return keys


def models_to_train(job: Job, project: Project) -> list[str]:
    """A cheap job trains the cheap recommenders; a training job every recommender (the
    cheap ones first: they take milliseconds)."""
    cheap = cheap_recommenders(project)
    if job.kind == CHEAP_KIND:
        return cheap
    return cheap + learned_recommenders(project)


def _train_one(job: Job, project: Project, task: TaskDefinition, definition: ModelDefinition,
               data: Dataset, split: Split, counts: Mapping[str, Any], device: str,
               progress: tuple[float, float]) -> ModelVersion:
    """Train, evaluate, store, predict and activate one model; returns its new version."""
    low, high = progress
    middle = low + (high - low) * TRAIN_SHARE
    config = {**definition.default_config, **(project.model_config if definition.name == project.model else {})}
    db.session.commit()  # no transaction stays open while the model trains
    set_progress(job.id, low, stage="training", device=device, data_counts=dict(counts), model=definition.name)
    model = load_object(definition.factory)(config, dict(data.labels), device)
    train_metrics = model.train(split.train, ProgressReporter(job.id, low, middle))
    metrics = {"train": dict(train_metrics or {}),
               "heldout": evaluate(task, model, definition.name, data.labels, split.heldout)}
    if definition.cheap and split.heldout:
        # Scored on the held-out share, then refit on every labeled document (milliseconds),
        # so a cheap model suggests what any annotation taught it, held out or not.
        model = load_object(definition.factory)(config, dict(data.labels), device)
        model.train(data, ProgressReporter(job.id, low, middle))
    version = store_version(project, definition.name, model, config, data.labels, metrics, counts)
    project = db.session.get(Project, project.id)
    push = serving_version(project, candidate=version).id == version.id
    keys = _predict_unlabeled(job, project, task, model, definition.name, version.id, data.labels,
                              len(data.unlabeled), push, (middle, high))
    demote_duplicate_scores(version.id, keys, [duplicate_key(e, task.input_kinds) for e in data.labeled])
    version = activate(project.id, version.id)
    keep = CHEAP_VERSIONS_KEPT if definition.cheap else db.session.get(Project, project.id).versions_kept
    prune_versions(project.id, definition.name, keep)
    return version


def run(job_id: int) -> None:
    job = db.session.get(Job, job_id)
    project = db.session.get(Project, job.project_id)
    plugins = current_app.extensions["leanlife"]
    names = models_to_train(job, project)
    definitions = [plugins.models.get(name) for name in names]
    if not names and job.kind == CHEAP_KIND:  # the cheap models left the list since it was queued
        return
    if not names:
        raise ValueError(f"project {project.id} has no model to train; set one with "
                         f"PATCH .../settings {{\"model\": ...}}")
    for name, definition in zip(names, definitions):
        if definition is None:
            raise ValueError(f"model {name!r} of project {project.id} is not installed; install its "
                             f"plugin, or choose others with PATCH .../settings "
                             f"{{\"model\": ...}} or {{\"recommenders\": [...]}}")
    task = plugins.tasks.get(project.task)
    data = build_dataset(project, task.input_kinds)
    if not data.labeled and job.kind != CHEAP_KIND:  # a cheap model may learn to suggest nothing
        raise ValueError("there are no labeled documents to train on yet")
    split = split_heldout(data)
    counts = {"labeled": len(data.labeled), "train": len(split.train.labeled),
              "heldout": len(split.heldout), "unlabeled": len(data.unlabeled),
              "annotations": sum(len(e.annotations) for e in data.labeled)}
    device = resolve_device(job.device or project.device)
    versions = []
    for i, definition in enumerate(definitions):
        share = (i / len(definitions), (i + 1) / len(definitions))
        versions.append(_train_one(job, project, task, definition, data, split, counts, device, share))
    # The job's version: the project's model's, else the last one trained.
    main = next((v for v in versions if v.model == project.model), versions[-1])
    job = db.session.get(Job, job_id)
    job.model_version_id = main.id
    job.result = {**job.result, "stage": "done", "model_version_id": main.id,
                  "model_version_number": main.number, "metrics": main.metrics,
                  "versions": {v.model: v.id for v in versions}}
    db.session.commit()
    project = db.session.get(Project, project.id)
    serving = serving_version(project)
    for version in versions:
        plugins.notify(ModelTrained(project=project_of(project), version=version_json(version),
                                    serving_version_id=serving.id if serving else None))
    plugins.notify(TrainingFinished(project=project_of(project), job_id=job_id,
                                    model_version_ids=[v.id for v in versions]))
