"""The project's model: train now, versions with metrics, activate or roll back, predict
online or in a batch job, and extract a version as a self-contained archive."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, send_file

from leanlife_server import extract
from leanlife_server.api.access import project_access
from leanlife_server.api.documents import get_document, require_documents
from leanlife_server.api.payload import json_body
from leanlife_server.api.prediction_inputs import ENTITIES, online_examples
from leanlife_server.api.projects import DEVICE
from leanlife_server.api.serialize import JOB, MODEL_VERSION, PREDICTION
from leanlife_server.api.shapes import (Answer, Body, Either, Field, always, items_of, maybe_null,
                                        operation, row_id)
from leanlife_server.db import db
from leanlife_server.db.lookup import get_in_project
from leanlife_server.db.models import Job, ModelVersion, Project, Recommendation
from leanlife_server.errors import ApiError, invalid, not_found
from leanlife_server.jobs import ACTIVE_STATES, QUEUED, TrainingUnavailable, create_job, job_json, reap, runner, submit
from leanlife_server.jobs.lanes import MODEL
from leanlife_server.pipeline import batch_predict, retrain
from leanlife_server.pipeline.model_store import (
    activate,
    active_version,
    installed_model,
    loaded_models,
    version_directory,
    version_json,
)
from leanlife_server.pipeline.policy import TrainingQueued, request_training
from leanlife_server.pipeline.predictions import prediction_json, with_entity_spans
from leanlife_server.pipeline.recommenders import active_versions, heldout_score, is_cheap, recommenders
from leanlife_server.storage import MissingArtifact, send_stored

bp = Blueprint("models_api", __name__, url_prefix="/api/v1/projects/<int:project_id>/model")

MAX_ONLINE_TEXTS = 64
MAX_BATCH_ITEMS = 100_000

TRAIN_REQUEST = Body({"device": DEVICE}, description="Optional; device: this run only.")
_ONLINE_HINT = f"send 1 to {MAX_ONLINE_TEXTS} non-empty strings; use POST .../model/predictions for more"
ONLINE_REQUEST = Either("texts", Body({
    "texts": Field(list, required=True, min_length=1, max_length=MAX_ONLINE_TEXTS, hint=_ONLINE_HINT,
                   items=Field(str, min_length=1, hint="must be a non-empty string")),
}), Body({"text": Field(str, required=True, min_length=1, hint="must be a non-empty string"),
          "entities": ENTITIES}))
_BATCH_HINT = f"send 1 to {MAX_BATCH_ITEMS} items"
BATCH_REQUEST = Either("texts", Body({
    "texts": Field(list, required=True, min_length=1, max_length=MAX_BATCH_ITEMS, hint=_BATCH_HINT,
                   items=Field(str)),
    "device": DEVICE,
}), Body({
    "document_ids": Field(list, required=True, min_length=1, max_length=MAX_BATCH_ITEMS, hint=_BATCH_HINT,
                          items=row_id()),
    "device": DEVICE,
}), description="texts, or the ids of the project's documents.")
RECOMMENDER = Body({"model": always(str), "cheap": always(bool), "installed": always(bool),
                    "active_version_id": maybe_null(int), "heldout_precision": maybe_null(float),
                    "serving": always(bool)})
STATUS_JOB = Body({**JOB.fields, "note": Field(str, description="why a queued job waits (no worker)")},
                  description="a job, and why it waits")
MODEL_STATUS = Body({"model": maybe_null(str), "training_available": always(bool),
                     "training_unavailable_reason": maybe_null(str),
                     "active_version": maybe_null(MODEL_VERSION), "jobs": always(list, items=Field(STATUS_JOB)),
                     "recommenders": always(list, items=Field(RECOMMENDER))})
ONLINE_PREDICTIONS = Body({"model_version_id": always(int), "predictions": always(list, items=Field(PREDICTION))})
RECOMMENDATIONS = Body({"model_version_id": maybe_null(int), "model": maybe_null(str),
                        "items": always(list, items=Field(dict))})


def _unavailable(exc: TrainingUnavailable) -> ApiError:
    return ApiError(503, "training_unavailable", str(exc))


def _version(project_id: int, version_id: int) -> ModelVersion:
    return get_in_project(ModelVersion, version_id, project_id, "model version")


@bp.get("")
@operation(answers={200: MODEL_STATUS})
def model_status(project_id: int):
    """The model, whether training is available, the serving version (``active_version``),
    current training jobs, and each recommender with its active version's held-out precision."""
    project = project_access(project_id).project
    reap(project_id)
    jobs = db.session.scalars(db.select(Job).where(
        Job.project_id == project_id, Job.kind == retrain.KIND, Job.state.in_(ACTIVE_STATES))
        .order_by(Job.id))
    version = active_version(project_id)
    # Redis down, or no worker listening to the model lane: a queued job would wait silently.
    reason = runner().unavailable_reason(MODEL)
    return jsonify({"model": project.model, "training_available": reason is None,
                    "training_unavailable_reason": reason,
                    "active_version": version_json(version) if version else None,
                    "jobs": [_with_note(job_json(j), reason) for j in jobs],
                    "recommenders": _recommenders_status(project, version)})


