"""Model versions in the artifact store and in the database.

A version is written into a private scratch folder, zipped, and uploaded to the store
(``leanlife_server/storage.py``) under a fresh key; only then is its row committed, naming
that key. A crash at any point leaves either no version or a complete one (at worst an
object no row names), and the active version stays active until a new one is activated.
Each process that loads a version unpacks it once into ``<data_dir>/cache`` (a worker on
another machine reads the store, never another process's data dir). Each model of a project
(its recommenders, ``pipeline/recommenders.py``) has its own active version; the *serving* one
among them is what annotators, the queue and online prediction use. Web processes keep each
project's serving model loaded.
"""

from __future__ import annotations

import os
import shutil
import threading
import uuid
from pathlib import Path
from typing import Any, Mapping

from flask import current_app

from leanlife_server import __version__, extract
from leanlife_server.db import db
from leanlife_server.db.locks import lock_row
from leanlife_server.db.lookup import get_in_project
from leanlife_server.db.models import ModelVersion, Project, utcnow
from leanlife_server.errors import ApiError
from leanlife_server.pipeline.recommenders import is_cheap, serving_version
from leanlife_server.plugin_api import Model, ModelDefinition
from leanlife_server.storage import LocalStore, MissingArtifact, discard, scratch_dir, store

CACHE_KEY = "leanlife_loaded_models"


def cache_dir(version_id: int) -> Path:
    """Where this process keeps a version unpacked (its own data dir)."""
    return current_app.config["LEANLIFE"].data_dir / "cache" / "models" / f"version-{version_id}"


def version_json(row: ModelVersion) -> dict[str, Any]:
    return {"id": row.id, "number": row.number, "model": row.model, "config": row.config, "metrics": row.metrics,
            "data_counts": row.data_counts, "is_active": row.is_active,
            "created_at": row.created_at.isoformat() if row.created_at else None}


def store_version(project: Project, model_name: str, model: Model, config: Mapping[str, Any],
                  labels: Mapping[str, str], metrics: Mapping[str, Any],
                  data_counts: Mapping[str, Any]) -> ModelVersion:
    """Write the model and commit an inactive version row pointing at it."""
    work = scratch_dir()
    key = f"models/project-{project.id}/{uuid.uuid4().hex}.zip"
    try:
        extract.write_version(work / "version", model, {
            "model": model_name, "task": project.task, "labels": dict(labels),
            "explanation_kind": project.explanation_kind, "config": dict(config),
            "metrics": dict(metrics), "data_counts": dict(data_counts),
            "created_at": utcnow().isoformat(), "leanlife_version": __version__,
            "project_id": project.id})
        extract.write_archive(work / "version", work / "version.zip")
        # Uploaded before the project row is locked: a big model's upload holds up no save.
        store().put_file(key, work / "version.zip")
        lock_row(Project, project.id)  # numbers versions one after the other (till the commit)
        row = ModelVersion(project_id=project.id, model=model_name, config=dict(config),
                           metrics=dict(metrics), data_counts=dict(data_counts), is_active=False,
                           artifact_path=key)
        db.session.add(row)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        discard(key)  # no row names it
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return row


def activate(project_id: int, version_id: int) -> ModelVersion:
    """Make one version the active one of its model in the project (also how a rollback is
    done); other models' active versions stay active."""
    row = get_in_project(ModelVersion, version_id, project_id, "model version")
    db.session.execute(db.update(ModelVersion).where(
        ModelVersion.project_id == project_id, ModelVersion.model == row.model,
        ModelVersion.id != version_id).values(is_active=False))
    row.is_active = True
    db.session.commit()
    return row


def active_version(project_id: int) -> ModelVersion | None:
    """The serving version: the active version whose suggestions annotators see."""
    project = db.session.get(Project, project_id)
    return serving_version(project) if project is not None else None


