"""The LeanLife plugin contract: every hook a plugin can implement.

Registration hooks return a list of definitions (types in :mod:`leanlife_server.plugin_api`);
the core collects them once at start-up. Event hooks are called as things happen, each with
its typed event (:mod:`leanlife_server.events`: plain data, never core objects); the core's
own reactions to them are built-in plugins (``plugins.DEFAULT_PLUGINS``).
``docs/plugins.md`` documents each hook with an example.
"""

from __future__ import annotations

from typing import Any

import pluggy

from leanlife_server.events import (
    AnnotationDeleted,
    AnnotationSaved,
    GoldChanged,
    ModelTrained,
    QueueRanked,
    RecommendationsMade,
    TrainingFinished,
)
from leanlife_server.plugin_api import (
    FormatDefinition,
    ModelDefinition,
    QueryStrategyDefinition,
    TaskDefinition,
)

PROJECT_NAME = "leanlife"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
# What the core's built-in plugins mark their hooks with (plugins bring their own marker).
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def leanlife_tasks() -> list[TaskDefinition]:
    """Annotation tasks (NER, RE, SA, ...) this plugin provides."""


@hookspec
def leanlife_models() -> list[ModelDefinition]:
    """Trainable models this plugin provides, each naming the tasks it serves."""


@hookspec
def leanlife_formats() -> list[FormatDefinition]:
    """Import and export formats this plugin provides."""


@hookspec
def leanlife_query_strategies() -> list[QueryStrategyDefinition]:
    """Active-learning strategies that rank documents for annotation."""


@hookspec
def leanlife_annotation_saved(project: dict[str, Any], annotation: dict[str, Any],
                              event: AnnotationSaved) -> None:
    """Called after an annotator's annotation was created or changed and committed."""


@hookspec
def leanlife_annotation_deleted(event: AnnotationDeleted) -> None:
    """Called after an annotator's annotation was deleted and committed."""


@hookspec
def leanlife_gold_changed(event: GoldChanged) -> None:
    """Called after an owner changed a document's gold layer or review state."""


@hookspec
def leanlife_recommendations_made(event: RecommendationsMade) -> None:
    """Called as a serving model version's recommendations for a chunk of documents are stored."""


@hookspec
def leanlife_model_trained(project: dict[str, Any], version: dict[str, Any],
                           event: ModelTrained) -> None:
    """Called after a new model version was trained and stored."""


@hookspec
def leanlife_training_finished(event: TrainingFinished) -> None:
    """Called after a retraining job trained all its models."""


@hookspec
def leanlife_queue_ranked(event: QueueRanked) -> None:
    """Called after a member's annotation queue was ranked again."""