def _with_note(job: dict, reason: str | None) -> dict:
    """A queued job's ``note`` says why it waits, when no worker will take it."""
    return {**job, "note": reason} if job["state"] == QUEUED and reason else job


def _recommenders_status(project: Project, serving: ModelVersion | None) -> list[dict]:
    active = {v.model: v for v in active_versions(project.id)}
    models = current_app.extensions["leanlife"].models
    out = []
    for name in recommenders(project):
        version = active.get(name)
        out.append({"model": name, "cheap": is_cheap(name), "installed": models.get(name) is not None,
                    "active_version_id": version.id if version else None,
                    "heldout_precision": heldout_score(version) if version else None,
                    "serving": serving is not None and version is not None and serving.id == version.id})
    return out


@bp.post("/train")
@operation(TRAIN_REQUEST, body_optional=True, answers={202: JOB})
def train(project_id: int):
    """Train now (owners): 202 with the job; 429 when a retraining job is already queued."""
    access = project_access(project_id, owner=True)
    device = json_body().get("device")
    names = recommenders(access.project)
    if not names:
        raise invalid("model", "the project has no model; choose one with PATCH .../settings")
    for name in names:
        installed_model(name)
    try:
        job = request_training(access.project, access.user.id, device)
    except TrainingQueued as exc:
        raise ApiError(429, "training_queued", f"{exc}; its run will use every annotation saved "
                                               f"until it starts", {"job_id": exc.job.id}) from None
    except TrainingUnavailable as exc:
        raise _unavailable(exc) from None
    return jsonify(job_json(job)), 202


@bp.get("/versions")
@operation(answers={200: items_of(MODEL_VERSION)})
def list_versions(project_id: int):
    """Versions, newest first, with their metrics and data counts."""
    project_access(project_id)
    rows = db.session.scalars(db.select(ModelVersion).where(ModelVersion.project_id == project_id)
                              .order_by(ModelVersion.id.desc()))
    return jsonify({"items": [version_json(r) for r in rows]})


@bp.get("/versions/<int:version_id>")
@operation(answers={200: MODEL_VERSION})
def get_version(project_id: int, version_id: int):
    """One version."""
    project_access(project_id)
    return jsonify(version_json(_version(project_id, version_id)))


@bp.post("/versions/<int:version_id>/activate")
@operation(answers={200: MODEL_VERSION})
def activate_version(project_id: int, version_id: int):
    """Make a version the active one, e.g. roll back to an earlier one (owners)."""
    project_access(project_id, owner=True)
    return jsonify(version_json(activate(project_id, _version(project_id, version_id).id)))


