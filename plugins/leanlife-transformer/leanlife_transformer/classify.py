"""Document classification (SA): one label per document, or several in multi-label mode."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import torch
from torch.nn import functional

from leanlife_server.plugin_api import DOCUMENT, AnnotationData, Dataset, DocumentPrediction, Example
from leanlife_transformer import SA_MODEL
from leanlife_transformer.base import Feature, TransformerModel
from leanlife_transformer.network import MEAN

MULTI_LABEL_THRESHOLD = 0.5  # a label applies when its sigmoid probability reaches this


def document_classes(labels: Mapping[str, str], model_name: str) -> list[str]:
    """The project's document labels, in order: the classes of an SA model."""
    classes = [name for name, kind in labels.items() if kind == DOCUMENT]
    if not classes:
        raise ValueError(f"labels: model {model_name} needs at least one document label")
    return classes


def document_labels(example: Example, classes: Sequence[str]) -> list[str]:
    """The example's document labels, each checked to be one of ``classes``."""
    names = sorted({a.label for a in example.annotations if a.kind == DOCUMENT})
    for name in names:
        if name not in classes:
            raise ValueError(f"document {example.document_id}: label {name!r} is not one of "
                             f"this model's document labels {list(classes)}")
    return names


def document_target(example: Example, names: Sequence[str], classes: Sequence[str], multi_label: bool,
                    model_name: str) -> Any:
    """The training target of a document with the labels ``names``: a 0/1 vector over the
    classes (multi-label) or the index of its one class."""
    if multi_label:
        return [1.0 if c in names else 0.0 for c in classes]
    if len(names) > 1:
        raise ValueError(f"document {example.document_id}: has labels {list(names)}, but model "
                         f"{model_name} was configured single-label (multi_label: false)")
    return classes.index(names[0])


def document_prediction(example: Example, row: Sequence[float], classes: Sequence[str],
                        multi_label: bool) -> DocumentPrediction:
    """The labels that ``row`` (one probability per class) chooses, with their confidences."""
    row = [float(p) for p in row]
    if multi_label:
        chosen = [i for i, p in enumerate(row) if p >= MULTI_LABEL_THRESHOLD]
    else:
        chosen = [max(range(len(row)), key=row.__getitem__)]
    annotations = tuple(AnnotationData(DOCUMENT, classes[i], confidence=row[i]) for i in chosen)
    return DocumentPrediction(example.document_id, annotations, probabilities=[row])


class DocumentClassifier(TransformerModel):
    name = SA_MODEL
    task = "sa"
    pooling = MEAN

    def __init__(self, config: Mapping[str, Any], labels: Mapping[str, str], device: str | None = "cpu"):
        super().__init__(config, labels, device)
        self.multi_label = bool(self.config.multi_label)

    def _classes(self) -> list[str]:
        return document_classes(self.labels, self.name)

    def _prepare(self, data: Dataset) -> None:
        if self.config.multi_label is None:
            self.multi_label = any(len(self._document_labels(example)) > 1 for example in data.labeled)

    def _document_labels(self, example: Example) -> list[str]:
        return document_labels(example, self.classes)

    def _encode(self, examples: Sequence[Example]) -> list[list[int]]:
        """The word-piece ids of each example's text, all in one tokenizer call."""
        if not examples:
            return []
        return self.tokenizer([example.text for example in examples], truncation=True,
                              max_length=self.config.max_length)["input_ids"]

    def _training_features(self, example: Example) -> list[Feature]:
        names = self._document_labels(example)
        if not names:
            return []
        target = document_target(example, names, self.classes, self.multi_label, self.name)
        return [Feature(self._encode([example])[0], target)]

    def _prediction_features(self, example: Example) -> list[Feature]:
        return self._prediction_features_many([example])[0]

    def _prediction_features_many(self, examples: Sequence[Example]) -> list[list[Feature]]:
        return [[Feature(ids)] for ids in self._encode(examples)]

    def _targets(self, features: Sequence[Feature], width: int) -> torch.Tensor:
        dtype = torch.float if self.multi_label else torch.long
        return torch.tensor([f.target for f in features], dtype=dtype)

    def _loss(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        if self.multi_label:
            return functional.binary_cross_entropy_with_logits(logits, targets)
        return functional.cross_entropy(logits, targets)

    def _probabilities(self, logits: torch.Tensor) -> torch.Tensor:
        return logits.float().sigmoid() if self.multi_label else logits.float().softmax(-1)

    def _decode(self, example: Example, features: Sequence[Feature],
                probabilities: Sequence[torch.Tensor]) -> DocumentPrediction:
        return document_prediction(example, probabilities[0].tolist(), self.classes, self.multi_label)

    def _state(self) -> dict[str, Any]:
        return {"multi_label": self.multi_label}

    def _restore(self, state: Mapping[str, Any]) -> None:
        self.multi_label = bool(state["multi_label"])
