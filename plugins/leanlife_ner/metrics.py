"""NER evaluation: entity-level micro precision, recall and F1 (a predicted entity counts only
when its span and label both match a gold entity exactly).

The two helpers below are shared by the RE and SA metrics, which score sets of tuples too.
"""

from __future__ import annotations

from typing import Hashable, Sequence

from leanlife_server.plugin_api import SPAN, DocumentPrediction, Example


def check_aligned(gold: Sequence[Example], predicted: Sequence[DocumentPrediction]) -> None:
    """Predictions come one per gold example, in the same order."""
    if len(gold) != len(predicted):
        raise ValueError(f"evaluate: {len(gold)} gold examples but {len(predicted)} predictions; "
                         f"they must pair up one to one, in order")
    for i, (example, prediction) in enumerate(zip(gold, predicted)):
        if example.document_id != prediction.document_id:
            raise ValueError(f"evaluate: item {i} pairs gold document {example.document_id} with "
                             f"a prediction for document {prediction.document_id}")


def precision_recall_f1(gold: set[Hashable], predicted: set[Hashable]) -> dict[str, float]:
    """Exact-match scores of two sets; an empty side scores 0 rather than dividing by zero."""
    correct = len(gold & predicted)
    precision = correct / len(predicted) if predicted else 0.0
    recall = correct / len(gold) if gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if correct else 0.0
    return {"precision": precision, "recall": recall, "f1": f1,
            "gold": float(len(gold)), "predicted": float(len(predicted)), "correct": float(correct)}


def evaluate(gold: Sequence[Example], predicted: Sequence[DocumentPrediction]) -> dict[str, float]:
    check_aligned(gold, predicted)
    gold_entities, predicted_entities = set(), set()
    for i, (example, prediction) in enumerate(zip(gold, predicted)):
        gold_entities |= {(i, a.start, a.end, a.label) for a in example.annotations if a.kind == SPAN}
        predicted_entities |= {(i, a.start, a.end, a.label) for a in prediction.annotations if a.kind == SPAN}
    return precision_recall_f1(gold_entities, predicted_entities)
