"""The network all three models share: a pretrained encoder and one linear head, pooled per
task (mean over tokens, every token, or the two entity-start markers)."""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn
from transformers import AutoModel

logger = logging.getLogger(__name__)

MEAN, TOKENS, MARKERS = "mean", "tokens", "markers"
HEAD_FILE = "head.safetensors"


def resolve_device(name: str | None) -> torch.device:
    """``cpu``, ``cuda`` or ``cuda:N``; None picks the best there is. A CUDA device that this
    machine lacks falls back to the CPU, so a job naming a GPU still runs on a CPU worker."""
    if name is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise ValueError(f"device: {name!r} is not a device name (cpu, cuda, cuda:N)") from exc
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"device: {name!r} is not supported; use cpu, cuda or cuda:N")
    if device.type == "cuda" and (not torch.cuda.is_available()
                                  or (device.index or 0) >= torch.cuda.device_count()):
        logger.warning("device %s is not available here; using the CPU", name)
        return torch.device("cpu")
    return device


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """The mean of the token states over the real (unpadded) tokens: one vector a sequence,
    summed in float32 whatever the encoder's dtype (bfloat16 sums lose digits)."""
    mask = attention_mask.unsqueeze(-1).float()
    return (hidden.float() * mask).sum(1) / mask.sum(1).clamp(min=1)


class EncoderClassifier(nn.Module):
    def __init__(self, encoder: nn.Module, num_classes: int, pooling: str):
        super().__init__()
        if pooling not in (MEAN, TOKENS, MARKERS):
            raise ValueError(f"pooling: unknown {pooling!r}")
        self.encoder = encoder
        self.pooling = pooling
        hidden = encoder.config.hidden_size
        self.dropout = nn.Dropout(getattr(encoder.config, "hidden_dropout_prob", 0.1))
        self.head = nn.Linear(2 * hidden if pooling == MARKERS else hidden, num_classes)

    @classmethod
    def from_checkpoint(cls, directory: Path, num_classes: int, pooling: str) -> "EncoderClassifier":
        """A pretrained encoder with a new, randomly initialised head."""
        return cls(AutoModel.from_pretrained(directory, local_files_only=True, use_safetensors=True), num_classes, pooling)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                markers: torch.Tensor | None = None) -> torch.Tensor:
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        if self.pooling == TOKENS:
            pooled = hidden
        elif self.pooling == MEAN:
            pooled = mean_pool(hidden, attention_mask)
        else:
            rows = torch.arange(hidden.size(0), device=hidden.device)
            pooled = torch.cat([hidden[rows, markers[:, 0]], hidden[rows, markers[:, 1]]], dim=-1)
        return self.head(self.dropout(pooled.to(self.head.weight.dtype)))

    def save(self, directory: Path) -> None:
        self.encoder.save_pretrained(directory)
        save_file({k: v.contiguous() for k, v in self.head.state_dict().items()}, directory / HEAD_FILE)

    @classmethod
    def load(cls, directory: Path, num_classes: int, pooling: str) -> "EncoderClassifier":
        network = cls.from_checkpoint(directory, num_classes, pooling)
        network.head.load_state_dict(load_file(directory / HEAD_FILE))
        return network