@bp.get("/versions/<int:version_id>/archive")
@operation(answers={200: Answer("application/zip", "The version's archive.")})
def download_archive(project_id: int, version_id: int):
    """The version as a .zip that ``leanlife_server.extract.load`` reads without the server."""
    project_access(project_id)
    row = _version(project_id, version_id)
    name = f"project-{project_id}-version-{row.id}.zip"
    try:
        if row.artifact_path and row.artifact_path.endswith(".zip"):  # the stored object is the archive
            return send_stored(row.artifact_path, "application/zip", name)
        # A version folder from before the artifact store: zipped once beside it.
        target = current_app.config["LEANLIFE"].data_dir / "archives" / name
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            extract.write_archive(version_directory(row), target)
    except MissingArtifact as exc:
        raise not_found(f"the files of model version {row.id} ({exc})") from None
    return send_file(target, mimetype="application/zip", as_attachment=True, download_name=name)


@bp.post("/predict")
@operation(ONLINE_REQUEST, answers={200: ONLINE_PREDICTIONS})
def predict_online(project_id: int):
    """Predict ``{"text": ...}`` or up to 64 ``{"texts": [...]}`` with the active model; a
    task that predicts from entity spans (RE) takes ``{"text", "entities": [...]}``."""
    access = project_access(project_id)
    examples = online_examples(access.project, json_body())
    version, loaded = loaded_models().active(project_id)
    predictions = [prediction_json(p) for p in loaded.model.predict(examples)]
    return jsonify({"model_version_id": version.id, "predictions": predictions})


@bp.post("/predictions")
@operation(BATCH_REQUEST, answers={202: JOB})
def predict_batch(project_id: int):
    """Start a batch prediction job over ``document_ids`` or ``texts``: 202 with the job."""
    access = project_access(project_id)
    body = json_body()
    version = active_version(project_id)
    if version is None:
        raise ApiError(409, "no_model", "this project has no trained model yet")
    installed_model(version.model)
    items = "texts" if "texts" in body else "document_ids"
    if items == "document_ids":
        require_documents(project_id, body[items], items)
    params: dict = {"model_version_id": version.id, items: body[items]}
    job = create_job(project_id, batch_predict.KIND, params, access.user.id, body.get("device"))
    db.session.commit()
    try:
        submit(job, batch_predict.TARGET)
    except TrainingUnavailable as exc:
        raise _unavailable(exc) from None
    return jsonify(job_json(job)), 202


@bp.get("/predictions/<int:job_id>")
@operation(answers={200: Answer("application/x-ndjson", "One prediction per line.")})
def download_predictions(project_id: int, job_id: int):
    """A finished batch prediction job's results as JSON lines."""
    project_access(project_id)
    job = db.session.get(Job, job_id)
    if job is None or job.project_id != project_id or job.kind != batch_predict.KIND:
        raise not_found(f"prediction job {job_id}")
    if job.state != "finished":
        raise ApiError(409, "not_ready", f"prediction job {job_id} is {job.state}", {"job": job_json(job)})
    try:
        return send_stored(batch_predict.results_key(job_id), "application/x-ndjson",
                           f"predictions-{job_id}.jsonl")
    except MissingArtifact:
        raise not_found(f"the results of prediction job {job_id}") from None


@bp.get("/recommendations/<int:document_id>")
@operation(answers={200: RECOMMENDATIONS})
def document_recommendations(project_id: int, document_id: int):
    """The serving version's recommendations for one document, with confidences, and the
    model that made them. A relation also names its entities' words (``subject_span``,
    ``object_span``: start, end, label), since the entity ids it names may be another
    annotator's: the caller's own entity on the same words stands for it."""
    project_access(project_id)
    get_document(project_id, document_id)
    version = active_version(project_id)
    if version is None:
        return jsonify({"model_version_id": None, "model": None, "items": []})
    rows = db.session.scalars(db.select(Recommendation).where(
        Recommendation.model_version_id == version.id, Recommendation.document_id == document_id)
        .order_by(Recommendation.id))
    [document] = with_entity_spans([{"document_id": document_id, "annotations": [r.payload for r in rows]}])
    return jsonify({"model_version_id": version.id, "model": version.model, "items": document["annotations"]})
