"""``next_rules.v1``: NExT's strict rule matching alone, the cheap relation recommender.

Training parses every natural-language explanation of the labeled relations into a rule (the
reading must hold on the pair it explains, as in ``next.v1``); nothing is learned beyond the
rules, so it takes milliseconds and needs no torch. A rule's confidence is how often it was
right where it held on the labeled documents' candidate pairs, by Laplace's rule of
succession: (right + 1) / (held + 2), so a rule that held only on the pair it explains
scores 2/3. Prediction scores every candidate pair with the rules, matched strictly (exact
phrases, hard distance limits); a pair gets the label of its most confident rule (a tie
between rules of different labels: no suggestion). Rules below ``min_confidence`` are not used.
The evidence names the explanations that held and the words of the text that made them hold.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from leanlife_next import RULES_CONFIG as DEFAULT_CONFIG
from leanlife_next.examples import candidate_pairs, entities, relation_instance
from leanlife_next.execute import Corpus
from leanlife_next.labeling import LabelingRule, rule_scores
from leanlife_next.logic import from_json, to_json
from leanlife_next.parser import ParseError, parse
from leanlife_next.witnesses import witnesses
from leanlife_server.plugin_api import (
    RELATION,
    AnnotationData,
    Dataset,
    DocumentPrediction,
    Example,
    Model,
    ProgressCallback,
)

FILE = "rules.json"
FORMAT = 1


def _pairs(example: Example) -> list[tuple[int, int]]:
    return [(s.id, o.id) for s, o in candidate_pairs(example)]


class RuleMatcher(Model):
    def __init__(self, config: Mapping[str, Any], labels: Mapping[str, str],
                 rules: Sequence[tuple[LabelingRule, int, int]] = ()):
        self.config = {**DEFAULT_CONFIG, **config}
        self.labels = dict(labels)
        self._use(rules)

    def _use(self, rules: Sequence[tuple[LabelingRule, int, int]]) -> None:
        """``rules``: (rule, right, held) triples."""
        self.all_rules = list(rules)
        minimum = float(self.config["min_confidence"])
        kept = [(r, (right + 1) / (held + 2)) for r, right, held in self.all_rules
                if self.labels.get(r.label) == RELATION and (right + 1) / (held + 2) >= minimum]
        self.rules = [r for r, _ in kept]
        self.confidence = np.array([c for _, c in kept], dtype=np.float32)

    # training ---------------------------------------------------------------------------
    def train(self, data: Dataset, progress: ProgressCallback) -> Mapping[str, float]:
        rules, unparsed = [], 0
        gold: dict[tuple[int, int], str] = {}  # (subject id, object id) -> label, labeled documents
        instances, keys = [], []
        for example in data.labeled:
            spans = entities(example)
            for annotation in example.annotations:
                if annotation.kind != RELATION or self.labels.get(annotation.label) != RELATION:
                    continue
                if annotation.subject_id not in spans or annotation.object_id not in spans:
                    continue
                gold[(annotation.subject_id, annotation.object_id)] = annotation.label
                instance = relation_instance(example, spans[annotation.subject_id], spans[annotation.object_id])
                for explanation in annotation.explanations:
                    try:
                        reading = parse(explanation.text or "", instance)
                    except ParseError:
                        unparsed += 1
                        continue
                    rules.append(LabelingRule(explanation.text, annotation.label, reading.formula))
            for subject, obj in candidate_pairs(example):
                instances.append(relation_instance(example, subject, obj))
                keys.append((subject.id, obj.id))
        held = rule_scores(rules, Corpus(instances)) > 0.5 if instances else np.zeros((len(rules), 0), bool)
        truth = np.array([[gold.get(k) == r.label for k in keys] for r in rules], dtype=bool).reshape(held.shape)
        counted = [(r, int((held[i] & truth[i]).sum()), int(held[i].sum())) for i, r in enumerate(rules)]
        self._use(counted)
        progress(1.0, {"rules": len(rules)})
        return {"rules": float(len(rules)), "rules_used": float(len(self.rules)),
                "explanations_unparsed": float(unparsed)}

    # prediction -------------------------------------------------------------------------
    def predict(self, examples: Sequence[Example]) -> list[DocumentPrediction]:
        out = []
        for example in examples:
            pairs = candidate_pairs(example)
            annotations = []
            if pairs and self.rules:
                instances = [relation_instance(example, s, o) for s, o in pairs]
                corpus = Corpus(instances)
                held = rule_scores(self.rules, corpus) > 0.5  # [rules, pairs]
                cited = None
                for n, (subject, obj) in enumerate(pairs):
                    fired = np.flatnonzero(held[:, n])
                    if not len(fired):
                        continue
                    best = float(self.confidence[fired].max())
                    top = [i for i in fired if self.confidence[i] == best]
                    if len({self.rules[i].label for i in top}) > 1:
                        continue  # rules of different labels, equally sure: no suggestion
                    label = self.rules[top[0]].label
                    if cited is None:
                        cited = [witnesses(r.formula, corpus) for r in self.rules]
                    mine = [i for i in fired if self.rules[i].label == label]
                    instance = instances[n]
                    spans = sorted({(instance.offsets[first][0], instance.offsets[last - 1][1])
                                    for i in mine for first, last in cited[i][n]})
                    evidence = {"source": "rules",
                                "explanations": [self.rules[i].text for i in mine],
                                "triggers": [{"text": example.text[s:e], "start": s, "end": e} for s, e in spans]}
                    annotations.append(AnnotationData(RELATION, label, subject_id=subject.id, object_id=obj.id,
                                                      confidence=best, evidence=evidence))
            out.append(DocumentPrediction(example.document_id, tuple(annotations)))
        return out

    # files ------------------------------------------------------------------------------
    def save(self, directory: Path) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / FILE).write_text(json.dumps(
            {"format": FORMAT, "config": self.config, "labels": self.labels,
             "rules": [{"text": r.text, "label": r.label, "formula": to_json(r.formula),
                        "right": right, "held": held} for r, right, held in self.all_rules]},
            ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path, device: str = "cpu") -> "RuleMatcher":
        saved = json.loads((Path(directory) / FILE).read_text(encoding="utf-8"))
        if saved.get("format") != FORMAT:
            raise ValueError(f"{directory / FILE}: rules format {saved.get('format')!r}; this plugin reads {FORMAT}")
        return cls(saved["config"], saved["labels"],
                   [(LabelingRule(r["text"], r["label"], from_json(r["formula"])), r["right"], r["held"])
                    for r in saved["rules"]])


def build_rules(config: Mapping[str, Any], labels: Mapping[str, str], device: str = "cpu") -> RuleMatcher:
    return RuleMatcher(config, labels)
