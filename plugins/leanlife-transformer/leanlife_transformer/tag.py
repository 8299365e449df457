"""NER as BIO tagging of word pieces. Long documents are cut into windows of ``max_length``
pieces; the pieces' character offsets turn the tags back into exact spans of the text."""

from __future__ import annotations

from typing import Sequence

import torch
from torch.nn import functional

from leanlife_server.plugin_api import SPAN, AnnotationData, DocumentPrediction, Example
from leanlife_transformer import NER_MODEL
from leanlife_transformer.base import Feature, TransformerModel
from leanlife_transformer.network import TOKENS

OUTSIDE = "O"
IGNORED = -100  # the target of special tokens, which the loss skips

Offsets = list[tuple[int, int] | None]  # per piece; None for special tokens


class TokenTagger(TransformerModel):
    name = NER_MODEL
    task = "ner"
    pooling = TOKENS

    def _classes(self) -> list[str]:
        names = [name for name, kind in self.labels.items() if kind == SPAN]
        if not names:
            raise ValueError(f"labels: model {self.name} needs at least one span label")
        return [OUTSIDE] + [f"{prefix}-{name}" for name in names for prefix in ("B", "I")]

    def _windows(self, text: str) -> list[Feature]:
        return self._windows_many([text])[0]

    def _windows_many(self, texts: Sequence[str]) -> list[list[Feature]]:
        """Each text cut into windows of at most ``max_length`` pieces, all texts in one
        tokenizer call; each window knows its pieces' character offsets."""
        if not texts:
            return []
        encoded = self.tokenizer(list(texts), truncation=True, max_length=self.config.max_length,
                                 return_overflowing_tokens=True, return_offsets_mapping=True)
        windows: list[list[Feature]] = [[] for _ in texts]
        for i, ids in enumerate(encoded["input_ids"]):
            pieces = zip(encoded["offset_mapping"][i], encoded.sequence_ids(i))
            offsets: Offsets = [tuple(offset) if sequence is not None and offset[0] < offset[1] else None
                                for offset, sequence in pieces]
            windows[encoded["overflow_to_sample_mapping"][i]].append(Feature(list(ids), context=offsets))
        return windows

    def _training_features(self, example: Example) -> list[Feature]:
        entities = sorted((a for a in example.annotations if a.kind == SPAN), key=lambda a: (a.start, a.end))
        for entity in entities:
            if f"B-{entity.label}" not in self.classes:
                raise ValueError(f"document {example.document_id}: label {entity.label!r} is not one of "
                                 f"this model's span labels")
        windows = self._windows(example.text)
        for window in windows:
            window.target = [self._tag(offset, entities) for offset in window.context]
        return windows

    def _tag(self, offset: tuple[int, int] | None, entities: Sequence[AnnotationData]) -> int:
        if offset is None:
            return IGNORED
        start, end = offset
        for entity in entities:
            if entity.start < end and start < entity.end:
                prefix = "B" if start <= entity.start else "I"
                return self.classes.index(f"{prefix}-{entity.label}")
        return self.classes.index(OUTSIDE)

    def _prediction_features(self, example: Example) -> list[Feature]:
        return self._windows(example.text)

    def _prediction_features_many(self, examples: Sequence[Example]) -> list[list[Feature]]:
        return self._windows_many([example.text for example in examples])

    def _targets(self, features: Sequence[Feature], width: int) -> torch.Tensor:
        return torch.tensor([f.target + [IGNORED] * (width - len(f.target)) for f in features])

    def _loss(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return functional.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=IGNORED)

    def _decode(self, example: Example, features: Sequence[Feature],
                probabilities: Sequence[torch.Tensor]) -> DocumentPrediction:
        rows: list[list[float]] = []
        spans: list[AnnotationData] = []
        current: tuple[str, int, int, list[float]] | None = None  # label, start, end, tag probabilities

        def close() -> None:
            if current is not None:
                label, start, end, confidences = current
                spans.append(AnnotationData(SPAN, label, start=start, end=end,
                                            confidence=sum(confidences) / len(confidences)))

        for feature, window in zip(features, probabilities):
            for offset, row in zip(feature.context, window.tolist()):
                if offset is None:
                    continue
                rows.append(row)
                best = max(range(len(row)), key=row.__getitem__)
                tag = self.classes[best]
                if tag == OUTSIDE:
                    close()
                    current = None
                elif tag.startswith("I-") and current is not None and current[0] == tag[2:]:
                    current = (current[0], current[1], offset[1], current[3] + [row[best]])
                else:  # B-, or an I- that continues nothing: a new entity either way
                    close()
                    current = (tag[2:], offset[0], offset[1], [row[best]])
        close()
        return DocumentPrediction(example.document_id, tuple(spans), probabilities=rows)
