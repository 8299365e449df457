"""Parsed explanations as labeling functions: each votes for its label where it holds.

Votes are resolved per instance by the highest-scoring label; an instance on which two
labels score equally (a conflict with no winner) gets no label. Coverage and conflicts are
reported as in data-programming tools.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from leanlife_next.execute import Corpus, Executor, exact_matcher
from leanlife_next.logic import Formula, Phrase, phrases
from leanlife_next.tokens import Instance


@dataclass(frozen=True)
class LabelingRule:
    text: str  # the explanation as written
    label: str
    formula: Formula
    # The sentence the explanation was given for (where its phrases are found in context);
    # None for rules loaded from a saved model.
    source: Instance | None = field(default=None, compare=False, repr=False)


@dataclass
class Votes:
    labels: np.ndarray  # class index per instance, -1 where no rule fired or a tie
    scores: np.ndarray  # the winning score per instance
    coverage: float  # share of instances on which at least one rule fired
    conflicts: int  # instances on which rules for different labels fired

    def report(self) -> dict[str, float]:
        return {"coverage": self.coverage, "conflicts": self.conflicts,
                "labeled": int((self.labels >= 0).sum())}


def phrase_occurrences(rules: Sequence[LabelingRule], vocab: dict[str, int] | None = None
                       ) -> tuple[Corpus, list[tuple[Phrase, int, int]]]:
    """The rules' own sentences as a corpus (one row per rule that has a ``source``, in order),
    and ``(phrase, row, start)`` for the first occurrence of each rule phrase in its sentence."""
    sourced = [r for r in rules if r.source is not None]
    corpus = Corpus([r.source for r in sourced], vocab)
    found = []
    for row, rule in enumerate(sourced):
        for phrase in phrases(rule.formula):
            hits = np.flatnonzero(exact_matcher(phrase, corpus)[row])
            if len(hits):
                found.append((phrase, row, int(hits[0])))
    return corpus, found


def rule_scores(rules: Sequence[LabelingRule], corpus: Corpus,
                executor: Executor | None = None) -> np.ndarray:
    """``[R, N]`` score of each rule on each instance."""
    execute = executor or Executor()
    if not rules:
        return np.zeros((0, len(corpus)), dtype=np.float32)
    return np.stack([execute(rule.formula, corpus) for rule in rules]).astype(np.float32)


def vote(rules: Sequence[LabelingRule], scores: np.ndarray, classes: Sequence[str],
         threshold: float = 0.5) -> Votes:
    size = scores.shape[1]
    per_class = np.zeros((len(classes), size), dtype=np.float32)
    index = {name: i for i, name in enumerate(classes)}
    for rule, row in zip(rules, scores):
        if rule.label in index:
            k = index[rule.label]
            per_class[k] = np.maximum(per_class[k], row)
    fired = per_class >= threshold
    best = per_class.max(axis=0) if len(classes) else np.zeros(size, np.float32)
    winners = (per_class == best[None, :]) & fired
    labels = np.where(winners.sum(axis=0) == 1, winners.argmax(axis=0), -1)
    return Votes(labels=labels, scores=np.where(labels >= 0, best, 0.0),
                 coverage=float(fired.any(axis=0).mean()) if size else 0.0,
                 conflicts=int((fired.sum(axis=0) > 1).sum()))
