"""The live loop's events: what happened, as typed, frozen, plain data.

The core announces each event through the plugin manager (``Plugins.notify``), which calls
the event's hook (:mod:`leanlife_server.hookspecs`) on every plugin; the core's own reactions
(the retraining policy, the Socket.IO push, the queue re-ranking) are built-in plugins
(``plugins.DEFAULT_PLUGINS``) that listen like any other. Events hold ids, names and
JSON-ready dicts, never rows, so a plugin needs nothing of the core to read them.

Also here: the names of the Socket.IO events browsers hear (``docs/api.md``), in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Mapping, Sequence

# Socket.IO event names.
JOB_EVENT = "job"
DOCUMENT_CHANGED_EVENT = "document_changed"
RECOMMENDATIONS_EVENT = "recommendations"
MODEL_EVENT = "model"
QUEUE_EVENT = "queue"


def project_of(project: Any) -> dict[str, Any]:
    """A project (row) as events carry it: ``{"id", "task"}``."""
    return {"id": project.id, "task": project.task}


@dataclass(frozen=True)
class Event:
    """What every event carries: its project as ``{"id", "task"}``."""

    hook: ClassVar[str]
    project: Mapping[str, Any]

    @property
    def project_id(self) -> int:
        return self.project["id"]

    def hook_arguments(self) -> dict[str, Any]:
        """The keyword arguments of the event's hook call."""
        return {"event": self}


@dataclass(frozen=True)
class AnnotationSaved(Event):
    """An annotator's annotation was created or replaced, and committed."""

    hook: ClassVar[str] = "leanlife_annotation_saved"
    annotation: Mapping[str, Any]  # as the API returns it
    document_id: int
    user_id: int

    def hook_arguments(self) -> dict[str, Any]:
        # ``project`` and ``annotation`` also as arguments of their own, as before events.
        return {"project": self.project, "annotation": self.annotation, "event": self}


@dataclass(frozen=True)
class AnnotationDeleted(Event):
    """An annotator deleted one of their annotations (and relations built on it)."""

    hook: ClassVar[str] = "leanlife_annotation_deleted"
    annotation_id: int
    document_id: int
    user_id: int


@dataclass(frozen=True)
class GoldChanged(Event):
    """An owner changed a document's gold layer or its review state (curation)."""

    hook: ClassVar[str] = "leanlife_gold_changed"
    document_id: int


@dataclass(frozen=True)
class RecommendationsMade(Event):
    """A model version that will serve predicted a chunk of unlabeled documents."""

    hook: ClassVar[str] = "leanlife_recommendations_made"
    model_version_id: int
    model: str
    documents: Sequence[Mapping[str, Any]]  # per document: its recommendations and scores


@dataclass(frozen=True)
class ModelTrained(Event):
    """A new model version was trained, stored and activated."""

    hook: ClassVar[str] = "leanlife_model_trained"
    version: Mapping[str, Any]  # as the API returns it
    serving_version_id: int | None  # the version annotators see now

    def hook_arguments(self) -> dict[str, Any]:
        return {"project": self.project, "version": self.version, "event": self}


@dataclass(frozen=True)
class TrainingFinished(Event):
    """A retraining job (a training or a cheap one) trained all its models, after their
    ``ModelTrained`` events."""

    hook: ClassVar[str] = "leanlife_training_finished"
    job_id: int
    model_version_ids: Sequence[int]


@dataclass(frozen=True)
class QueueRanked(Event):
    """A member's queue was ranked again: its first documents, best first."""

    hook: ClassVar[str] = "leanlife_queue_ranked"
    user_id: int
    documents: Sequence[Mapping[str, Any]]
