"""Executing logical forms over many instances at once.

One executor serves strict and soft matching: a *matcher* scores where a phrase occurs
(exact: 0 or 1; soft: an embedding similarity in [0, 1]) and a *tolerance* scores how far a
count is beyond its limit (hard: 0 beyond; soft: decays). The logic is soft logic (AND =
max(sum - (k - 1), 0), OR = max, NOT = 1 - x, as in NExT), which on 0/1 values is Boolean logic.
"""

from __future__ import annotations

from typing import Callable, Mapping, Protocol, Sequence

import numpy as np

from leanlife_next.logic import (
    AFTER,
    BEFORE,
    START,
    And,
    Arg,
    Between,
    Capitalized,
    CountBetween,
    Edge,
    FillsBetween,
    Formula,
    HasType,
    Near,
    Not,
    Occurs,
    Or,
    Phrase,
    Sentence,
)
from leanlife_next.tokens import Instance

MAX_TOKENS = 256  # words beyond this are not searched (keeps a large project's arrays small)
MISSING = -1


class Corpus:
    """Instances as arrays: token ids ``[N, T]`` (-1 is padding), lengths, argument positions."""

    def __init__(self, instances: Sequence[Instance], vocab: dict[str, int] | None = None):
        self.instances = list(instances)
        self.vocab = vocab if vocab is not None else {}
        width = max([min(len(i.tokens), MAX_TOKENS) for i in self.instances] + [1])
        self.ids = np.full((len(self.instances), width), -1, dtype=np.int32)
        self.lengths = np.zeros(len(self.instances), dtype=np.int32)
        self.positions: dict[str, np.ndarray] = {}
        self.types: dict[str, np.ndarray] = {}
        self.capitalized: dict[str, np.ndarray] = {}
        for n, instance in enumerate(self.instances):
            words = instance.words[:width]
            self.lengths[n] = len(words)
            self.ids[n, :len(words)] = [self.vocab.setdefault(w, len(self.vocab)) for w in words]
            for role, argument in instance.arguments.items():
                if argument.index >= width:
                    continue
                self._role(role)
                self.positions[role][n] = argument.index
                self.types[role][n] = argument.type
                self.capitalized[role][n] = argument.surface[:1].isupper()

    def _role(self, role: str) -> None:
        if role not in self.positions:
            size = len(self.instances)
            self.positions[role] = np.full(size, MISSING, dtype=np.int32)
            self.types[role] = np.full(size, "", dtype=object)
            self.capitalized[role] = np.zeros(size, dtype=bool)

    def __len__(self) -> int:
        return len(self.instances)

    def position(self, arg: Arg) -> np.ndarray:
        return self.positions.get(arg.role, np.full(len(self), MISSING, dtype=np.int32))

    def phrase_ids(self, phrase: Phrase) -> np.ndarray:
        return np.array([self.vocab.get(w, -2) for w in phrase.words], dtype=np.int32)


class Matcher(Protocol):
    def __call__(self, phrase: Phrase, corpus: Corpus) -> np.ndarray:
        """``[N, T]`` scores in [0, 1] of ``phrase`` starting at each token."""


def exact_matcher(phrase: Phrase, corpus: Corpus) -> np.ndarray:
    size, width = corpus.ids.shape
    out = np.zeros((size, width), dtype=np.float32)
    starts = width - len(phrase.words) + 1
    if starts <= 0:
        return out
    hits = np.ones((size, starts), dtype=bool)
    for j, word_id in enumerate(corpus.phrase_ids(phrase)):
        hits &= corpus.ids[:, j:j + starts] == word_id
    out[:, :starts] = hits
    return out


Tolerance = Callable[[np.ndarray, int], np.ndarray]  # (excess over the limit, limit) -> [0, 1]


def hard_tolerance(excess: np.ndarray, limit: int) -> np.ndarray:
    return (excess <= 0).astype(np.float32)


def soft_tolerance(excess: np.ndarray, limit: int) -> np.ndarray:
    """Soft counting: 1 within the limit, then a linear decay over the next ``limit + 1`` words."""
    return np.clip(1.0 - np.maximum(excess, 0) / (limit + 1.0), 0.0, 1.0).astype(np.float32)


