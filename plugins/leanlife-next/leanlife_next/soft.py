"""Soft matching (torch): how well a rule's phrase matches each window of a sentence.

Two matchers (config ``soft_matcher``): ``glove`` (the default, the paper's) is learned, below;
``contextual`` is frozen MiniLM (:mod:`leanlife_next.contextual`).

A phrase and every window of the sentence with as many words are pooled the same way
(attention-weighted mean of projected GloVe vectors) and compared by cosine similarity,
clipped at 0. It is trained with the two NExT matching losses: ``find`` (in an explained
sentence, the phrase's true position should score highest) and ``sim`` (different phrases
should not look alike).

For soft labeling, :class:`SoftPhraseScorer` blends in character-trigram similarity (plurals,
misspellings) and calibrates each phrase's scores against that phrase's own scores over all
windows of the corpus, so that only windows that match unusually well score above 0 (raw
cosines of short function-word phrases are high almost everywhere; see docs/next.md).
"""

from __future__ import annotations

from typing import Any, Mapping, Protocol, Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from leanlife_next.execute import Corpus
from leanlife_next.labeling import LabelingRule
from leanlife_next.logic import Phrase
from leanlife_next.trigrams import TrigramMatcher

GLOVE, CONTEXTUAL = "glove", "contextual"


class PhraseMatcher(Protocol):
    """What soft labeling needs of a matcher (an ``nn.Module``, so training can move and train it)."""

    learned: bool  # whether training's matching losses (find, sim) apply to it

    def raw_scores(self, phrases: Sequence[Phrase], corpus: Corpus) -> dict[Phrase, np.ndarray]:
        """``[N, T]`` similarity in [0, 1] of each phrase to the window starting at each token."""


def valid_windows(corpus: Corpus, length: int) -> np.ndarray:
    """``[N, T]``: True where a window of ``length`` words fits in the sentence."""
    return np.arange(corpus.ids.shape[1])[None, :] + length <= corpus.lengths[:, None]


