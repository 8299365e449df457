"""The project's model: train now, versions with metrics, activate or roll back, predict
online or in a batch job, and extract a version as a self-contained archive."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, current_app, jsonify, request, send_file

from leanlife_server import extract
from leanlife_server.api.access import project_access
from leanlife_server.api.payload import field, json_body
from leanlife_server.api.projects import DEVICE_PATTERN
from leanlife_server.db import db
from leanlife_server.db.lookup import get_in_project
from leanlife_server.db.models import Job, ModelVersion, Recommendation
from leanlife_server.errors import ApiError, invalid, not_found
from leanlife_server.jobs import ACTIVE_STATES, TrainingUnavailable, create_job, job_json, reap, runner, submit
from leanlife_server.jobs import batch_predict, retrain
from leanlife_server.jobs.model_store import activate, active_version, loaded_models, version_json
from leanlife_server.jobs.policy import TrainingQueued, request_training
from leanlife_server.jobs.predictions import prediction_json

bp = Blueprint("models_api", __name__, url_prefix="/api/v1/projects/<int:project_id>/model")

MAX_ONLINE_TEXTS = 64
MAX_BATCH_ITEMS = 100_000


def _optional_body() -> dict:
    return json_body() if request.content_length else {}


def _device(body: dict) -> str | None:
    device = field(body, "device", str, None)
    if device is not None and not DEVICE_PATTERN.match(device):
        raise invalid("device", "must be 'cpu', 'cuda' or 'cuda:N'")
    return device


def _unavailable(exc: TrainingUnavailable) -> ApiError:
    return ApiError(503, "training_unavailable", str(exc))


def _version(project_id: int, version_id: int) -> ModelVersion:
    return get_in_project(ModelVersion, version_id, project_id, "model version")


@bp.get("")
def model_status(project_id: int):
    """The model, whether training is available, the active version and current training jobs."""
    project = project_access(project_id).project
    reap(project_id)
    jobs = db.session.scalars(db.select(Job).where(
        Job.project_id == project_id, Job.kind == retrain.KIND, Job.state.in_(ACTIVE_STATES))
        .order_by(Job.id))
    version = active_version(project_id)
    return jsonify({"model": project.model, "training_available": runner().available(),
                    "active_version": version_json(version) if version else None,
                    "jobs": [job_json(j) for j in jobs]})


@bp.post("/train")
def train(project_id: int):
    """Train now (owners): 202 with the job; 429 when a retraining job is already queued."""
    access = project_access(project_id, owner=True)
    device = _device(_optional_body())
    if not access.project.model:
        raise invalid("model", "the project has no model; choose one with PATCH .../settings")
    try:
        job = request_training(access.project, access.user.id, device)
    except TrainingQueued as exc:
        raise ApiError(429, "training_queued", f"{exc}; its run will use every annotation saved "
                                               f"until it starts", {"job_id": exc.job.id}) from None
    except TrainingUnavailable as exc:
        raise _unavailable(exc) from None
    return jsonify(job_json(job)), 202


@bp.get("/versions")
def list_versions(project_id: int):
    """Versions, newest first, with their metrics and data counts."""
    project_access(project_id)
    rows = db.session.scalars(db.select(ModelVersion).where(ModelVersion.project_id == project_id)
                              .order_by(ModelVersion.id.desc()))
    return jsonify({"items": [version_json(r) for r in rows]})


@bp.get("/versions/<int:version_id>")
def get_version(project_id: int, version_id: int):
    """One version."""
    project_access(project_id)
    return jsonify(version_json(_version(project_id, version_id)))


@bp.post("/versions/<int:version_id>/activate")
def activate_version(project_id: int, version_id: int):
    """Make a version the active one, e.g. roll back to an earlier one (owners)."""
    project_access(project_id, owner=True)
    return jsonify(version_json(activate(project_id, _version(project_id, version_id).id)))


@bp.get("/versions/<int:version_id>/archive")
def download_archive(project_id: int, version_id: int):
    """The version as a .zip that ``leanlife_server.extract.load`` reads without the server."""
    project_access(project_id)
    row = _version(project_id, version_id)
    target = current_app.config["LEANLIFE"].data_dir / "archives" / f"project-{project_id}-version-{row.id}.zip"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        extract.write_archive(Path(row.artifact_path), target)
    return send_file(target, mimetype="application/zip", as_attachment=True, download_name=target.name)


@bp.post("/predict")
def predict_online(project_id: int):
    """Predict ``{"text": ...}`` or up to 64 ``{"texts": [...]}`` with the active model."""
    project_access(project_id)
    body = json_body()
    texts = [field(body, "text", str)] if "texts" not in body else field(body, "texts", list)
    if not texts or len(texts) > MAX_ONLINE_TEXTS or not all(isinstance(t, str) and t for t in texts):
        raise invalid("texts", f"send 1 to {MAX_ONLINE_TEXTS} non-empty strings; use "
                               f"POST .../model/predictions for more")
    version, loaded = loaded_models().active(project_id)
    predictions = [prediction_json(p) for p in loaded.predict(texts)]
    return jsonify({"model_version_id": version.id, "predictions": predictions})


@bp.post("/predictions")
def predict_batch(project_id: int):
    """Start a batch prediction job over ``document_ids`` or ``texts``: 202 with the job."""
    access = project_access(project_id)
    body = json_body()
    version = active_version(project_id)
    if version is None:
        raise ApiError(409, "no_model", "this project has no trained model yet")
    params: dict = {"model_version_id": version.id}
    if "texts" in body:
        params["texts"] = field(body, "texts", list)
        if not all(isinstance(t, str) for t in params["texts"]):
            raise invalid("texts", "must be a list of strings")
    else:
        params["document_ids"] = field(body, "document_ids", list)
        if not all(isinstance(i, int) and not isinstance(i, bool) for i in params["document_ids"]):
            raise invalid("document_ids", "must be a list of document ids")
    items = params.get("texts") or params.get("document_ids")
    if not items or len(items) > MAX_BATCH_ITEMS:
        raise invalid("texts" if "texts" in params else "document_ids",
                      f"send 1 to {MAX_BATCH_ITEMS} items")
    job = create_job(project_id, batch_predict.KIND, params, access.user.id, _device(body))
    db.session.commit()
    try:
        submit(job, batch_predict.TARGET)
    except TrainingUnavailable as exc:
        raise _unavailable(exc) from None
    return jsonify(job_json(job)), 202


@bp.get("/predictions/<int:job_id>")
def download_predictions(project_id: int, job_id: int):
    """A finished batch prediction job's results as JSON lines."""
    project_access(project_id)
    job = db.session.get(Job, job_id)
    if job is None or job.project_id != project_id or job.kind != batch_predict.KIND:
        raise not_found(f"prediction job {job_id}")
    path = batch_predict.results_path(job_id)
    if job.state != "finished" or not path.exists():
        raise ApiError(409, "not_ready", f"prediction job {job_id} is {job.state}", {"job": job_json(job)})
    return send_file(path, mimetype="application/x-ndjson", as_attachment=True,
                     download_name=f"predictions-{job_id}.jsonl")


@bp.get("/recommendations/<int:document_id>")
def document_recommendations(project_id: int, document_id: int):
    """The active version's recommendations for one document, with confidences."""
    project_access(project_id)
    version = active_version(project_id)
    if version is None:
        return jsonify({"model_version_id": None, "items": []})
    rows = db.session.scalars(db.select(Recommendation).where(
        Recommendation.model_version_id == version.id, Recommendation.document_id == document_id)
        .order_by(Recommendation.id))
    return jsonify({"model_version_id": version.id, "items": [r.payload for r in rows]})
