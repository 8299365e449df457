"""Relation extraction: for every ordered pair of a document's entity spans, the text with
markers around subject and object ([E1] .. [/E1], [E2] .. [/E2]) is encoded, and the two
opening markers' states are classified (entity-start pooling, Baldini Soares et al. 2019).
Pairs that carry no relation annotation are examples of the ``no_relation_label`` class.

Only documents with at least one relation annotation are trained on: a document whose
entities were imported but whose relations nobody has annotated yet would otherwise teach
"no relation" for every pair. (Label the pairs that have none with a ``no_relation_label``
label, e.g. SemEval's ``Other``, to train on such documents.)"""

from __future__ import annotations

from itertools import permutations
from typing import Sequence

import torch
from torch.nn import functional

from leanlife_server.plugin_api import RELATION, SPAN, AnnotationData, DocumentPrediction, Example
from leanlife_transformer import RE_MODEL
from leanlife_transformer.base import Feature, TransformerModel
from leanlife_transformer.network import MARKERS

SUBJECT_OPEN, SUBJECT_CLOSE, OBJECT_OPEN, OBJECT_CLOSE = "[E1]", "[/E1]", "[E2]", "[/E2]"
MARKER_TOKENS = [SUBJECT_OPEN, SUBJECT_CLOSE, OBJECT_OPEN, OBJECT_CLOSE]


class RelationClassifier(TransformerModel):
    name = RE_MODEL
    task = "re"
    pooling = MARKERS

    def _classes(self) -> list[str]:
        none = self.config.no_relation_label
        relations = [name for name, kind in self.labels.items() if kind == RELATION and name != none]
        if not relations:
            raise ValueError(f"labels: model {self.name} needs at least one relation label")
        return [none] + relations

    def _adapt_tokenizer(self) -> None:
        self.tokenizer.add_tokens(MARKER_TOKENS, special_tokens=True)

    @staticmethod
    def _entities(example: Example) -> dict[int, AnnotationData]:
        return {a.id: a for a in example.annotations if a.kind == SPAN and a.id is not None}

    def _pair_feature(self, text: str, subject: AnnotationData, obj: AnnotationData) -> Feature | None:
        """The marked text of one pair, cropped around the pair when it is longer than
        ``max_length``; None when the pair itself does not fit."""
        inserts = sorted([(subject.start, 1, SUBJECT_OPEN), (subject.end, 0, SUBJECT_CLOSE),
                          (obj.start, 1, OBJECT_OPEN), (obj.end, 0, OBJECT_CLOSE)])
        pieces, position = [], 0
        for offset, _, marker in inserts:
            pieces += [text[position:offset], f" {marker} "]
            position = offset
        pieces.append(text[position:])
        ids = self.tokenizer("".join(pieces))["input_ids"]
        positions = [ids.index(marker) for marker in self.tokenizer.convert_tokens_to_ids(MARKER_TOKENS)]
        if len(ids) > self.config.max_length:
            body, room = ids[1:-1], self.config.max_length - 2
            first, last = min(positions) - 1, max(positions) - 1
            if last - first + 1 > room:
                return None
            begin = max(0, min(first - (room - (last - first + 1)) // 2, len(body) - room))
            ids = ids[:1] + body[begin:begin + room] + ids[-1:]
            positions = [p - begin for p in positions]
        return Feature(ids, markers=(positions[0], positions[2]), context=(subject.id, obj.id))

    def _pairs(self, example: Example) -> list[Feature]:
        entities = self._entities(example)
        pairs = (self._pair_feature(example.text, entities[s], entities[o])
                 for s, o in permutations(entities, 2))
        return [feature for feature in pairs if feature is not None]

    def _training_features(self, example: Example) -> list[Feature]:
        entities = self._entities(example)
        relations = {}
        for a in example.annotations:
            if a.kind != RELATION:
                continue
            for role, annotation_id in (("subject", a.subject_id), ("object", a.object_id)):
                if annotation_id not in entities:
                    raise ValueError(f"document {example.document_id}: relation {a.label!r} names {role} "
                                     f"{annotation_id}, which is not an entity span of the document")
            if a.label not in self.classes:
                raise ValueError(f"document {example.document_id}: label {a.label!r} is not one of "
                                 f"this model's relation labels")
            relations[(a.subject_id, a.object_id)] = self.classes.index(a.label)
        if not relations:
            return []
        features = self._pairs(example)
        for feature in features:
            feature.target = relations.get(feature.context, 0)
        return features

    def _prediction_features(self, example: Example) -> list[Feature]:
        return self._pairs(example)

    def _targets(self, features: Sequence[Feature], width: int) -> torch.Tensor:
        return torch.tensor([f.target for f in features])

    def _loss(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return functional.cross_entropy(logits, targets)

    def _decode(self, example: Example, features: Sequence[Feature],
                probabilities: Sequence[torch.Tensor]) -> DocumentPrediction:
        rows = [row.tolist() for row in probabilities]
        relations = []
        for feature, row in zip(features, rows):
            best = max(range(len(row)), key=row.__getitem__)
            if best != 0:  # class 0 is "no relation", which is never recommended
                subject_id, object_id = feature.context
                relations.append(AnnotationData(RELATION, self.classes[best], subject_id=subject_id,
                                                object_id=object_id, confidence=row[best]))
        return DocumentPrediction(example.document_id, tuple(relations), probabilities=rows)
