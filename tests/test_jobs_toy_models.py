"""Tiny but real learning models for the live-loop tests, registered as a plugin.

``toy.bow.v1`` classifies documents (multinomial naive Bayes over words) and
``toy.tagger.v1`` tags tokens (naive Bayes over the word and its left neighbour); both are
pure numpy, train in milliseconds and learn for real. ``seconds_per_epoch`` in their config
slows training down so tests can watch progress or kill a worker mid-run.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pluggy

from leanlife_server.plugin_api import (
    DOCUMENT,
    SPAN,
    AnnotationData,
    Dataset,
    DocumentPrediction,
    Example,
    Model,
    ModelDefinition,
    ProgressCallback,
)

hookimpl = pluggy.HookimplMarker("leanlife")
TOKEN = re.compile(r"\w+|[^\w\s]")
OUTSIDE = "O"


def tokens(text: str) -> list[re.Match]:
    return list(TOKEN.finditer(text))


class NaiveBayes:
    """Multinomial naive Bayes over sparse feature counts, with add-one smoothing."""

    def __init__(self, classes: list[str], vocabulary: dict[str, int] | None = None,
                 log_prior: np.ndarray | None = None, log_likelihood: np.ndarray | None = None):
        self.classes = classes
        self.vocabulary = vocabulary or {}
        self.log_prior = log_prior
        self.log_likelihood = log_likelihood

    def fit(self, samples: Sequence[list[str]], targets: Sequence[str]) -> None:
        for features in samples:
            for feature in features:
                self.vocabulary.setdefault(feature, len(self.vocabulary))
        counts = np.ones((len(self.classes), len(self.vocabulary) + 1))
        class_counts = np.ones(len(self.classes))
        for features, target in zip(samples, targets):
            row = self.classes.index(target)
            class_counts[row] += 1
            for feature in features:
                counts[row, self.vocabulary[feature]] += 1
        self.log_prior = np.log(class_counts / class_counts.sum())
        self.log_likelihood = np.log(counts / counts.sum(axis=1, keepdims=True))

    def predict_proba(self, samples: Sequence[list[str]]) -> np.ndarray:
        unknown = len(self.vocabulary)
        scores = np.tile(self.log_prior, (len(samples), 1))
        for i, features in enumerate(samples):
            for feature in features:
                scores[i] += self.log_likelihood[:, self.vocabulary.get(feature, unknown)]
        scores -= scores.max(axis=1, keepdims=True)
        probabilities = np.exp(scores)
        return probabilities / probabilities.sum(axis=1, keepdims=True)

    def to_json(self) -> dict[str, Any]:
        return {"classes": self.classes, "vocabulary": self.vocabulary}

    def save(self, directory: Path) -> None:
        (directory / "vocabulary.json").write_text(json.dumps(self.to_json()))
        np.savez(directory / "weights.npz", log_prior=self.log_prior, log_likelihood=self.log_likelihood)

    @classmethod
    def load(cls, directory: Path) -> "NaiveBayes":
        meta = json.loads((directory / "vocabulary.json").read_text())
        weights = np.load(directory / "weights.npz")
        return cls(meta["classes"], meta["vocabulary"], weights["log_prior"], weights["log_likelihood"])


class ToyModel(Model):
    def __init__(self, config: Mapping[str, Any], labels: Mapping[str, str], device: str,
                 bayes: NaiveBayes | None = None):
        self.config = dict(config)
        self.labels = dict(labels)
        self.device = device
        self.bayes = bayes

    def _slow_epochs(self, progress: ProgressCallback) -> None:
        epochs = int(self.config.get("epochs", 1))
        for epoch in range(epochs):
            time.sleep(float(self.config.get("seconds_per_epoch", 0.0)))
            progress((epoch + 1) / epochs, {"epoch": epoch + 1, "epochs": epochs})

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True)
        (directory / "model.json").write_text(json.dumps({"config": self.config, "labels": self.labels}))
        if self.config.get("crash_in_save"):  # a disk that fills up half-way through a save
            raise OSError(28, "No space left on device")
        self.bayes.save(directory)

    @classmethod
    def load(cls, directory: Path, device: str = "cpu") -> "ToyModel":
        meta = json.loads((directory / "model.json").read_text())
        return cls(meta["config"], meta["labels"], device, NaiveBayes.load(directory))


class BagOfWordsClassifier(ToyModel):
    """One label per document."""

    def train(self, data: Dataset, progress: ProgressCallback) -> Mapping[str, float]:
        classes = sorted(name for name, kind in self.labels.items() if kind == DOCUMENT)
        examples = [e for e in data.labeled if e.annotations]
        self.bayes = NaiveBayes(classes)
        self.bayes.fit([[t.group().lower() for t in tokens(e.text)] for e in examples],
                       [e.annotations[0].label for e in examples])
        self._slow_epochs(progress)
        return {"examples": float(len(examples))}

    def predict(self, examples: Sequence[Example]) -> list[DocumentPrediction]:
        if not examples:
            return []
        probabilities = self.bayes.predict_proba([[t.group().lower() for t in tokens(e.text)] for e in examples])
        out = []
        for example, row in zip(examples, probabilities):
            best = int(row.argmax())
            out.append(DocumentPrediction(example.document_id, (
                AnnotationData(DOCUMENT, self.bayes.classes[best], confidence=float(row[best])),),
                [row.tolist()]))
        return out


def _token_features(words: list[str], i: int) -> list[str]:
    return [f"w={words[i]}", f"prev={words[i - 1] if i else '<s>'}"]


class TokenTagger(ToyModel):
    """A label (or O) per token; adjacent tokens with one label form an entity span."""

    def train(self, data: Dataset, progress: ProgressCallback) -> Mapping[str, float]:
        classes = [OUTSIDE] + sorted(name for name, kind in self.labels.items() if kind == SPAN)
        samples, targets = [], []
        for example in data.labeled:
            found = tokens(example.text)
            words = [t.group().lower() for t in found]
            for i, token in enumerate(found):
                label = next((a.label for a in example.annotations
                              if a.kind == SPAN and a.start <= token.start() and token.end() <= a.end), OUTSIDE)
                samples.append(_token_features(words, i))
                targets.append(label)
        self.bayes = NaiveBayes(classes)
        self.bayes.fit(samples, targets)
        self._slow_epochs(progress)
        return {"tokens": float(len(samples))}

    def _spans(self, found: list[re.Match], row_labels: list[int], rows: np.ndarray) -> list[AnnotationData]:
        spans, i = [], 0
        while i < len(found):
            label = row_labels[i]
            j = i
            while j + 1 < len(found) and row_labels[j + 1] == label:
                j += 1
            if self.bayes.classes[label] != OUTSIDE:
                confidence = float(min(rows[k, label] for k in range(i, j + 1)))
                # Its evidence, shaped like TriggerNER's: the left neighbour it learned from, a
                # word of this text with its character offsets.
                left = found[i - 1] if i else None
                evidence = {"triggers": [{"text": left.group(), "start": left.start(), "end": left.end(),
                                          "weight": 1.0}]} if left else {}
                spans.append(AnnotationData(SPAN, self.bayes.classes[label], start=found[i].start(),
                                            end=found[j].end(), confidence=confidence, evidence=evidence))
            i = j + 1
        return spans

    def predict(self, examples: Sequence[Example]) -> list[DocumentPrediction]:
        out = []
        for example in examples:
            found = tokens(example.text)
            words = [t.group().lower() for t in found]
            rows = self.bayes.predict_proba([_token_features(words, i) for i in range(len(found))])
            out.append(DocumentPrediction(example.document_id,
                                          tuple(self._spans(found, rows.argmax(axis=1).tolist(), rows)),
                                          rows.tolist()))
        return out


def make_classifier(config: Mapping[str, Any], labels: Mapping[str, str], device: str) -> Model:
    return BagOfWordsClassifier(config, labels, device)


def make_tagger(config: Mapping[str, Any], labels: Mapping[str, str], device: str) -> Model:
    return TokenTagger(config, labels, device)


@hookimpl
def leanlife_models() -> list[ModelDefinition]:
    return [ModelDefinition("toy.bow.v1", ("sa",), f"{__name__}:make_classifier",
                            default_config={"epochs": 1, "seconds_per_epoch": 0.0}),
            ModelDefinition("toy.tagger.v1", ("ner",), f"{__name__}:make_tagger",
                            default_config={"epochs": 1, "seconds_per_epoch": 0.0})]


# Data the tests train on ----------------------------------------------------------------

POSITIVE = ["a wonderful film", "great acting and a great story", "i loved it", "wonderful and moving",
            "a great joy", "loved every minute", "superb and wonderful", "great fun"]
NEGATIVE = ["a terrible film", "awful acting and a dull story", "i hated it", "dull and boring",
            "a terrible bore", "hated every minute", "awful and terrible", "boring mess"]
SENTIMENT_LABELS = (("pos", DOCUMENT), ("neg", DOCUMENT))


def sentiment_examples() -> list[Example]:
    return [Example(i, text, (AnnotationData(DOCUMENT, label),))
            for i, (text, label) in enumerate([(t, "pos") for t in POSITIVE] + [(t, "neg") for t in NEGATIVE])]


def test_classifier_learns_and_reloads(tmp_path):
    model = make_classifier({}, dict(SENTIMENT_LABELS), "cpu")
    reports = []
    model.train(Dataset("sa", dict(SENTIMENT_LABELS), "none", sentiment_examples()),
                lambda fraction, details: reports.append(fraction))
    unseen = [Example(None, "what a wonderful story"), Example(None, "so dull and awful")]
    predictions = model.predict(unseen)
    assert [p.annotations[0].label for p in predictions] == ["pos", "neg"]
    assert reports[-1] == 1.0
    model.save(tmp_path / "m")
    again = BagOfWordsClassifier.load(tmp_path / "m").predict(unseen)
    assert [p.probabilities for p in again] == [p.probabilities for p in predictions]


def test_tagger_learns_entities_from_context():
    labels = {"PER": SPAN, "LOC": SPAN}
    texts = [("mr smith went to paris", [(3, 8, "PER"), (17, 22, "LOC")]),
             ("mr jones flew to rome", [(3, 8, "PER"), (17, 21, "LOC")]),
             ("ms brown lives in oslo", [(3, 8, "PER"), (18, 22, "LOC")])]
    data = Dataset("ner", labels, "none", [
        Example(i, text, tuple(AnnotationData(SPAN, label, start=s, end=e) for s, e, label in spans))
        for i, (text, spans) in enumerate(texts)])
    model = make_tagger({}, labels, "cpu")
    model.train(data, lambda fraction, details: None)
    [prediction] = model.predict([Example(None, "mr green went to rome")])
    found = {(a.start, a.end, a.label) for a in prediction.annotations}
    assert (17, 21, "LOC") in found
    assert len(prediction.probabilities) == 5