class Executor:
    def __init__(self, matcher: Matcher = exact_matcher, tolerance: Tolerance = hard_tolerance):
        self.matcher = matcher
        self.tolerance = tolerance

    def __call__(self, formula: Formula, corpus: Corpus) -> np.ndarray:
        """Scores in [0, 1], one per instance."""
        if isinstance(formula, And):
            parts = [self(p, corpus) for p in formula.parts]
            return np.maximum(np.sum(parts, axis=0) - (len(parts) - 1), 0.0)
        if isinstance(formula, Or):
            return np.max([self(p, corpus) for p in formula.parts], axis=0)
        if isinstance(formula, Not):
            return 1.0 - self(formula.part, corpus)
        if isinstance(formula, Occurs):
            if isinstance(formula.thing, Arg):
                return self._argument_near(formula.thing, formula.region, corpus)
            scores = self.phrase_scores(formula.thing, formula.region, corpus)
            return scores.max(axis=1) if scores.shape[1] else np.zeros(len(corpus), np.float32)
        if isinstance(formula, FillsBetween):
            return self._fills(formula, corpus)
        if isinstance(formula, CountBetween):
            return self._count(formula, corpus)
        if isinstance(formula, HasType):
            known = corpus.position(formula.arg) != MISSING
            types = corpus.types.get(formula.arg.role, np.full(len(corpus), "", dtype=object))
            return (known & (types == formula.type)).astype(np.float32)
        if isinstance(formula, Capitalized):
            caps = corpus.capitalized.get(formula.arg.role, np.zeros(len(corpus), dtype=bool))
            return caps.astype(np.float32)
        raise TypeError(f"cannot execute {type(formula).__name__}")

    def _gap_score(self, gap: np.ndarray, ok: np.ndarray, limit: int | None) -> np.ndarray:
        if limit is None:
            return ok.astype(np.float32)
        return ok * self.tolerance(gap - limit, limit)

    def _near(self, side: str, start: np.ndarray, end: np.ndarray, anchor: np.ndarray,
              limit: int | None) -> np.ndarray:
        """Score of a thing spanning [start, end) being on ``side`` of the anchor token."""
        before = self._gap_score(anchor - end, end <= anchor, limit)
        after = self._gap_score(start - anchor - 1, start > anchor, limit)
        if side == BEFORE:
            score = before
        elif side == AFTER:
            score = after
        else:
            score = np.maximum(before, after)
        return score * (anchor != MISSING)

    def phrase_scores(self, phrase: Phrase, region, corpus: Corpus) -> np.ndarray:
        """``[N, T]`` score of ``phrase`` starting at each token and lying in ``region``."""
        scores = self.matcher(phrase, corpus)
        width = scores.shape[1]
        start = np.arange(width)[None, :]
        end = start + len(phrase.words)
        factor = (end <= corpus.lengths[:, None]).astype(np.float32)
        if isinstance(region, Edge):
            factor *= (start == 0) if region.side == START else (end == corpus.lengths[:, None])
        elif isinstance(region, Between):
            low, high = self.between(region, corpus)
            factor *= (start >= low[:, None]) & (end <= high[:, None])
        elif isinstance(region, Near):
            anchor = corpus.position(region.anchor)[:, None]
            factor *= self._near(region.side, start, end, anchor, region.max_gap)
        elif not isinstance(region, Sentence):
            raise TypeError(f"cannot execute region {type(region).__name__}")
        return scores * factor

    def _argument_near(self, arg: Arg, region, corpus: Corpus) -> np.ndarray:
        if not isinstance(region, Near):
            raise TypeError("an argument can only be placed before, after or near another")
        position = corpus.position(arg)
        score = self._near(region.side, position, position + 1, corpus.position(region.anchor),
                           region.max_gap)
        return score * (position != MISSING)

    @staticmethod
    def between(region: Between, corpus: Corpus) -> tuple[np.ndarray, np.ndarray]:
        """[low, high) token range strictly between the two arguments; empty when one is missing."""
        a, b = corpus.position(region.first), corpus.position(region.second)
        known = (a != MISSING) & (b != MISSING)
        low = np.where(known, np.minimum(a, b) + 1, 1)
        high = np.where(known, np.maximum(a, b), 0)
        return low, high

    def _fills(self, formula: FillsBetween, corpus: Corpus) -> np.ndarray:
        low, high = self.between(formula.region, corpus)
        scores = self.matcher(formula.phrase, corpus)
        rows = np.arange(len(corpus))
        at_low = scores[rows, np.clip(low, 0, scores.shape[1] - 1)]
        size = len(formula.phrase.words)
        return at_low * self.tolerance(np.abs((high - low) - size), size) * (high > low)

    def _count(self, formula: CountBetween, corpus: Corpus) -> np.ndarray:
        low, high = self.between(formula.region, corpus)
        count = high - low
        known = high >= low
        if formula.op == "<=":
            excess = count - formula.n
        elif formula.op == ">=":
            excess = formula.n - count
        else:
            excess = np.abs(count - formula.n)
        return self.tolerance(excess, formula.n) * known


def holds(formula: Formula, instance: Instance) -> bool:
    """Whether ``formula`` strictly holds on one instance."""
    return bool(Executor()(formula, Corpus([instance]))[0] > 0.5)


def strict_scores(formulas: Mapping[str, Formula], corpus: Corpus) -> dict[str, np.ndarray]:
    execute = Executor()
    return {key: execute(f, corpus) for key, f in formulas.items()}
