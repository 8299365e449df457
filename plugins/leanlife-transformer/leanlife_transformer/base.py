"""What the three transformer models share: building, the training loop, batched prediction,
saving and loading. Each task module says how documents become features and how outputs
become annotations."""

from __future__ import annotations

import json
import math
import random
from abc import abstractmethod
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Mapping, Sequence

import torch
from transformers import AutoTokenizer

from leanlife_server.plugin_api import Dataset, DocumentPrediction, Example, Model, ProgressCallback
from leanlife_transformer import SAVED_MODEL_FILE, default_config
from leanlife_transformer.config import TransformerConfig, checkpoint_directory
from leanlife_transformer.inference import (batch_token_budget, inference_dtype, length_batches, padded_inputs,
                                            predicting_copy, to_device)
from leanlife_transformer.network import TOKENS, EncoderClassifier, resolve_device

SAVE_FORMAT = 1
# Documents tokenized at a time when predicting: the next chunk is tokenized while the device
# runs this one, and a chunk's batches are sorted by length within it.
TOKENIZED_CHUNK = 8192
WARMUP_SHARE = 0.1  # of the training steps, with a linear rise then a linear decay
MAX_GRAD_NORM = 1.0


@dataclass
class Feature:
    """One encoder input. ``target`` is the training target (None when predicting);
    ``context`` is what the task needs to decode the output (offsets, the entity pair)."""

    input_ids: list[int]
    target: Any = None
    markers: tuple[int, int] | None = None
    context: Any = None


