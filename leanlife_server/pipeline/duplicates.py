"""Identical documents in the queue: one copy asks the question, the others wait.

Corpora repeat lines (CoNLL-2003's training set holds 1,350 repeats: ``Scorers :``,
division headers, bylines), and a model scores identical inputs alike, so without this
every copy of an uncertain line would sit together at the top of the queue. An annotator
would be asked the same line again and again, and once one copy is labeled the others
teach the model nothing. Used by the retraining job's queue scores and by
``bench/active.py``, so the simulation ranks as the server does.
"""

from __future__ import annotations

from typing import Hashable, Iterable, Sequence

from leanlife_server.plugin_api import Example


def duplicate_key(example: Example, input_kinds: Sequence[str] = ()) -> Hashable:
    """What makes two documents the same question: the text and, for tasks whose documents
    carry input annotations (RE's entity spans), those annotations: the same sentence with
    other entities asks something else."""
    return example.text, frozenset((a.kind, a.label, a.start, a.end)
                                   for a in example.annotations if a.kind in input_kinds)


def demote_duplicates(keys: Sequence[Hashable], scores: Sequence[float],
                      labeled: Iterable[Hashable] = ()) -> list[float]:
    """Scores where each key's first document (in the given order) keeps the best score of
    its copies, and the later copies and the copies of a ``labeled`` document rank below
    every other document, in their own order.

    Demoted documents stay in the queue (at its end) rather than leave it: an annotator who
    labels everything else still reaches them, and their scores stay finite numbers.
    """
    best: dict[Hashable, float] = {}
    for key, score in zip(keys, scores):
        best[key] = max(best.get(key, score), float(score))
    done = set(labeled)
    first: list[bool] = []
    for key in keys:
        first.append(key not in done)
        done.add(key)
    if all(first):
        return [float(s) for s in scores]
    kept = [best[key] for key, is_first in zip(keys, first) if is_first]
    # Shift the demoted below the lowest kept score, keeping their order among themselves.
    shift = max(map(float, scores)) - min(kept, default=min(map(float, scores))) + 1.0
    return [best[key] if is_first else float(score) - shift
            for key, score, is_first in zip(keys, scores, first)]