def running_sums(vectors: torch.Tensor, weights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Running sums of weighted vectors ``[N, T, D]`` and of weights ``[N, T]``, each with a
    leading 0, from which any window's weighted mean is two subtractions."""
    weighted = torch.cat([torch.zeros_like(vectors[:, :1]), (weights[..., None] * vectors).cumsum(1)], 1)
    total = torch.cat([torch.zeros_like(weights[:, :1]), weights.cumsum(1)], 1)
    return weighted, total


def by_length(phrases: Sequence[Phrase]) -> dict[int, list[Phrase]]:
    # Sorted: chunking changes float rounding, and a set's order changes per process.
    groups: dict[int, list[Phrase]] = {}
    for phrase in sorted(phrases, key=lambda p: p.words):
        groups.setdefault(len(phrase.words), []).append(phrase)
    return groups


class SoftMatcher(nn.Module):
    learned = True

    def __init__(self, vectors: np.ndarray):
        super().__init__()
        dim = vectors.shape[1]
        self.embed = nn.Embedding.from_pretrained(torch.tensor(vectors), freeze=True, padding_idx=0)
        self.project = nn.Linear(dim, dim)
        nn.init.eye_(self.project.weight)
        nn.init.zeros_(self.project.bias)
        self.attend = nn.Linear(dim, 1)

    def _words(self, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Projected vectors and positive pooling weights (0 on padding)."""
        safe = ids.clamp(min=0)
        vectors = self.project(self.embed(safe))
        weights = torch.exp(self.attend(vectors).squeeze(-1).clamp(-5, 5)) * (ids >= 0)
        return vectors, weights

    def phrase_vectors(self, phrase_ids: list[torch.Tensor]) -> torch.Tensor:
        out = []
        for ids in phrase_ids:
            vectors, weights = self._words(ids)
            out.append((weights[:, None] * vectors).sum(0) / weights.sum().clamp(min=1e-6))
        return F.normalize(torch.stack(out), dim=-1)

    def prefix_sums(self, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Running sums of weighted vectors and of weights, from which any window is pooled."""
        return running_sums(*self._words(ids))

    @staticmethod
    def windows(sums: tuple[torch.Tensor, torch.Tensor], length: int) -> torch.Tensor:
        """``[N, T, D]``: pooled windows of ``length`` words starting at each token."""
        weighted, total = sums
        width = total.shape[1] - 1
        ends = torch.clamp(torch.arange(width) + length, max=width)
        summed = weighted[:, ends] - weighted[:, :width]
        mass = total[:, ends] - total[:, :width]
        return F.normalize(summed / mass.clamp(min=1e-6)[..., None], dim=-1)

    def window_vectors(self, ids: torch.Tensor, length: int) -> torch.Tensor:
        return self.windows(self.prefix_sums(ids), length)

    def scores(self, phrases: list[Phrase], corpus: Corpus, windows: torch.Tensor) -> torch.Tensor:
        """``[P, N, T]`` similarity of each phrase (all of ``windows``' length) at each position."""
        targets = self.phrase_vectors([torch.as_tensor(corpus.phrase_ids(p), dtype=torch.long)
                                       for p in phrases])
        return torch.einsum("ntd,pd->pnt", windows, targets).clamp(min=0)

    def raw_scores(self, phrases: Sequence[Phrase], corpus: Corpus) -> dict[Phrase, np.ndarray]:
        out = {}
        with torch.no_grad():
            # The sentence side is pooled once per phrase length, not once per phrase.
            sums = self.prefix_sums(torch.as_tensor(corpus.ids, dtype=torch.long))
            for length, group in by_length(phrases).items():
                windows = self.windows(sums, length)
                for start in range(0, len(group), 16):  # bounds memory: [16, N, T] at a time
                    chunk = group[start:start + 16]
                    out.update(zip(chunk, self.scores(chunk, corpus, windows).numpy()))
        return out

    def find_loss(self, phrase: Phrase, corpus: Corpus, rows: np.ndarray, starts: np.ndarray,
                  temperature: float = 0.1) -> torch.Tensor:
        """Cross-entropy of the true start position among all positions of each sentence."""
        sub = corpus.ids[rows]
        ids = torch.as_tensor(sub, dtype=torch.long)
        windows = self.window_vectors(ids, len(phrase.words))
        target = self.phrase_vectors([torch.as_tensor(corpus.phrase_ids(phrase), dtype=torch.long)])[0]
        logits = torch.einsum("ntd,d->nt", windows, target) / temperature
        width = sub.shape[1]
        valid = torch.as_tensor(np.arange(width)[None, :] + len(phrase.words)
                                <= corpus.lengths[rows][:, None])
        logits = logits.masked_fill(~valid, -1e4)
        return F.cross_entropy(logits, torch.as_tensor(starts, dtype=torch.long))

    def sim_loss(self, phrases: list[Phrase], corpus: Corpus, margin: float = 0.5) -> torch.Tensor:
        if len(phrases) < 2:
            return torch.zeros(())
        vectors = self.phrase_vectors([torch.as_tensor(corpus.phrase_ids(p), dtype=torch.long)
                                       for p in phrases])
        similarity = vectors @ vectors.T
        off_diagonal = ~torch.eye(len(phrases), dtype=torch.bool)
        return F.relu(similarity[off_diagonal] - margin).mean()


def calibrate(scores: np.ndarray, valid: np.ndarray, quantile: float) -> np.ndarray:
    """Scores relative to the phrase's own null distribution: 0 up to the ``quantile`` of its
    scores over all windows of the corpus, rising linearly to 1 at a perfect match. Without it,
    a short phrase of function words scores high almost anywhere."""
    windows = scores[valid]
    if not 0 < quantile < 1 or windows.size == 0:
        return scores
    floor = min(float(np.quantile(windows, quantile)), 1 - 1e-3)
    return np.clip((scores - floor) / (1 - floor), 0.0, 1.0).astype(np.float32)


class SoftPhraseScorer:
    """The executor's matcher backed by a :class:`PhraseMatcher`: scores cached per phrase for
    one corpus (one pass of soft labeling), computed without gradients.

    ``trigrams`` (a :class:`TrigramMatcher` for the same corpus) is blended in with weight
    ``trigram_weight``; the blend is then calibrated per phrase at ``quantile`` (0: not at all).
    """

    def __init__(self, matcher: PhraseMatcher, corpus: Corpus, phrases: set[Phrase],
                 quantile: float = 0.0, trigrams: TrigramMatcher | None = None,
                 trigram_weight: float = 0.0):
        self.corpus = corpus
        self.cache: dict[Phrase, np.ndarray] = {}
        valid: dict[int, np.ndarray] = {}  # by phrase length
        for phrase, scores in matcher.raw_scores(sorted(phrases, key=lambda p: p.words), corpus).items():
            if trigrams is not None and trigram_weight > 0:
                scores = (1 - trigram_weight) * scores + trigram_weight * trigrams(phrase, corpus)
            length = len(phrase.words)
            if length not in valid:
                valid[length] = valid_windows(corpus, length)
            self.cache[phrase] = calibrate(scores, valid[length], quantile)

    def __call__(self, phrase: Phrase, corpus: Corpus) -> np.ndarray:
        if corpus is not self.corpus:
            raise ValueError("this scorer was built for another corpus")
        return self.cache[phrase]


def build_matcher(config: Mapping[str, Any], vectors: np.ndarray,
                  rules: Sequence[LabelingRule]) -> PhraseMatcher:
    """The soft matcher that config ``soft_matcher`` names (``glove`` when unset)."""
    kind = config.get("soft_matcher") or GLOVE
    if kind == GLOVE:
        return SoftMatcher(vectors)
    if kind == CONTEXTUAL:
        from leanlife_next.contextual import ContextualMatcher

        return ContextualMatcher(rules)
    raise ValueError(f"config.soft_matcher: unknown matcher {kind!r}; use {GLOVE!r} or {CONTEXTUAL!r}")
