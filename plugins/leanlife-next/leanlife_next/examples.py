"""LeanLife examples as NExT instances (no torch): relation projects give one instance per
ordered pair of entity spans, the spans becoming placeholders typed by their label."""

from __future__ import annotations

from itertools import permutations

from leanlife_next.tokens import OBJ, SUBJ, Instance, instance_from_text
from leanlife_server.plugin_api import SPAN, AnnotationData, Example

MAX_PAIRS = 60  # ordered entity pairs considered per document


def entities(example: Example) -> dict[int, AnnotationData]:
    return {a.id: a for a in example.annotations if a.kind == SPAN and a.id is not None}


def relation_instance(example: Example, subject: AnnotationData, obj: AnnotationData) -> Instance:
    return instance_from_text(example.text, {SUBJ: (subject.start, subject.end, subject.label),
                                             OBJ: (obj.start, obj.end, obj.label)})


def candidate_pairs(example: Example) -> list[tuple[AnnotationData, AnnotationData]]:
    spans = sorted(entities(example).values(), key=lambda a: a.start)
    pairs = [(s, o) for s, o in permutations(spans, 2) if s.end <= o.start or o.end <= s.start]
    return pairs[:MAX_PAIRS]
