"""Several recommenders per project, and which one the annotators see.

A project's *recommenders* are models that each keep their own versions: one active version
per (project, model). Its ``recommenders`` setting lists them in order; null means the
default: every installed *cheap* model of the task (``ModelDefinition.cheap``, by name), then
the project's ``model``.

The annotators see the suggestions of one of them, the *serving* version, chosen among the
active versions of the listed models:

1. each is scored by its held-out precision (``metrics.heldout.precision``; for tasks that
   report no precision, such as SA, ``metrics.heldout.accuracy``, which is the precision of
   one label per document);
2. when at least one has a score, the highest score serves; a tie goes to the model listed
   first, so a learned model takes over only when it *passes* the cheap one;
3. when none has a score yet (too few labeled documents to hold some out), the model listed
   first serves: by default, the cheap one.

A project whose listed models have no active version yet serves the newest active version
of any model (one trained before the list changed), so that nothing it had disappears.
"""

from __future__ import annotations

from typing import Iterable, Sequence

from flask import current_app

from leanlife_server.db import db
from leanlife_server.db.models import ModelVersion, Project
from leanlife_server.plugin_api import ModelDefinition

# Heldout metrics that score a recommender, in order of preference.
SCORE_METRICS = ("precision", "accuracy")


def _models():
    return current_app.extensions["leanlife"].models


def default_recommenders(task: str, model: str | None, models: Iterable[ModelDefinition],
                         explanation_kind: str | None = None) -> list[str]:
    """The installed cheap models of ``task`` by name, then ``model``. A cheap model that
    learns from explanations (``explanation_kinds``) only for projects that collect that kind."""
    names = sorted(m.name for m in models if m.cheap and task in m.tasks
                   and (not m.explanation_kinds or explanation_kind in m.explanation_kinds))
    if model and model not in names:
        names.append(model)
    return names


def recommenders(project: Project) -> list[str]:
    """The project's recommenders, in order."""
    if project.recommenders is not None:
        return list(project.recommenders)
    return default_recommenders(project.task, project.model, _models(), project.explanation_kind)


def is_cheap(name: str) -> bool:
    definition = _models().get(name)
    return definition is not None and definition.cheap


def cheap_recommenders(project: Project) -> list[str]:
    """Those retrained after every saved annotation."""
    return [name for name in recommenders(project) if is_cheap(name)]


def learned_recommenders(project: Project) -> list[str]:
    """Those the retraining policy trains."""
    return [name for name in recommenders(project) if not is_cheap(name)]


def heldout_score(version: ModelVersion) -> float | None:
    """The version's held-out precision (or accuracy), None before it had held-out data."""
    heldout = (version.metrics or {}).get("heldout") or {}
    for name in SCORE_METRICS:
        value = heldout.get(name)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    return None


def choose(candidates: Sequence[ModelVersion], order: Sequence[str]) -> ModelVersion | None:
    """The serving version among ``candidates`` (active versions of models in ``order``)."""
    if not candidates:
        return None
    scored = [v for v in candidates if heldout_score(v) is not None]
    if not scored:
        return min(candidates, key=lambda v: order.index(v.model))
    return max(scored, key=lambda v: (heldout_score(v), -order.index(v.model)))


def active_versions(project_id: int) -> list[ModelVersion]:
    return list(db.session.scalars(db.select(ModelVersion).where(
        ModelVersion.project_id == project_id, ModelVersion.is_active.is_(True)).order_by(ModelVersion.id)))


def serving_version(project: Project, candidate: ModelVersion | None = None) -> ModelVersion | None:
    """The version whose suggestions the annotators see; with ``candidate``, the one they
    would see once ``candidate`` is activated (it replaces its model's active version)."""
    active = active_versions(project.id)
    if candidate is not None:
        active = [v for v in active if v.model != candidate.model] + [candidate]
    order = recommenders(project)
    chosen = choose([v for v in active if v.model in order], order)
    if chosen is None and active:
        return max(active, key=lambda v: v.id)
    return chosen
