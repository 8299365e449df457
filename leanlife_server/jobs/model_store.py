"""Model versions on disk and in the database.

A version is written into a temporary directory beside its final place and moved there with
one ``os.replace``; only then is its row committed. A crash at any point leaves either no
version or a complete one, and the active version stays active until a new one is
activated. Web processes keep each project's active model loaded for online prediction.
"""

from __future__ import annotations

import shutil
import threading
import uuid
from pathlib import Path
from typing import Any, Mapping

from flask import current_app

from leanlife_server import __version__, extract
from leanlife_server.db import db
from leanlife_server.db.lookup import get_in_project
from leanlife_server.db.models import ModelVersion, Project, utcnow
from leanlife_server.errors import ApiError
from leanlife_server.plugin_api import Model

CACHE_KEY = "leanlife_loaded_models"


def project_dir(project_id: int) -> Path:
    return current_app.config["LEANLIFE"].data_dir / "models" / f"project-{project_id}"


def version_json(row: ModelVersion) -> dict[str, Any]:
    return {"id": row.id, "model": row.model, "config": row.config, "metrics": row.metrics,
            "data_counts": row.data_counts, "is_active": row.is_active,
            "created_at": row.created_at.isoformat() if row.created_at else None}


def store_version(project: Project, model_name: str, model: Model, config: Mapping[str, Any],
                  labels: Mapping[str, str], metrics: Mapping[str, Any],
                  data_counts: Mapping[str, Any]) -> ModelVersion:
    """Write the model and commit an inactive version row pointing at it."""
    base = project_dir(project.id)
    base.mkdir(parents=True, exist_ok=True)
    tmp = base / f".tmp-{uuid.uuid4().hex}"
    try:
        extract.write_version(tmp, model, {
            "model": model_name, "task": project.task, "labels": dict(labels),
            "explanation_kind": project.explanation_kind, "config": dict(config),
            "metrics": dict(metrics), "data_counts": dict(data_counts),
            "created_at": utcnow().isoformat(), "leanlife_version": __version__,
            "project_id": project.id})
        row = ModelVersion(project_id=project.id, model=model_name, config=dict(config),
                           metrics=dict(metrics), data_counts=dict(data_counts), is_active=False)
        db.session.add(row)
        db.session.flush()
        final = base / f"version-{row.id}"
        if final.exists():  # left by a crash after the move but before the commit: no row owns it
            shutil.rmtree(final)
        tmp.replace(final)
        row.artifact_path = str(final)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return row


def activate(project_id: int, version_id: int) -> ModelVersion:
    """Make one version the project's active one (also how a rollback is done)."""
    row = get_in_project(ModelVersion, version_id, project_id, "model version")
    db.session.execute(db.update(ModelVersion).where(ModelVersion.project_id == project_id,
                                                     ModelVersion.id != version_id).values(is_active=False))
    row.is_active = True
    db.session.commit()
    return row


def active_version(project_id: int) -> ModelVersion | None:
    return db.session.scalars(db.select(ModelVersion).where(
        ModelVersion.project_id == project_id, ModelVersion.is_active.is_(True))).first()


def load_version(row: ModelVersion, device: str = "cpu") -> extract.LoadedModel:
    return extract.load(Path(row.artifact_path), device, models=current_app.extensions["leanlife"].models)


class LoadedModels:
    """The active model of each project, loaded once per process and replaced when another
    version becomes active (checked against the database on every use)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.models: dict[int, tuple[int, extract.LoadedModel]] = {}

    def active(self, project_id: int) -> tuple[ModelVersion, extract.LoadedModel]:
        row = active_version(project_id)
        if row is None:
            raise ApiError(409, "no_model", "this project has no trained model yet; "
                                            "train one with POST .../model/train")
        with self.lock:
            cached = self.models.get(project_id)
            if cached is None or cached[0] != row.id:
                cached = (row.id, load_version(row))
                self.models[project_id] = cached
        return row, cached[1]


def loaded_models() -> LoadedModels:
    return current_app.extensions.setdefault(CACHE_KEY, LoadedModels())
