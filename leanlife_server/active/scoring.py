"""Scores for the queue: a query strategy's informativeness and the model's confidence.

A query strategy plugin's ``factory()`` returns a scorer: ``scorer(predictions) -> scores``,
one float per ``DocumentPrediction``, higher meaning more worth annotating.
"""

from __future__ import annotations

from typing import Callable, Sequence

from flask import current_app

from leanlife_server.db.models import Project
from leanlife_server.plugin_api import DocumentPrediction, load_object

Scorer = Callable[[Sequence[DocumentPrediction]], Sequence[float]]


def document_confidence(prediction: DocumentPrediction) -> float | None:
    """How sure the model is of the whole document: its least confident row of
    probabilities (one row for a classification, one per token for a sequence), else its
    least confident predicted annotation."""
    if len(prediction.probabilities):
        return float(min(max(row) for row in prediction.probabilities))
    confidences = [a.confidence for a in prediction.annotations if a.confidence is not None]
    return float(min(confidences)) if confidences else None


def _least_confident_first(predictions: Sequence[DocumentPrediction]) -> list[float]:
    # Used when no query strategy plugin serves the task.
    return [1.0 - (document_confidence(p) if document_confidence(p) is not None else 0.0)
            for p in predictions]


def strategy_for(project: Project) -> Scorer:
    """The project's chosen strategy, else the first registered one for its task."""
    strategies = current_app.extensions["leanlife"].query_strategies
    definition = strategies.get(project.query_strategy) if project.query_strategy else None
    if definition is None:
        definition = next((s for s in strategies if project.task in s.tasks), None)
    if definition is None:
        return _least_confident_first
    return load_object(definition.factory)()
