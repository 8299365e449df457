"""RE evaluation: micro precision, recall and F1 over (subject span, object span, label).

Relations refer to entity annotations by id; the ids are resolved to spans through the gold
document's entities (a prediction may also carry entity spans of its own, which then count).
Relations labelled "no relation" are left out on both sides, as in the SemEval-2010 Task 8
scorer, which leaves out ``Other``.
"""

from __future__ import annotations

from typing import Collection, Mapping, Sequence

from leanlife_server.plugin_api import (
    RELATION,
    SPAN,
    AnnotationData,
    DocumentPrediction,
    Example,
    check_aligned,
    precision_recall_f1,
)

NO_RELATION_LABELS = ("Other", "no_relation")


def _spans(annotations: Sequence[AnnotationData]) -> dict[int, tuple[int, int]]:
    return {a.id: (a.start, a.end) for a in annotations if a.kind == SPAN and a.id is not None}


def _relations(i: int, annotations: Sequence[AnnotationData], spans: Mapping[int, tuple[int, int]],
               excluded: Collection[str], side: str) -> set[tuple]:
    relations = set()
    for a in annotations:
        if a.kind != RELATION or a.label in excluded:
            continue
        for role, annotation_id in (("subject", a.subject_id), ("object", a.object_id)):
            if annotation_id not in spans:
                raise ValueError(f"evaluate: {side} item {i}: relation {a.label!r} names {role} "
                                 f"{annotation_id}, which is no entity span of that document")
        relations.add((i, spans[a.subject_id], spans[a.object_id], a.label))
    return relations


def evaluate(gold: Sequence[Example], predicted: Sequence[DocumentPrediction],
             no_relation_labels: Collection[str] = NO_RELATION_LABELS) -> dict[str, float]:
    check_aligned(gold, predicted)
    gold_relations, predicted_relations = set(), set()
    for i, (example, prediction) in enumerate(zip(gold, predicted)):
        spans = _spans(example.annotations)
        gold_relations |= _relations(i, example.annotations, spans, no_relation_labels, "gold")
        predicted_spans = {**spans, **_spans(prediction.annotations)}
        predicted_relations |= _relations(i, prediction.annotations, predicted_spans, no_relation_labels,
                                          "predicted")
    return precision_recall_f1(gold_relations, predicted_relations)
