"""Which words of an instance make a rule hold: a prediction's evidence points at its text.

A rule holds on an instance through the phrases of its atoms that occur where the rule asks
(``"caused by"`` between SUBJ and OBJ). Those occurrences, as token ranges, are what a
recommendation cites. Negated atoms, argument positions, types and word counts hold
without any word of the text being the reason, so they cite nothing.
"""

from __future__ import annotations

import numpy as np

from leanlife_next.execute import Corpus, Executor
from leanlife_next.logic import And, FillsBetween, Formula, Occurs, Or, Phrase

THRESHOLD = 0.5  # a score above this holds (as in NextModel.fired)


def _ranges(formula: Formula, corpus: Corpus, execute: Executor) -> list[set[tuple[int, int]]]:
    if isinstance(formula, (And, Or)):
        out: list[set[tuple[int, int]]] = [set() for _ in range(len(corpus))]
        for part in formula.parts:  # of an OR, only the parts that hold are the reason
            holds = execute(part, corpus) > THRESHOLD
            for n, found in enumerate(_ranges(part, corpus, execute)):
                if holds[n]:
                    out[n] |= found
        return out
    if isinstance(formula, Occurs) and isinstance(formula.thing, Phrase):
        length = len(formula.thing.words)
        scores = execute.phrase_scores(formula.thing, formula.region, corpus)
        return [{(int(t), int(t) + length) for t in np.flatnonzero(row > THRESHOLD)} for row in scores]
    if isinstance(formula, FillsBetween):
        holds = execute(formula, corpus) > THRESHOLD
        low, _ = execute.between(formula.region, corpus)
        length = len(formula.phrase.words)
        return [{(int(low[n]), int(low[n]) + length)} if holds[n] else set() for n in range(len(corpus))]
    return [set() for _ in range(len(corpus))]


def witnesses(formula: Formula, corpus: Corpus, execute: Executor | None = None) -> list[list[tuple[int, int]]]:
    """Per instance, the token ranges ``[start, end)`` of the phrases through which ``formula``
    holds there, in text order; empty where it does not hold."""
    execute = execute or Executor()
    holds = execute(formula, corpus) > THRESHOLD
    return [sorted(found) if holds[n] else [] for n, found in enumerate(_ranges(formula, corpus, execute))]
