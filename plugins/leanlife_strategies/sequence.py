"""Sequence strategies for taggers: one row of tag probabilities per token."""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from leanlife_server.plugin_api import DocumentPrediction

EPSILON = 1e-12
# mnlp_min_length's shortest counted length, chosen on CoNLL-2003's dev set (docs/performance.md).
MNLP_MIN_TOKENS = 20


def _per_document(measure: Callable[[np.ndarray], float]):
    def score(predictions: Sequence[DocumentPrediction]) -> list[float]:
        # A document without tokens has nothing to learn from: it ranks last.
        return [float(measure(np.asarray(p.probabilities, dtype=float))) if len(p.probabilities) else 0.0
                for p in predictions]

    return score


def mnlp_at_least(min_tokens: int) -> Callable[[np.ndarray], float]:
    """MNLP (Shen et al. 2017): the sequence log-probability divided by its length, so long
    sentences are not preferred just for being long; negated so that higher = less sure.
    The length counts as at least ``min_tokens``: with 1 this is MNLP itself. MNLP alone
    ranks one-word lines (``REUTER``, a newspaper's name, a date) first, since a single
    uncertain token makes a high average; they teach the tagger little per label."""
    def measure(tokens: np.ndarray) -> float:
        return -float(np.sum(np.log(tokens.max(axis=1) + EPSILON))) / max(len(tokens), min_tokens)

    return measure


def _least_confidence(tokens: np.ndarray) -> float:
    return 1.0 - float(np.prod(tokens.max(axis=1)))


def _mean_token_entropy(tokens: np.ndarray) -> float:
    return float(np.mean(-np.sum(tokens * np.log(tokens + EPSILON), axis=1)))


def mnlp():
    return _per_document(mnlp_at_least(1))


def mnlp_min_length():
    return _per_document(mnlp_at_least(MNLP_MIN_TOKENS))


def least_confidence():
    return _per_document(_least_confidence)


def mean_token_entropy():
    return _per_document(_mean_token_entropy)
