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


def suggestion_weight(prediction: DocumentPrediction) -> float:
    """The cold-start score: the sum of the confidences of the document's suggestions, which
    is how many of them the recommender expects the annotator to accept."""
    return float(sum(a.confidence if a.confidence is not None else 0.5 for a in prediction.annotations))


def with_cold_start(scorer: Scorer) -> Scorer:
    """``scorer``, except where it cannot tell the documents apart (every score equal: a cheap
    recommender such as the dictionary gives no probabilities to measure): then the documents
    it would suggest most in come first (``suggestion_weight``), so a new project's
    annotators meet the recommender's suggestions from the second document on rather than
    in the order the documents were imported (docs/models.md, "The queue at the start")."""
    def score(predictions: Sequence[DocumentPrediction]) -> Sequence[float]:
        scores = list(scorer(predictions))
        if len(set(scores)) > 1:
            return scores
        return [suggestion_weight(p) for p in predictions]
    return score


def strategy_for(project: Project, cheap: bool = False) -> Scorer:
    """The project's chosen strategy, else the first registered one for its task; for a
    cheap recommender's version, with the cold-start rule (``with_cold_start``)."""
    strategies = current_app.extensions["leanlife"].query_strategies
    definition = strategies.get(project.query_strategy) if project.query_strategy else None
    if definition is None:
        definition = next((s for s in strategies if project.task in s.tasks), None)
    scorer = _least_confident_first if definition is None else load_object(definition.factory)()
    return with_cold_start(scorer) if cheap else scorer