class TransformerModel(Model):
    name: ClassVar[str]  # the ModelDefinition name
    task: ClassVar[str]
    pooling: ClassVar[str]

    def __init__(self, config: Mapping[str, Any], labels: Mapping[str, str], device: str | None = "cpu"):
        self.config = TransformerConfig.from_mapping(config, self.default_config())
        self.labels = dict(labels)
        self.device = resolve_device(device)
        self.classes: list[str] = self._classes()
        self.tokenizer = None
        self.network: EncoderClassifier | None = None
        self._predictor: torch.nn.Module | None = None  # the network in the inference dtype

    @classmethod
    def default_config(cls) -> Mapping[str, Any]:
        return default_config(cls.name)

    # What each task defines ------------------------------------------------------------

    @abstractmethod
    def _classes(self) -> list[str]:
        """The output classes, from ``self.labels`` and the config."""

    def _prepare(self, data: Dataset) -> None:
        """Settle anything that depends on the training data before features are built."""

    def _adapt_tokenizer(self) -> None:
        """Add the task's special tokens, if any, to a freshly loaded tokenizer."""

    @abstractmethod
    def _training_features(self, example: Example) -> list[Feature]: ...

    @abstractmethod
    def _prediction_features(self, example: Example) -> list[Feature]: ...

    def _prediction_features_many(self, examples: Sequence[Example]) -> list[list[Feature]]:
        """Each example's features; a task whose tokenizer call can take all texts at once
        overrides this (one call over many texts is several times faster than one each)."""
        return [self._prediction_features(example) for example in examples]

    @abstractmethod
    def _targets(self, features: Sequence[Feature], width: int) -> torch.Tensor:
        """The batch's targets; ``width`` is the padded sequence length."""

    @abstractmethod
    def _loss(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor: ...

    def _probabilities(self, logits: torch.Tensor) -> torch.Tensor:
        return logits.float().softmax(-1)

    @abstractmethod
    def _decode(self, example: Example, features: Sequence[Feature],
                probabilities: Sequence[torch.Tensor]) -> DocumentPrediction:
        """One document's prediction from its features' class probabilities."""

    def _state(self) -> dict[str, Any]:
        """Task state that ``save`` must keep beyond the config and classes."""
        return {}

    def _restore(self, state: Mapping[str, Any]) -> None:
        """Take back what ``_state`` returned."""

    # Training ------------------------------------------------------------------------------

    def train(self, data: Dataset, progress: ProgressCallback) -> Mapping[str, float]:
        if data.task != self.task:
            raise ValueError(f"model {self.name} serves task {self.task!r}, the dataset is for {data.task!r}")
        torch.manual_seed(self.config.seed)
        checkpoint = checkpoint_directory(self.config.checkpoint)
        self.tokenizer = AutoTokenizer.from_pretrained(checkpoint, local_files_only=True, use_fast=True)
        if not self.tokenizer.is_fast:
            raise ValueError(f"config.checkpoint: {checkpoint} has no fast tokenizer (tokenizer.json), "
                             f"which the character offsets need")
        self._adapt_tokenizer()
        self._prepare(data)
        features = [f for example in data.labeled for f in self._training_features(example)]
        if not features:
            raise ValueError(f"model {self.name}: the dataset has no labeled {self.task} "
                             f"annotations to learn from")
        self.network = EncoderClassifier.from_checkpoint(checkpoint, len(self.classes), self.pooling)
        self._predictor = None
        if len(self.tokenizer) > self.network.encoder.get_input_embeddings().num_embeddings:
            self.network.encoder.resize_token_embeddings(len(self.tokenizer))
        self.network.to(self.device).train()
        loss = self._fit(features, progress)
        self.network.eval()
        return {"loss": loss, "documents": float(len(data.labeled)), "features": float(len(features)),
                "epochs": float(self.config.epochs)}

    def _fit(self, features: Sequence[Feature], progress: ProgressCallback) -> float:
        """Run the epochs; return the last epoch's mean loss."""
        size = self.config.batch_size
        total = math.ceil(len(features) / size) * self.config.epochs
        warmup = max(1, int(total * WARMUP_SHARE))
        optimizer = torch.optim.AdamW(self.network.parameters(), lr=self.config.learning_rate)
        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: min(
            (step + 1) / warmup, max(0.0, (total - step) / max(1, total - warmup))))
        order = list(range(len(features)))
        shuffler = random.Random(self.config.seed)
        step, epoch_loss = 0, 0.0
        for epoch in range(self.config.epochs):
            shuffler.shuffle(order)
            epoch_loss = 0.0
            for first in range(0, len(order), size):
                batch = [features[i] for i in order[first:first + size]]
                inputs = self._inputs(batch)
                targets = self._targets(batch, inputs["input_ids"].size(1)).to(self.device)
                loss = self._loss(self.network(**inputs), targets)
                optimizer.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(self.network.parameters(), MAX_GRAD_NORM)
                optimizer.step()
                schedule.step()
                step += 1
                epoch_loss += loss.item() * len(batch)
                progress(step / total, {"epoch": epoch + 1, "epochs": self.config.epochs,
                                        "step": step, "steps": total, "loss": loss.item()})
        return epoch_loss / len(features)

    def _inputs(self, batch: Sequence[Feature]) -> dict[str, torch.Tensor]:
        inputs = padded_inputs([f.input_ids for f in batch], self.tokenizer.pad_token_id or 0, self.device)
        if batch[0].markers is not None:
            inputs["markers"] = to_device(torch.tensor([f.markers for f in batch]), self.device)
        return inputs

    # Prediction ---------------------------------------------------------------------------

    def predict(self, examples: Sequence[Example]) -> list[DocumentPrediction]:
        if self.network is None:
            raise RuntimeError(f"model {self.name} is not trained: call train() or load() first")
        if self._predictor is None:
            self._predictor = predicting_copy(self.network, inference_dtype(self.config.inference_precision,
                                                                            self.device))
        chunks = [examples[first:first + TOKENIZED_CHUNK] for first in range(0, len(examples), TOKENIZED_CHUNK)]
        if len(chunks) <= 1:
            return self._predict_chunk(examples, self._prediction_features_many(examples))
        # The next chunk is tokenized (in Rust, without the interpreter lock) while this one runs.
        predictions: list[DocumentPrediction] = []
        with ThreadPoolExecutor(max_workers=1) as tokenizer_thread:
            pending = tokenizer_thread.submit(self._prediction_features_many, chunks[0])
            for number, chunk in enumerate(chunks):
                features = pending.result()
                if number + 1 < len(chunks):
                    pending = tokenizer_thread.submit(self._prediction_features_many, chunks[number + 1])
                predictions += self._predict_chunk(chunk, features)
        return predictions

    def _predict_chunk(self, examples: Sequence[Example], per_example: list[list[Feature]]) -> list[DocumentPrediction]:
        flat = [(i, j) for i, features in enumerate(per_example) for j in range(len(features))]
        batches = length_batches([len(per_example[i][j].input_ids) for i, j in flat],
                                 batch_token_budget(self.config.predict_batch_tokens, self.device,
                                                    next(self._predictor.parameters()).dtype),
                                 self.config.predict_batch_size)
        # Every batch is queued before any result is read back: reading waits for the device.
        on_device = []
        with torch.inference_mode():
            for batch in batches:
                features = [per_example[i][j] for i, j in (flat[k] for k in batch)]
                on_device.append(self._probabilities(self._predictor(**self._inputs(features))))
        outputs: list[list[torch.Tensor | None]] = [[None] * len(features) for features in per_example]
        for batch, probabilities in zip(batches, on_device):
            for k, row in zip(batch, probabilities.cpu()):
                i, j = flat[k]
                outputs[i][j] = row[:len(per_example[i][j].input_ids)] if self.pooling == TOKENS else row
        return [self._decode(example, features, rows)
                for example, features, rows in zip(examples, per_example, outputs)]

    # Saving -------------------------------------------------------------------------------

    def save(self, directory: Path) -> None:
        if self.network is None:
            raise RuntimeError(f"model {self.name} is not trained: there is nothing to save")
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.network.save(directory)
        self.tokenizer.save_pretrained(directory)
        saved = {"format": SAVE_FORMAT, "model": self.name, "task": self.task,
                 "config": self.config.as_dict(), "labels": self.labels, "classes": self.classes,
                 "state": self._state()}
        (directory / SAVED_MODEL_FILE).write_text(json.dumps(saved, indent=2), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path, device: str | None = "cpu") -> "TransformerModel":
        directory = Path(directory)
        saved = json.loads((directory / SAVED_MODEL_FILE).read_text(encoding="utf-8"))
        if saved.get("model") != cls.name or saved.get("format") != SAVE_FORMAT:
            raise ValueError(f"{directory / SAVED_MODEL_FILE}: holds model {saved.get('model')!r} "
                             f"(format {saved.get('format')!r}), expected {cls.name!r} "
                             f"(format {SAVE_FORMAT})")
        defaults = cls.default_config()
        model = cls({k: v for k, v in saved["config"].items() if k in defaults}, saved["labels"], device)
        model.classes = list(saved["classes"])
        model._restore(saved["state"])
        model.tokenizer = AutoTokenizer.from_pretrained(directory, local_files_only=True, use_fast=True)
        model.network = EncoderClassifier.load(directory, len(model.classes), cls.pooling)
        model._predictor = None
        model.network.to(model.device).eval()
        return model
