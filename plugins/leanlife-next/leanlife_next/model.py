"""``next.v1``: the LeanLife model interface around parser, matcher and classifier (torch).

Relation projects: one instance per ordered pair of entity spans in a document (the
subject and object become placeholders typed by the span's label); sentiment projects: one
instance per document. Explanations are parsed against the annotation they explain; the
ones that do not parse are counted in the metrics and otherwise left out.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from leanlife_next.classifier import BILSTM, build_classifier
from leanlife_next.embeddings import build_vocabulary
from leanlife_next.execute import Corpus
from leanlife_next.labeling import LabelingRule, rule_scores
from leanlife_next.logic import from_json, phrases, to_json
from leanlife_next.parser import ParseError, parse
from leanlife_next.soft import PhraseMatcher, build_matcher
from leanlife_next.examples import candidate_pairs, entities, relation_instance
from leanlife_next.tokens import Instance, instance_from_text
from leanlife_next.training import TrainingSet, train
from leanlife_next.witnesses import witnesses
from leanlife_server.plugin_api import (
    DOCUMENT,
    RELATION,
    SPAN,
    AnnotationData,
    Dataset,
    DocumentPrediction,
    Example,
    Model,
    ProgressCallback,
)

WEIGHTS = "classifier.safetensors"
LEGACY_WEIGHTS = "classifier.pt"


class NextModel(Model):
    def __init__(self, config: Mapping[str, Any], labels: Mapping[str, str] | Sequence[str],
                 device: str = "cpu"):
        self.config = dict(config)
        self.device = device
        self.task = self.config.get("task", "")
        names = labels.items() if isinstance(labels, Mapping) else ((n, None) for n in labels)
        self.classes = sorted(n for n, kind in names if kind in (None, RELATION, DOCUMENT))
        self.rules: list[LabelingRule] = []
        self.vocabulary: dict[str, int] = {}
        self.classifier: torch.nn.Module | None = None
        self.matcher: PhraseMatcher | None = None  # the soft matcher training used (not saved)

    # data --------------------------------------------------------------------------------
    def _labeled(self, data: Dataset) -> tuple[list[tuple[Instance, int]], list[LabelingRule], int]:
        explained, rules, unparsed = [], [], 0
        for example in data.labeled:
            spans = entities(example)
            for annotation in example.annotations:
                if annotation.label not in self.classes or annotation.kind == SPAN:
                    continue
                if annotation.kind == RELATION:
                    instance = relation_instance(example, spans[annotation.subject_id],
                                                 spans[annotation.object_id])
                else:
                    instance = instance_from_text(example.text, {})
                explained.append((instance, self.classes.index(annotation.label)))
                for explanation in annotation.explanations:
                    try:
                        reading = parse(explanation.text or "", instance)
                    except ParseError:
                        unparsed += 1
                        continue
                    rules.append(LabelingRule(explanation.text, annotation.label, reading.formula, instance))
        return explained, rules, unparsed

    def instances(self, example: Example) -> list[Instance]:
        if self.task == "re":
            return [relation_instance(example, s, o) for s, o in candidate_pairs(example)]
        return [instance_from_text(example.text, {})]

    # Model interface ----------------------------------------------------------------------
    def train(self, data: Dataset, progress: ProgressCallback) -> Mapping[str, float]:
        self.task = self.config["task"] = data.task
        if not self.classes:
            self.classes = sorted(n for n, k in data.labels.items() if k in (RELATION, DOCUMENT))
        explained, rules, unparsed = self._labeled(data)
        unlabeled = [i for e in data.unlabeled for i in self.instances(e)]
        return self.fit(explained, rules, unlabeled, progress) | {"explanations_unparsed": unparsed}

    def fit(self, explained: Sequence[tuple[Instance, int]], rules: Sequence[LabelingRule],
            unlabeled: Sequence[Instance], progress: ProgressCallback) -> dict[str, float]:
        """Train from instances directly (what ``train`` and the benchmarks share)."""
        if not explained:
            raise ValueError("NExT needs at least one labeled example to train")
        self.rules = list(rules)
        words = [w for i, _ in explained for w in i.words] + [w for i in unlabeled for w in i.words]
        words += [w for r in rules for p in phrases(r.formula) for w in p.words]
        self.vocabulary, vectors = build_vocabulary(words)
        torch.manual_seed(int(self.config.get("seed", 0)))  # the seed fixes the initial weights too
        self.classifier = build_classifier(self.config.get("classifier", BILSTM), self.vocabulary,
                                           vectors, len(self.classes), self.config)
        self.matcher = build_matcher(self.config, vectors, self.rules)
        training = TrainingSet(explained, self.rules, unlabeled, self.classes)
        metrics = train(self.classifier, self.matcher, training, self.vocabulary, self.config,
                        self.device, progress)
        metrics["rules"] = len(self.rules)
        return metrics

    def probabilities(self, instances: Sequence[Instance], batch_size: int = 256) -> np.ndarray:
        assert self.classifier is not None, "train or load the model first"
        self.classifier.eval()
        rows = []
        with torch.no_grad():
            for start in range(0, len(instances), batch_size):
                chunk = instances[start:start + batch_size]
                logits = self.classifier(**self.classifier.batch(chunk, self.device))
                rows.append(torch.softmax(logits, -1).cpu().numpy())
        return np.concatenate(rows) if rows else np.zeros((0, len(self.classes)))

    def fired(self, instances: Sequence[Instance]) -> list[list[tuple[LabelingRule, list[tuple[int, int]]]]]:
        """The rules that hold on each instance, each with the token ranges of the words of the
        instance through which it holds."""
        corpus = Corpus(instances)
        scores = rule_scores(self.rules, corpus)
        cited = [witnesses(r.formula, corpus) for r in self.rules]
        return [[(r, found[n]) for r, row, found in zip(self.rules, scores, cited) if row[n] > 0.5]
                for n in range(len(instances))]

    @staticmethod
    def _evidence(text: str, instance: Instance, label: str,
                  fired: Sequence[tuple[LabelingRule, list[tuple[int, int]]]]) -> dict[str, Any]:
        """The explanations for ``label`` that hold, and the words of ``text`` that made them
        hold, as ``{"text", "start", "end"}`` character spans in text order."""
        spans = sorted({(instance.offsets[first][0], instance.offsets[last - 1][1])
                        for rule, ranges in fired if rule.label == label for first, last in ranges})
        return {"explanations": [rule.text for rule, _ in fired if rule.label == label],
                "triggers": [{"text": text[start:end], "start": start, "end": end} for start, end in spans]}

    def predict(self, examples: Sequence[Example]) -> list[DocumentPrediction]:
        out = []
        for example in examples:
            pairs = candidate_pairs(example) if self.task == "re" else [None]
            instances = self.instances(example)
            probs = self.probabilities(instances)
            fired = self.fired(instances)
            annotations = []
            for pair, row, rules, instance in zip(pairs, probs, fired, instances):
                label = self.classes[int(row.argmax())]
                evidence = self._evidence(example.text, instance, label, rules)
                common = {"label": label, "confidence": float(row.max()), "evidence": evidence}
                if pair is None:
                    annotations.append(AnnotationData(DOCUMENT, **common))
                else:
                    annotations.append(AnnotationData(RELATION, subject_id=pair[0].id,
                                                      object_id=pair[1].id, **common))
            out.append(DocumentPrediction(example.document_id, tuple(annotations),
                                          [list(map(float, r)) for r in probs]))
        return out

    def save(self, directory: Path) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        card = {"model": "next.v1", "config": self.config, "classes": self.classes,
                "vocabulary": self.vocabulary,
                "rules": [{"text": r.text, "label": r.label, "formula": to_json(r.formula)}
                          for r in self.rules]}
        (directory / "model.json").write_text(json.dumps(card), encoding="utf-8")
        save_file({k: v.detach().contiguous() for k, v in self.classifier.state_dict().items()},
                  directory / WEIGHTS)

    @classmethod
    def load(cls, directory: Path, device: str = "cpu") -> "NextModel":
        card = json.loads((Path(directory) / "model.json").read_text(encoding="utf-8"))
        model = cls(card["config"], card["classes"], device)
        model.task = card["config"].get("task", "")
        model.vocabulary = card["vocabulary"]
        model.rules = [LabelingRule(r["text"], r["label"], from_json(r["formula"])) for r in card["rules"]]
        state = _read_weights(Path(directory), device)
        shape = state["embed.weight"].shape if "embed.weight" in state else (len(model.vocabulary), 50)
        model.classifier = build_classifier(card["config"].get("classifier", BILSTM), model.vocabulary,
                                            np.zeros(shape, dtype=np.float32), len(model.classes),
                                            card["config"])
        model.classifier.load_state_dict(state)
        model.classifier.to(device)
        return model


def _read_weights(directory: Path, device: str) -> dict[str, torch.Tensor]:
    if (directory / WEIGHTS).is_file():
        return load_file(directory / WEIGHTS, device=device)
    # Versions saved before safetensors: torch's restricted unpickler, tensors only.
    return torch.load(directory / LEGACY_WEIGHTS, map_location=device, weights_only=True)


def build_model(config: Mapping[str, Any], labels: Mapping[str, str], device: str = "cpu") -> NextModel:
    return NextModel(config, labels, device)
