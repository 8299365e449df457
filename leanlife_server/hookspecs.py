"""The LeanLife plugin contract: every hook a plugin can implement.

Registration hooks return a list of definitions (types in :mod:`leanlife_server.plugin_api`);
the core collects them once at start-up. Event hooks are called as things happen and
receive plain data, never core objects. ``docs/plugins.md`` documents each hook with an example.
"""

from __future__ import annotations

from typing import Any

import pluggy

from leanlife_server.plugin_api import (
    FormatDefinition,
    ModelDefinition,
    QueryStrategyDefinition,
    TaskDefinition,
)

PROJECT_NAME = "leanlife"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)


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
def leanlife_annotation_saved(project: dict[str, Any], annotation: dict[str, Any]) -> None:
    """Called after an annotation was created or changed and committed."""


@hookspec
def leanlife_model_trained(project: dict[str, Any], version: dict[str, Any]) -> None:
    """Called after a new model version was trained and stored."""