def prune_versions(project_id: int, model_name: str, keep: int) -> int:
    """Delete all but the newest ``keep`` versions of one model (never its active one), with
    their recommendations, scores and files: a cheap model makes a version on every save,
    and owners choose how many versions of the others to keep (``versions_kept``).
    Returns how many went."""
    rows = list(db.session.scalars(db.select(ModelVersion).where(
        ModelVersion.project_id == project_id, ModelVersion.model == model_name)
        .order_by(ModelVersion.id.desc())))
    doomed = [row for row in rows[keep:] if not row.is_active]
    files = [(row.id, row.artifact_path) for row in doomed]
    for row in doomed:
        db.session.delete(row)  # recommendations and scores go by ON DELETE CASCADE
    db.session.commit()
    for version_id, key in files:  # after the commit: a kept row never names a deleted file
        if key:
            discard(key)  # a store that is down leaves an object no row names, not a failed job
        shutil.rmtree(cache_dir(version_id), ignore_errors=True)
    return len(doomed)


def prune_project(project: Project) -> int:
    """Apply the project's ``versions_kept`` to each of its learned models' versions."""
    names = db.session.scalars(db.select(ModelVersion.model).where(
        ModelVersion.project_id == project.id).distinct()).all()
    return sum(prune_versions(project.id, name, project.versions_kept)
               for name in names if not is_cheap(name))


def installed_model(name: str) -> ModelDefinition:
    """The definition of model ``name``; 409 when no loaded plugin registers it (its plugin is
    not installed in this environment, or ``LEANLIFE_PLUGINS`` leaves it out)."""
    models = current_app.extensions["leanlife"].models
    definition = models.get(name)
    if definition is None:
        installed = ", ".join(sorted(m.name for m in models)) or "none"
        raise ApiError(409, "model_not_installed",
                       f"model {name!r} is not installed on this server: no loaded plugin registers "
                       f"it (installed models: {installed}); install the plugin that provides it "
                       f"(docs/admin.md, 'Model plugins'), or choose another model with "
                       f"PATCH .../settings", {"model": name})
    return definition


def version_directory(row: ModelVersion) -> Path:
    """The version unpacked in this process's data dir, fetched from the store once."""
    key = row.artifact_path
    if key and not key.endswith(".zip"):  # a version directory written before the store
        local = store()
        if isinstance(local, LocalStore) and local.path(key).is_dir():
            return local.path(key)
        raise MissingArtifact(f"model version {row.id}: its files ({key}) predate the artifact store "
                              f"and are not in {local.describe()}")
    if not key:
        raise MissingArtifact(f"model version {row.id} has no stored files")
    target = cache_dir(row.id)
    if not (target / extract.MANIFEST).is_file():
        work = scratch_dir()
        try:
            store().get_to_file(key, work / "version.zip")
            extract.unpack(work / "version.zip", work / "version")
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.replace(work / "version", target)  # whole or not at all, like the store
            except OSError:
                if not (target / extract.MANIFEST).is_file():  # not another thread's copy
                    raise
        finally:
            shutil.rmtree(work, ignore_errors=True)
        _evict_deleted(target.parent)
    return target


def _evict_deleted(cache: Path) -> None:
    """Drop the cached copies of versions that retention deleted (maybe in another process,
    on another machine): a model's files may be large, and each new version adds a copy."""
    cached = {int(p.name.split("-", 1)[1]): p for p in cache.glob("version-*") if p.name[8:].isdigit()}
    alive = set(db.session.scalars(db.select(ModelVersion.id).where(ModelVersion.id.in_(list(cached)))))
    for version_id, path in cached.items():
        if version_id not in alive:
            shutil.rmtree(path, ignore_errors=True)


def load_version(row: ModelVersion, device: str = "cpu") -> extract.LoadedModel:
    return extract.load(version_directory(row), device, models=current_app.extensions["leanlife"].models)


class LoadedModels:
    """The serving model of each project, loaded once per process and replaced when another
    version serves (checked against the database on every use)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.models: dict[int, tuple[int, extract.LoadedModel]] = {}

    def active(self, project_id: int) -> tuple[ModelVersion, extract.LoadedModel]:
        row = active_version(project_id)
        if row is None:
            raise ApiError(409, "no_model", "this project has no trained model yet; "
                                            "train one with POST .../model/train")
        installed_model(row.model)
        with self.lock:
            cached = self.models.get(project_id)
            if cached is None or cached[0] != row.id:
                cached = (row.id, load_version(row))
                self.models[project_id] = cached
        return row, cached[1]


def loaded_models() -> LoadedModels:
    return current_app.extensions.setdefault(CACHE_KEY, LoadedModels())
