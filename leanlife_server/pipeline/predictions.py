"""A model's predictions: checked against the task's shape, as JSON, and stored as
recommendations and queue scores for a model version (identical documents' scores demoted,
so that copies do not crowd the top of the queue)."""

from __future__ import annotations

from typing import Any, Hashable, Iterable, Mapping, Sequence

from sqlalchemy import insert, update

from leanlife_server.annotation_parts import has_links, has_span
from leanlife_server.db import db
from leanlife_server.db.models import Annotation, Label, Recommendation, UncertaintyScore
from leanlife_server.pipeline.duplicates import demote_duplicates
from leanlife_server.pipeline.scoring import Scorer, document_confidence
from leanlife_server.plugin_api import AnnotationData, DocumentPrediction, Example


class PredictionError(ValueError):
    """A model plugin returned output that does not fit the task or the documents."""


def check_predictions(model_name: str, examples: Sequence[Example],
                      predictions: Sequence[DocumentPrediction], labels: Mapping[str, str]) -> None:
    if len(predictions) != len(examples):
        raise PredictionError(f"model {model_name!r} returned {len(predictions)} predictions "
                              f"for {len(examples)} documents")
    for i, (example, prediction) in enumerate(zip(examples, predictions)):
        where = f"model {model_name!r}, prediction {i} (document {example.document_id})"
        # What a prediction may link: the example's input annotations that have spans (RE's entities).
        entity_ids = {a.id for a in example.annotations if has_span(a)}
        for j, annotation in enumerate(prediction.annotations):
            if labels.get(annotation.label) != annotation.kind:
                raise PredictionError(f"{where}, annotation {j}: label {annotation.label!r} is not "
                                      f"a {annotation.kind} label of this project")
            if has_span(annotation) and not (
                    annotation.start is not None and annotation.end is not None
                    and 0 <= annotation.start < annotation.end <= len(example.text)):
                raise PredictionError(f"{where}, annotation {j}: span [{annotation.start}, "
                                      f"{annotation.end}) is outside the text ({len(example.text)} chars)")
            if has_links(annotation) and not {annotation.subject_id, annotation.object_id} <= entity_ids:
                raise PredictionError(f"{where}, annotation {j}: relation between annotations "
                                      f"{annotation.subject_id} and {annotation.object_id}, which are "
                                      f"not entity spans of the document")
            if annotation.confidence is not None and not 0.0 <= annotation.confidence <= 1.0:
                raise PredictionError(f"{where}, annotation {j}: confidence {annotation.confidence} "
                                      f"is not between 0 and 1")


def annotation_json(annotation: AnnotationData) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": annotation.kind, "label": annotation.label,
                           "confidence": annotation.confidence}
    for name, value in (("start", annotation.start), ("end", annotation.end), ("id", annotation.id),
                        ("subject", annotation.subject_id), ("object", annotation.object_id)):
        if value is not None:
            out[name] = value
    if annotation.attributes:
        out["attributes"] = dict(annotation.attributes)
    if annotation.evidence:
        out["evidence"] = dict(annotation.evidence)
    return out


def prediction_json(prediction: DocumentPrediction) -> dict[str, Any]:
    return {"document_id": prediction.document_id,
            "confidence": document_confidence(prediction),
            "annotations": [annotation_json(a) for a in prediction.annotations]}


# Entity ids looked up per query when relations name their entities' words.
SPAN_LOOKUP_BATCH = 1000


def with_entity_spans(documents: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """``documents`` (``[{"document_id", "annotations": [...]}, ...]``, as stored
    recommendations are served and pushed) with each relation's entities named by their words
    as well: ``subject_span``, ``object_span`` (``{"start", "end", "label"}``), since the
    entity ids may be another annotator's, and the viewer's own entity on the same words stands
    for it. The one place both ``GET .../model/recommendations/{doc}`` and the
    ``recommendations`` push add them."""
    wanted = {(d["document_id"], a[role]) for d in documents for a in d["annotations"]
              for role in ("subject", "object") if isinstance(a.get(role), int)}
    if not wanted:
        return [dict(d) for d in documents]
    ids = sorted({entity for _, entity in wanted})
    spans = {}
    for i in range(0, len(ids), SPAN_LOOKUP_BATCH):
        spans.update({(row.document_id, row.id): {"start": row.start, "end": row.end, "label": row.name}
                      for row in db.session.execute(
                          db.select(Annotation.id, Annotation.document_id, Annotation.start, Annotation.end,
                                    Label.name).join(Label, Label.id == Annotation.label_id)
                          .where(Annotation.id.in_(ids[i:i + SPAN_LOOKUP_BATCH])))})
    return [{**d, "annotations": [
        {**a, **{f"{role}_span": spans[d["document_id"], a[role]] for role in ("subject", "object")
                 if (d["document_id"], a.get(role)) in spans}} for a in d["annotations"]]}
            for d in documents]


def store_recommendations(version_id: int, predictions: Sequence[DocumentPrediction],
                          scorer: Scorer) -> list[dict[str, Any]]:
    """Store recommendations and queue scores for one chunk; returns the chunk as JSON."""
    documents = [prediction_json(p) for p in predictions]
    for item, score in zip(documents, scorer(predictions)):
        item["score"] = float(score)
    db.session.execute(insert(UncertaintyScore), [
        {"model_version_id": version_id, "document_id": item["document_id"], "score": item["score"],
         "confidence": item["confidence"]} for item in documents])
    recommendations = [{"model_version_id": version_id, "document_id": item["document_id"],
                        "payload": payload, "confidence": payload["confidence"] or 0.0}
                       for item in documents for payload in item["annotations"]]
    if recommendations:
        db.session.execute(insert(Recommendation), recommendations)
    db.session.commit()
    return documents


def demote_duplicate_scores(version_id: int, keys: Mapping[int, Hashable], labeled: Iterable[Hashable]) -> int:
    """Once every unlabeled document is scored: among identical documents the first by id
    keeps the best score of its copies, and the other copies, and the copies of a ``labeled``
    document, move to the end of the queue (``leanlife_server.pipeline.duplicates``). ``keys``
    maps each scored document's id to its ``duplicate_key``. Done over the whole version, not
    per chunk, since copies fall in different chunks. Returns how many scores changed."""
    rows = db.session.execute(
        db.select(UncertaintyScore.id, UncertaintyScore.document_id, UncertaintyScore.score)
        .where(UncertaintyScore.model_version_id == version_id).order_by(UncertaintyScore.document_id)).all()
    scores = demote_duplicates([keys[r.document_id] for r in rows], [r.score for r in rows], labeled)
    changed = [{"id": r.id, "score": new} for r, new in zip(rows, scores) if new != r.score]
    if changed:
        db.session.execute(update(UncertaintyScore), changed)
    db.session.commit()
    return len(changed)
