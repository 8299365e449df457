"""SA evaluation: accuracy (the predicted label set equals the gold set, which for one label
per document is plain accuracy) and macro F1 (per label, one against the rest, averaged over
every label that occurs in the gold or the predicted documents)."""

from __future__ import annotations

from typing import Sequence

from leanlife_server.plugin_api import DOCUMENT, DocumentPrediction, Example, check_aligned, precision_recall_f1


def evaluate(gold: Sequence[Example], predicted: Sequence[DocumentPrediction]) -> dict[str, float]:
    check_aligned(gold, predicted)
    gold_sets = [{a.label for a in example.annotations if a.kind == DOCUMENT} for example in gold]
    predicted_sets = [{a.label for a in prediction.annotations if a.kind == DOCUMENT}
                      for prediction in predicted]
    labels = set().union(*gold_sets, *predicted_sets)
    f1s = [precision_recall_f1({i for i, s in enumerate(gold_sets) if label in s},
                               {i for i, s in enumerate(predicted_sets) if label in s})["f1"]
           for label in sorted(labels)]
    correct = sum(g == p for g, p in zip(gold_sets, predicted_sets))
    return {"accuracy": correct / len(gold) if gold else 0.0,
            "macro_f1": sum(f1s) / len(f1s) if f1s else 0.0,
            "documents": float(len(gold))}
