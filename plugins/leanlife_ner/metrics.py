"""NER evaluation: entity-level micro precision, recall and F1 (a predicted entity counts only
when its span and label both match a gold entity exactly).

``check_aligned`` and ``precision_recall_f1`` come from the plugin API; the RE and SA metrics
score sets of tuples with them too.
"""

from __future__ import annotations

from typing import Sequence

from leanlife_server.plugin_api import SPAN, DocumentPrediction, Example, check_aligned, precision_recall_f1


def evaluate(gold: Sequence[Example], predicted: Sequence[DocumentPrediction]) -> dict[str, float]:
    check_aligned(gold, predicted)
    gold_entities, predicted_entities = set(), set()
    for i, (example, prediction) in enumerate(zip(gold, predicted)):
        gold_entities |= {(i, a.start, a.end, a.label) for a in example.annotations if a.kind == SPAN}
        predicted_entities |= {(i, a.start, a.end, a.label) for a in prediction.annotations if a.kind == SPAN}
    return precision_recall_f1(gold_entities, predicted_entities)
