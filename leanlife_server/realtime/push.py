"""The Socket.IO push, a built-in plugin (``plugins.DEFAULT_PLUGINS``): it tells browsers what
the live loop did. Viewers of a document hear its annotators' changes; the project's room
hears recommendations and new model versions; each member hears their re-ranked queue.
Event names and payloads are documented in ``docs/api.md``."""

from __future__ import annotations

from typing import Any

from leanlife_server import realtime
from leanlife_server.db import db
from leanlife_server.db.models import Project
from leanlife_server.events import (
    DOCUMENT_CHANGED_EVENT,
    MODEL_EVENT,
    QUEUE_EVENT,
    RECOMMENDATIONS_EVENT,
    AnnotationDeleted,
    AnnotationSaved,
    ModelTrained,
    QueueRanked,
    RecommendationsMade,
)
from leanlife_server.hookspecs import hookimpl
from leanlife_server.pipeline.predictions import with_entity_spans


def document_changed(project_id: int, document_id: int, user_id: int, action: str,
                     annotation: dict[str, Any]) -> None:
    """Tell those viewing the document that an annotator changed it. The annotation itself
    goes along only where annotators may see each other's work."""
    data = {"project_id": project_id, "document_id": document_id, "user_id": user_id,
            "action": action, "annotation_id": annotation.get("id")}
    if db.session.get(Project, project_id).annotators_see_others:
        data["annotation"] = annotation
    realtime.emit(DOCUMENT_CHANGED_EVENT, data, realtime.document_room(project_id, document_id))


@hookimpl
def leanlife_annotation_saved(event: AnnotationSaved) -> None:
    document_changed(event.project_id, event.document_id, event.user_id, "saved", event.annotation)


@hookimpl
def leanlife_annotation_deleted(event: AnnotationDeleted) -> None:
    document_changed(event.project_id, event.document_id, event.user_id, "deleted",
                     {"id": event.annotation_id})


@hookimpl
def leanlife_recommendations_made(event: RecommendationsMade) -> None:
    # A relation names its entities' words too, as GET .../model/recommendations/{doc} does.
    documents = with_entity_spans(event.documents)
    realtime.emit(RECOMMENDATIONS_EVENT, {"project_id": event.project_id,
                                          "model_version_id": event.model_version_id,
                                          "model": event.model, "documents": documents},
                  realtime.project_room(event.project_id))


@hookimpl
def leanlife_model_trained(event: ModelTrained) -> None:
    realtime.emit(MODEL_EVENT, {"project_id": event.project_id, "version": event.version,
                                "serving_version_id": event.serving_version_id},
                  realtime.project_room(event.project_id))


@hookimpl
def leanlife_queue_ranked(event: QueueRanked) -> None:
    realtime.emit(QUEUE_EVENT, {"project_id": event.project_id, "documents": event.documents},
                  realtime.user_room(event.user_id))
