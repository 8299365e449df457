"""A frozen sentence encoder: the checkpoint's token states, mean-pooled over the real tokens
and scaled to unit length (what the all-MiniLM-L6-v2 sentence-transformers pipeline does).

One encoder per (checkpoint, max_length, device) and process, and it remembers the vector
of every text it has encoded: the retraining worker and the active-learning bench build a
new model for every round over mostly the same documents, and re-encoding them would cost
far more than fitting the head.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
from transformers import AutoModel, AutoTokenizer

from leanlife_transformer.config import AUTO_PRECISION
from leanlife_transformer.inference import batch_token_budget, inference_dtype, length_batches, padded_inputs
from leanlife_transformer.network import mean_pool, resolve_device

MAX_CACHED_TEXTS = 100_000  # 384 floats each: about 150 MB at most; the oldest go first


class SentenceEncoder:
    def __init__(self, directory: Path, max_length: int, device: str | None = "cpu",
                 precision: str = AUTO_PRECISION):
        self.device = resolve_device(device)
        self.max_length = max_length
        self.tokenizer = AutoTokenizer.from_pretrained(directory, local_files_only=True, use_fast=True)
        # Frozen: the encoder only ever predicts, so it is kept in the inference dtype alone.
        self.encoder = AutoModel.from_pretrained(directory, local_files_only=True, use_safetensors=True).to(
            self.device, inference_dtype(precision, self.device)).eval()
        self.dimension: int = self.encoder.config.hidden_size
        self._vectors: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()  # the worker may encode from several threads

    def encode(self, texts: Sequence[str], max_sequences: int = 1024, max_tokens: int | None = None,
               progress: Callable[[int, int], None] | None = None) -> np.ndarray:
        """One unit-length float32 row per text; texts seen before come from the cache.
        Batches hold texts of similar length, up to ``max_tokens`` padded tokens (None: by
        device) and ``max_sequences`` texts. ``progress(encoded, to_encode)`` follows the new
        texts only."""
        with self._lock:
            # In text order first: batches (and so the float rounding of each vector) must not
            # depend on set order, which changes with every process's hash seed.
            missing = sorted({t for t in texts if t not in self._vectors})
            ids = self.tokenizer(missing, truncation=True, max_length=self.max_length)["input_ids"] if missing else []
            budget = batch_token_budget(max_tokens, self.device, next(self.encoder.parameters()).dtype)
            batches = length_batches([len(i) for i in ids], budget, max_sequences)
            done = 0
            for batch in batches:
                vectors = self._encode_batch([ids[k] for k in batch])
                self._vectors.update(zip((missing[k] for k in batch), vectors))
                done += len(batch)
                if progress is not None:
                    progress(done, len(missing))
            rows = np.stack([self._vectors[t] for t in texts]) if texts else np.zeros((0, self.dimension),
                                                                                      np.float32)
            if len(self._vectors) > MAX_CACHED_TEXTS:  # dicts keep insertion order: oldest first
                for text in list(self._vectors)[:len(self._vectors) - MAX_CACHED_TEXTS]:
                    del self._vectors[text]
        return rows

    def _encode_batch(self, ids: list[list[int]]) -> np.ndarray:
        inputs = padded_inputs(ids, self.tokenizer.pad_token_id or 0, self.device)
        with torch.inference_mode():
            hidden = self.encoder(**inputs).last_hidden_state
            pooled = torch.nn.functional.normalize(mean_pool(hidden, inputs["attention_mask"]), dim=-1)
        return pooled.cpu().numpy()


@lru_cache(maxsize=4)
def shared_encoder(directory: Path, max_length: int, device: str | None = "cpu",
                   precision: str = AUTO_PRECISION) -> SentenceEncoder:
    """The process's encoder for these settings (loaded once, its cache kept)."""
    return SentenceEncoder(directory, max_length, device, precision)
